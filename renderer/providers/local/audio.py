"""Music and speech, offline."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np

from renderer.media.ffmpeg import BITEXACT, run_ffmpeg
from renderer.providers.base import JobRequest
from renderer.providers.local.sizes import seed_of

RATE = 44_100


def make_music(request: JobRequest, out: Path) -> None:
    duration = float(request.params.get("duration", 30))
    prompt = request.params.get("prompt", "")
    rng = np.random.default_rng(seed_of(request.seed, prompt))
    samples = int(round(duration * RATE))
    t = np.arange(samples, dtype=np.float64) / RATE
    root = 220.0 * 2 ** (int(rng.integers(0, 12)) / 12)
    beat = 60.0 / float(rng.integers(80, 130))
    steps = [0, 4, 7, 12, 7, 4]
    note = (t // beat).astype(np.int64)
    freq = root * 2 ** (np.take(steps, note % len(steps)) / 12)
    phase = 2 * np.pi * np.cumsum(freq) / RATE
    envelope = np.exp(-3.0 * (t % beat) / beat)
    left = 0.3 * np.sin(phase) * envelope + 0.1 * np.sin(2 * np.pi * root / 2 * t)
    right = 0.3 * np.sin(phase * 1.002) * envelope + 0.1 * np.sin(2 * np.pi * root / 2 * t)
    write_audio(np.stack([left, right], axis=1), out)


def make_speech(request: JobRequest, out: Path) -> None:
    from renderer.providers.local import speech_engine

    engine = speech_engine()
    if engine is None:
        raise RuntimeError("offline speech needs espeak-ng; install it or use a remote provider")
    wav = out.with_suffix(".speech.wav")
    voice = request.params.get("voice", "en")
    command = [engine, "-v", voice if len(voice) <= 12 else "en", "-w", str(wav), request.params["text"]]
    subprocess.run(command, check=True, capture_output=True)
    if out.suffix.lower() == ".wav":
        wav.replace(out)
    else:
        encode(wav, out)
        wav.unlink()


def write_audio(stereo: np.ndarray, out: Path) -> None:
    """Write float samples in [-1, 1] as 16-bit stereo 44.1 kHz in the format the file name asks for."""
    pcm = (np.clip(stereo, -1.0, 1.0) * 32767).astype("<i2")
    wav = out if out.suffix.lower() == ".wav" else out.with_suffix(".tmp.wav")
    with wave.open(str(wav), "wb") as handle:
        handle.setnchannels(2)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(pcm.tobytes())
    if wav != out:
        encode(wav, out)
        wav.unlink()


def encode(wav: Path, out: Path) -> None:
    codec = {".flac": ["-c:a", "flac"], ".mp3": ["-c:a", "libmp3lame", "-b:a", "192k", "-write_xing", "0"]}
    run_ffmpeg(["-i", str(wav), *codec[out.suffix.lower()], *BITEXACT, str(out)], what=f"encode {out.suffix}")
