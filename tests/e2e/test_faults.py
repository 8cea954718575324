"""Crashes, damaged caches and concurrent renders: what is on disk stays whole, and nothing finished is lost."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import stat
import subprocess
import time
from pathlib import Path

from renderer.store.lockfile import read_lock
from tests.helpers import RENDER, render, render_json, write
from tests.helpers import read_lock as read_lock_yaml

PROJECT = """
version: 1
assets:
  a: {type: image, prompt: harbour at dawn, width: 160}
  b: {type: image, prompt: forest at night, width: 160}
  c: {type: music, prompt: calm piano 80bpm, duration: 3}
  va: {type: video, prompt: boats, duration: 2, fps: 12, width: 160, inputs: [a]}
  vb: {type: video, prompt: trees, duration: 2, fps: 12, width: 160, inputs: [b]}
  cut: {type: compose, clips: [va, vb], audio: c, transition: {type: crossfade, duration: 0.5}}
"""


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _blobs(cache: Path) -> dict[str, Path]:
    return {p.parent.name + p.name: p for p in (cache / "blobs").glob("*/*") if not p.name.endswith(".tmp")}


def _check_whole(root: Path, cache: Path) -> None:
    """Every blob is what its name says; every output present is a complete blob; the lockfile reads."""
    blobs = _blobs(cache) if (cache / "blobs").exists() else {}
    for digest, blob in blobs.items():
        assert _sha(blob) == digest, f"damaged blob {blob}"
    out = root / "out"
    if out.exists():
        for path in out.rglob("*"):
            if path.is_file() and not path.name.startswith(".") and path.name != "manifest.json":
                assert _sha(path) in blobs, f"{path.name} is not a complete output"
    if (root / "p.lock").exists():
        entries = read_lock(root / "p.lock")
        for name, entry in entries.items():
            assert entry.sha256 in blobs, f"lock entry {name} names bytes the cache does not hold"


def test_kill_9_at_random_moments_never_leaves_half_files(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "proj"
    spec = write(root / "p.yaml", PROJECT)
    rng = random.Random(7)
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    deadline = time.monotonic() + 60
    trials = 0
    while trials < 8 and time.monotonic() < deadline:
        process = subprocess.Popen(
            [RENDER, str(spec), "-q"], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(0.05, 1.5))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        _check_whole(root, cache)
        trials += 1
        if rng.random() < 0.3 and (root / "out").exists():  # sometimes a user deletes outputs between runs
            for path in list((root / "out").glob("*.png"))[:1]:
                path.unlink()
    assert trials >= 4
    finished = set(read_lock_yaml(root / "p.lock")["assets"]) if (root / "p.lock").exists() else set()
    code, summary = render_json(spec, cwd=root, cache=cache)
    assert code == 0, summary
    for name in finished:
        assert summary["assets"][name]["status"] == "cached", f"{name} was made again"
    _check_whole(root, cache)
    assert not [p for p in root.rglob(".*") if p.name.endswith((".tmp", ".render-tmp"))]


def _damage(blob: Path, how: str) -> None:
    blob.chmod(stat.S_IRUSR | stat.S_IWUSR)
    data = blob.read_bytes()
    blob.write_bytes(data[: len(data) // 2] if how == "truncate" else data[:-1] + bytes([data[-1] ^ 0xFF]))


def test_a_damaged_cache_entry_is_found_reported_and_made_again(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "proj"
    spec = write(root / "p.yaml", PROJECT)
    assert render(spec, cwd=root, cache=cache).returncode == 0
    good = {name: entry["sha256"] for name, entry in read_lock_yaml(root / "p.lock")["assets"].items()}
    for how, asset in (("alter", "a"), ("truncate", "c")):
        output = root / "out" / ("a.png" if asset == "a" else "c.wav")
        _damage(_blobs(cache)[good[asset]], how)
        output.unlink()
        result = render(spec, "--json", cwd=root, cache=cache)
        assert result.returncode == 0, result.stderr
        assert "damaged" in result.stdout + result.stderr or "lost its bytes" in result.stdout + result.stderr
        assert _sha(output) == good[asset]  # the damaged bytes never reached the output
        _check_whole(root, cache)


def test_locked_refuses_a_damaged_cache_entry(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "proj"
    spec = write(root / "p.yaml", PROJECT)
    assert render(spec, cwd=root, cache=cache).returncode == 0
    digest = read_lock_yaml(root / "p.lock")["assets"]["a"]["sha256"]
    _damage(_blobs(cache)[digest], "alter")
    (root / "out" / "a.png").unlink()
    code, summary = render_json(spec, "--locked", cwd=root, cache=cache)
    assert code == 1 and summary["assets"]["a"]["status"] == "failed"
    assert "does not match its hash" in summary["assets"]["a"]["error"]
    assert not (root / "out" / "a.png").exists()


def test_two_renders_of_one_project_take_turns(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "proj"
    spec = write(root / "p.yaml", PROJECT)
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    first = subprocess.Popen(
        [RENDER, str(spec)], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock = root / ".render" / "lock"
    deadline = time.monotonic() + 20
    while not (lock.exists() and lock.read_text() == str(first.pid)):
        assert time.monotonic() < deadline, "the first render never took the project lock"
        time.sleep(0.02)
    second = subprocess.run([RENDER, str(spec)], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    first.communicate(timeout=120)
    assert first.returncode == 0 and second.returncode == 0
    assert "another render of" in second.stderr and "waiting" in second.stderr
    assert "6 cached" in second.stdout  # it waited, then found everything made
    _check_whole(root, cache)


def test_two_projects_sharing_one_cache_at_once(tmp_path: Path, cache: Path) -> None:
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    specs = [write(tmp_path / name / "p.yaml", PROJECT) for name in ("one", "two")]
    processes = [subprocess.Popen([RENDER, str(s), "-q"], cwd=s.parent, env=env) for s in specs]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    for spec in specs:
        _check_whole(spec.parent, cache)
    assert _sha(specs[0].parent / "out" / "cut.mp4") == _sha(specs[1].parent / "out" / "cut.mp4")
