"""Same inputs, same bytes, on any CPU: every local asset type and compose rendered normally and as on a
CPU without SIMD (ffmpeg -cpuflags 0, numpy's dispatched features off) give identical sha256s, and the
committed demo lockfile reproduces from an empty cache."""

from __future__ import annotations

import shutil
from pathlib import Path

from renderer.providers.local import speech_engine
from tests.helpers import read_lock as read_lock_yaml
from tests.helpers import render, write

ROOT = Path(__file__).resolve().parents[2]
EVERY_TYPE = """
version: 1
assets:
  still: {type: image, prompt: a harbour at dawn with boats, width: 160, aspect_ratio: "16:9", seed: 4}
  photo: {type: image, prompt: forest at night, width: 96, output: photo.jpg}
  tune: {type: music, prompt: calm piano 90bpm minor, duration: 3, seed: 2}
  song: {type: music, prompt: upbeat drums and bass, duration: 2, output: song.mp3}
  pan: {type: video, prompt: a painted sky drifting, duration: 1.5, fps: 12, width: 128}
  push: {type: video, prompt: boats, duration: 2, fps: 12, width: 128, inputs: [still, tune]}
  big: {type: upscale, inputs: [still], scale: 2}
  bigvid: {type: upscale, inputs: [push], scale: 2}
  cut:
    type: compose
    clips: [push, {asset: pan, from: 0.2, to: 1.2}, still]
    transition: {type: crossfade, duration: 0.4}
    audio: song
    title: Reproducible
    captions: [{text: same bytes everywhere, from: 0.5, to: 2}]
"""
SPEECH = """
  voice: {type: speech, text: Every machine makes the same sound., output: voice.wav}
  talk: {type: compose, clips: [pan], audio: tune, voiceover: voice}
"""


# what glibc picks its libm variants by (exp, log, pow, sin... have FMA versions chosen at start-up)
GLIBC_SIMD = "-AVX,-AVX2,-FMA,-FMA4,-F16C,-AVX512F,-AVX512DQ,-AVX512BW,-AVX512VL,-AVX512CD"


def old_cpu() -> dict[str, str]:
    """A CPU without SIMD, as far as each part can be told: ffmpeg's own code, numpy's dispatched loops and
    glibc's libm variants (x264 is told to run its C code always: renderer/media/ffmpeg.py)."""
    from numpy._core._multiarray_umath import __cpu_dispatch__

    return {
        "RENDER_FFMPEG_CPUFLAGS": "0",
        "NPY_DISABLE_CPU_FEATURES": " ".join(__cpu_dispatch__),
        "GLIBC_TUNABLES": f"glibc.cpu.hwcaps={GLIBC_SIMD}",
    }


def test_every_local_type_gives_the_same_bytes_without_simd(tmp_path: Path) -> None:
    text = EVERY_TYPE + (SPEECH if speech_engine() else "")
    made = {}
    for name, env in (("native", {}), ("old-cpu", old_cpu())):
        root = tmp_path / name
        spec = write(root / "p.yaml", text)
        result = render(spec, cwd=root, cache=root / "cache", env=env, timeout=300)
        assert result.returncode == 0, result.stderr
        made[name] = {n: e["sha256"] for n, e in read_lock_yaml(root / "p.lock")["assets"].items()}
    assert made["native"] == made["old-cpu"]
    assert len(made["native"]) >= 9


def test_the_committed_demo_lockfile_reproduces_from_an_empty_cache_on_an_old_cpu(tmp_path: Path) -> None:
    """--locked, as CI runs it, and as a CPU without SIMD (natively: test_render_cli's demo test)."""
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs, ignore=shutil.ignore_patterns("out", "out-*", ".render"))
    committed = (specs / "demo.lock").read_bytes()
    environ = old_cpu()
    result = render(specs / "demo.yaml", "--locked", cwd=tmp_path, cache=tmp_path / "cache", env=environ, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (specs / "demo.lock").read_bytes() == committed
    check = render(specs / "demo.yaml", "--check", cwd=tmp_path, cache=tmp_path / "cache2", env=environ)
    assert check.returncode == 0, check.stdout + check.stderr  # a fresh machine, a fresh cache: up to date
