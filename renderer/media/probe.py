"""Duration, size, streams and codecs of a media file, without ffprobe.

PNG and WAV headers are read directly; everything else from what ``ffmpeg -i`` prints.
"""

from __future__ import annotations

import re
import struct
import wave
from pathlib import Path
from typing import Any

from renderer.media.ffmpeg import ffmpeg_info
from renderer.media.types import kind_of, media_type_of

_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VIDEO = re.compile(r"Stream #\S+.*?: Video: (\w+).*?, (\d{2,5})x(\d{2,5})")
_AUDIO = re.compile(r"Stream #\S+.*?: Audio: (\w+)(?:.*?, (\d+) Hz)?(?:, (mono|stereo|[\d.]+ channels))?")
_FPS = re.compile(r", ([\d.]+) fps")


def probe(path: Path) -> dict[str, Any]:
    media_type = media_type_of(path)
    info: dict[str, Any] = {"media_type": media_type}
    with open(path, "rb") as handle:
        head = handle.read(32)
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        width, height = struct.unpack(">II", head[16:24])
        return {**info, "width": width, "height": height}
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        try:
            with wave.open(str(path), "rb") as wav:
                frames, rate = wav.getnframes(), wav.getframerate()
                return {
                    **info,
                    "duration": round(frames / rate, 6),
                    "sample_rate": rate,
                    "channels": wav.getnchannels(),
                    "audio_codec": "pcm_s16le",
                }
        except (wave.Error, EOFError):
            pass
    if kind_of(media_type) == "other":  # not media we know: nothing to measure, and no ffmpeg to spawn
        return info
    return {**info, **_from_ffmpeg(path)}


def _from_ffmpeg(path: Path) -> dict[str, Any]:

    text = ffmpeg_info(path)
    found: dict[str, Any] = {}
    duration = _DURATION.search(text)
    if duration:
        h, m, s = duration.groups()
        found["duration"] = round(int(h) * 3600 + int(m) * 60 + float(s), 6)
    video = _VIDEO.search(text)
    if video:
        found["video_codec"] = video.group(1)
        found["width"], found["height"] = int(video.group(2)), int(video.group(3))
        fps = _FPS.search(text[video.start() :])
        if fps:
            found["fps"] = float(fps.group(1))
    audio = _AUDIO.search(text)
    if audio:
        found["audio_codec"] = audio.group(1)
        if audio.group(2):
            found["sample_rate"] = int(audio.group(2))
        if audio.group(3):
            found["channels"] = {"mono": 1, "stereo": 2}.get(audio.group(3)) or int(float(audio.group(3).split()[0]))
    if ("video_codec" in found or "audio_codec" in found) is False and "duration" not in found:
        return {}
    if found.get("video_codec") in ("png", "mjpeg") and "audio_codec" not in found:
        found.pop("duration", None)  # a still image
    return found
