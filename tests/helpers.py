"""Shared test helpers: write projects, run the real `render` command, read what it wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    import numpy as np

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
    *args: str | Path, cwd: Path, cache: Path, env: dict[str, str] | None = None, timeout: float = 120
) -> tuple[int, dict[str, Any]]:
    result = render(*args, "--json", cwd=cwd, cache=cache, env=env, timeout=timeout)
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


def decode_audio(path: Path, rate: int = 44100) -> np.ndarray:
    """Stereo float samples of any media file's audio, decoded by the same ffmpeg render uses."""
    import numpy as np

    from renderer.media.ffmpeg import ffmpeg_exe

    raw = subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-i", str(path), "-f", "s16le", "-ac", "2", "-ar", str(rate), "-"],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, "<i2").reshape(-1, 2).astype(float) / 32768


def frame_at(path: Path, seconds: float) -> np.ndarray:
    """One video frame as an RGB array."""
    import numpy as np

    from renderer.media.ffmpeg import ffmpeg_exe
    from renderer.media.probe import probe

    info = probe(path)
    raw = subprocess.run(
        [
            ffmpeg_exe(),
            "-loglevel",
            "error",
            "-ss",
            str(seconds),
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(info["height"], info["width"], 3).astype(float)


KEYS = {"VARG_API_KEY": "varg_sandbox_secret_1", "VREX_API_KEY": "sk-sandbox-secret-2"}
LONG_CAPTION = (
    "A warm, slow orchestral theme with strings and soft piano, rising gently towards a hopeful major-key ending."
)


def remote_spec(path: Path, url: str, assets: str, providers: str = "") -> Path:
    """A project whose varg (v1), varg2 (v2) and vrex blocks point at a sandbox, polling quickly."""
    text = f"""version: 1
providers:
  varg: {{base_url: "{url}/v1", poll_interval: 0.1, max_poll_interval: 0.3, max_retries: 4}}
  varg2: {{use: varg, api: v2, base_url: "{url}/v2", poll_interval: 0.1, max_poll_interval: 0.3, max_retries: 4}}
  vrex: {{base_url: "{url}/api/v1", poll_interval: 0.1, max_poll_interval: 0.3, max_retries: 4, rate_limit: {{requests: 600, seconds: 60}}}}
{textwrap.indent(textwrap.dedent(providers).strip(), "  ") if providers.strip() else ""}
defaults: {{provider: varg}}
assets:
{textwrap.indent(textwrap.dedent(assets).strip(), "  ")}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def requests_of(server: Any, kind: str | None = None, api: str | None = None) -> list[dict[str, Any]]:
    with server.sandbox.lock:
        log = list(server.sandbox.log)
    return [e for e in log if (kind is None or e["kind"] == kind) and (api is None or e["api"] == api)]
