"""Run the ffmpeg binary that ships inside the imageio-ffmpeg package (never the system's)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

# Flags that keep every encode byte-reproducible: no encoder strings, no creation times, fixed threads.
BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]
H264 = [
    "-c:v",
    "libx264",
    "-preset",
    "veryfast",
    "-crf",
    "20",
    "-pix_fmt",
    "yuv420p",
    "-threads",
    "2",
    "-x264-params",
    "threads=2:lookahead-threads=1:sliced-threads=0",
]
AAC = ["-c:a", "aac", "-b:a", "160k"]
MP4 = ["-movflags", "+faststart", "-brand", "mp42"]


class FFmpegError(RuntimeError):
    pass


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, what: str) -> None:
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-5:])
        raise FFmpegError(f"ffmpeg failed to {what}: {tail}")


def ffmpeg_info(path: Path) -> str:
    """What `ffmpeg -i` says about a file (it exits 1 because no output is given; that is expected)."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    return result.stderr
