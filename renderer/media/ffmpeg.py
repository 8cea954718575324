"""Run the ffmpeg binary that ships inside the imageio-ffmpeg package (never the system's)."""

from __future__ import annotations

import os
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
    # asm=0: x264 picks its own SIMD by CPU, ignoring -cpuflags, and its SIMD paths are not bit-exact with
    # one another nor with its C (the demo's first clip came out 5 bytes shorter on an AMD EPYC with AVX2
    # than on the machine that locked it; SSE2 only, SSSE3 and C give three more results). Its C is 4.5x
    # slower; a plainer motion search (me, subme, partitions) wins half of that back for 9% more bytes.
    "threads=2:lookahead-threads=1:sliced-threads=0:asm=0:me=dia:subme=1:partitions=none",
]
AAC = ["-c:a", "aac", "-b:a", "160k"]
# Every scaler bit-exact: without these flags swscale takes CPU-specific SIMD paths, and the same command
# gives other bytes on another CPU. Used on every scale filter, on every pixel-format conversion (made
# explicit with YUV420P, so ffmpeg inserts no scaler of its own) and, as -sws_flags, on any it still does.
SWS_FLAGS = "bicubic+accurate_rnd+full_chroma_int+bitexact"
YUV420P = f"scale=flags={SWS_FLAGS},format=yuv420p"
MP4 = ["-movflags", "+faststart", "-brand", "mp42"]


class FFmpegError(RuntimeError):
    pass


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # finds its binary on import: only when ffmpeg is run

    return imageio_ffmpeg.get_ffmpeg_exe()


def cpu_flags(forced: str | None = None) -> list[str]:
    """``-cpuflags`` from ``RENDER_FFMPEG_CPUFLAGS`` (``0``: no SIMD at all): how tests prove that outputs
    do not depend on the CPU they were made on. ``forced`` wins over the environment."""
    value = forced if forced is not None else os.environ.get("RENDER_FFMPEG_CPUFLAGS", "").strip()
    return ["-cpuflags", value] if value else []


def encode_aac(inputs: list[str], graph: list[str], label: str, out: Path) -> None:
    """Audio through a filter graph into an AAC track (``out``, .m4a) with SIMD off: ffmpeg's AAC encoder
    rounds differently on every SIMD path, and audio is cheap to encode in plain C. The video step then
    copies the track in, so the same inputs give the same bytes on any CPU."""
    run_ffmpeg(
        [*inputs, "-filter_complex", ";".join(graph), "-map", f"[{label}]", *AAC, *BITEXACT, str(out)],
        what="encode the audio",
        cpuflags="0",
    )


def run_ffmpeg(args: list[str], *, what: str, cpuflags: str | None = None) -> None:
    command = [
        ffmpeg_exe(),
        "-hide_banner",
        "-nostdin",
        "-loglevel",
        "error",
        "-y",
        *cpu_flags(cpuflags),
        "-sws_flags",
        SWS_FLAGS,
        *args,
    ]
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
