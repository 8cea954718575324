"""Shared test helpers: write projects, run the real `render` command, read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import yaml

RENDER = str(Path(sys.executable).parent / "render")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def render(
    *args: str | Path, cwd: Path, cache: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the installed `render` command as a user would."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    environ["RENDER_CACHE_DIR"] = str(cache)
    environ.update(env or {})
    return subprocess.run(
        [RENDER, *map(str, args)], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout, check=False
    )


def render_json(
    *args: str | Path, cwd: Path, cache: Path, env: dict[str, str] | None = None
) -> tuple[int, dict[str, Any]]:
    result = render(*args, "--json", cwd=cwd, cache=cache, env=env)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def read_lock(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def read_manifest(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "manifest.json").read_text())


def tree_snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


SMALL_PROJECT = """
version: 1
name: small
vars: {style: dusk}
assets:
  still:
    type: image
    prompt: "a quiet harbour at ${vars.style}"
    width: 64
    aspect_ratio: "16:9"
    seed: 1
  motion:
    type: video
    prompt: "boats rocking"
    duration: 1
    fps: 12
    width: 64
    inputs: [still]
  tune:
    type: music
    prompt: "calm piano, 80bpm"
    duration: 1
  cut:
    type: compose
    clips: [motion, {asset: motion, from: 0.25, to: 0.75}]
    audio: tune
"""
