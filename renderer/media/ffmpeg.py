"""Run the ffmpeg binary that ships inside the imageio-ffmpeg package (never the system's)."""

from __future__ import annotations

import subprocess
from contextvars import ContextVar
from functools import cache
from pathlib import Path

# The ffmpeg processes of the job running in this context, so a cancelled job can stop them at once.
job_processes: ContextVar[list[subprocess.Popen[str]] | None] = ContextVar("job_processes", default=None)

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
    import imageio_ffmpeg  # finds its binary on import: only when ffmpeg is run

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: list[str], *, what: str) -> None:
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace")
    tracked = job_processes.get()
    if tracked is not None:
        tracked.append(process)
    _, stderr = process.communicate()
    if process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise FFmpegError(f"ffmpeg failed to {what}: {tail}")


def stop(processes: list[subprocess.Popen[str]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()


def ffmpeg_info(path: Path) -> str:
    """What `ffmpeg -i` says about a file (it exits 1 because no output is given; that is expected)."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
    return result.stderr
