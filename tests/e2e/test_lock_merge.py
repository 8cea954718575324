"""Lockfile merges with real git: branches that add different assets merge through render's merge driver."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from renderer.store.lockfile import read_lock
from tests.helpers import RENDER, render

BASE = """version: 1
assets:
  a: {type: image, prompt: first, width: 32}
  z: {type: image, prompt: last, width: 32}
"""


def git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.test",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.test",
        "PATH": f"{Path(RENDER).parent}{os.pathsep}{os.environ['PATH']}",
    }
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=False)


def branch_adding(root: Path, cache: Path, branch: str, asset: str) -> None:
    assert git(root, "checkout", "-q", "-b", branch, "main").returncode == 0
    spec = root / "p.yaml"
    spec.write_text(BASE.replace("  z:", f"  {asset}: {{type: image, prompt: {asset} prompt, width: 32}}\n  z:"))
    assert render(spec, "-q", cwd=root, cache=cache).returncode == 0
    assert git(root, "commit", "-qam", f"add {asset}").returncode == 0


def project(tmp_path: Path, cache: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "p.yaml").write_text(BASE)
    (root / ".gitignore").write_text("out/\n.render/\n")
    assert render(root / "p.yaml", "-q", cwd=root, cache=cache).returncode == 0
    git(root, "add", ".")
    assert git(root, "commit", "-qm", "base").returncode == 0
    branch_adding(root, cache, "one", "b")
    branch_adding(root, cache, "two", "c")
    return root


def test_without_the_driver_two_added_assets_conflict(tmp_path: Path, cache: Path) -> None:
    root = project(tmp_path, cache)
    git(root, "checkout", "-q", "one")
    assert git(root, "merge", "-q", "two").returncode != 0
    assert "p.lock" in git(root, "diff", "--name-only", "--diff-filter=U").stdout


def test_the_merge_driver_merges_lockfiles_that_add_different_assets(tmp_path: Path, cache: Path) -> None:
    root = project(tmp_path, cache)
    git(root, "config", "merge.render-lock.driver", "render merge-lock %O %A %B")
    (root / ".gitattributes").write_text("*.lock merge=render-lock\n")
    git(root, "checkout", "-q", "one")
    merged = git(root, "merge", "-q", "two", "--no-commit")
    conflicted = git(root, "diff", "--name-only", "--diff-filter=U").stdout.split()
    assert conflicted == ["p.yaml"], merged.stdout + merged.stderr  # the spec is yours to merge; the lock is not
    entries = read_lock(root / "p.lock")
    assert sorted(entries) == ["a", "b", "c", "z"]
    both = BASE.replace(
        "  z:", "  b: {type: image, prompt: b prompt, width: 32}\n  c: {type: image, prompt: c prompt, width: 32}\n  z:"
    )
    (root / "p.yaml").write_text(both)
    check = render(root / "p.yaml", "--check", cwd=root, cache=cache)
    assert check.returncode == 0, check.stdout + check.stderr  # nothing to make: every entry fits the spec
