"""Music and speech, offline."""

from __future__ import annotations

import re
import subprocess
import wave
from pathlib import Path

import numpy as np

from renderer.media.ffmpeg import BITEXACT, run_ffmpeg
from renderer.providers.base import JobRequest
from renderer.providers.local.sizes import seed_of

RATE = 44_100
# Audio is resampled and encoded with SIMD off: swresample's and the encoders' SIMD paths round differently
# per CPU, and audio is cheap enough in plain C.
AUDIO_CPUFLAGS = "0"
# The LAME header (written by default) tells decoders the encoder's delay and padding, so an MP3 plays
# exactly as long as asked instead of some 30 ms longer.
MP3 = ["-c:a", "libmp3lame", "-b:a", "192k"]


def make_music(request: JobRequest, out: Path) -> None:
    from renderer.providers.local.music import synthesize  # numpy: only when music is made

    duration = float(request.params.get("duration", 30))
    prompt = request.params.get("prompt", "")
    write_audio(synthesize(prompt, duration, seed_of(request.seed, prompt)), out)


def make_speech(request: JobRequest, out: Path) -> None:
    """Offline speech with espeak-ng at fixed settings (deterministic), as 44.1 kHz stereo."""
    from renderer.providers.local import speech_engine  # the package imports this module: no cycle at load

    engine = speech_engine()
    if engine is None:
        from renderer.errors import AssetError
        from renderer.providers.local import MISSING_SPEECH

        raise AssetError(MISSING_SPEECH)
    voice = str(request.params.get("voice", "en-us"))
    if not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]+)*", voice):
        voice = "en-us"  # a remote provider's voice name (rachel, adam, ...): the nearest offline voice
    raw = out.with_suffix(".espeak.wav")
    command = [engine, "-v", voice, "-s", "165", "-p", "45", "-a", "120", "-w", str(raw), request.params["text"]]
    try:
        subprocess.run(command, check=True, capture_output=True)
        codec = {
            ".wav": ["-c:a", "pcm_s16le"],
            ".flac": ["-c:a", "flac"],
            ".mp3": MP3,
        }[out.suffix.lower()]
        run_ffmpeg(
            ["-i", str(raw), "-ar", str(RATE), "-ac", "2", *codec, *BITEXACT, str(out)],
            what="encode speech",
            cpuflags=AUDIO_CPUFLAGS,
        )
    finally:
        raw.unlink(missing_ok=True)


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
    codec = {".flac": ["-c:a", "flac"], ".mp3": MP3}
    run_ffmpeg(
        ["-i", str(wav), *codec[out.suffix.lower()], *BITEXACT, str(out)],
        what=f"encode {out.suffix}",
        cpuflags=AUDIO_CPUFLAGS,
    )
