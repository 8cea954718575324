"""Distributed execution benchmark: CPU-heavy local jobs in this process, and on 1 and 2 Dask worker processes.

    python bench/distributed.py [--jobs 24]

Makes a spec of N independent 1080p composes (each of its own short procedural clip, so every job is CPU
work and none waits on another), renders it with the in-process executor, then on a real `dask scheduler`
with 1 and with 2 `dask worker` processes (one thread each) through a shared-folder remote. Prints each
makespan (wall time of the render, Python start-up included, a fresh cache each time) and the ratios.

Measured on a 2-core machine (24 jobs): in-process one at a time 48.2 s, in-process --jobs 8 33.3 s,
1 worker 44.7 s, 2 workers 35.1 s (1.27x one worker). Not 2x: every encode runs x264 with 2 threads
(fixed, so that the bytes do not depend on the machine; media/ffmpeg.py), so one job already keeps both
cores of this machine about two-thirds busy. Two workers on two machines would each bring their own cores.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def make_spec(path: Path, jobs: int) -> None:
    lines = ["version: 1", "name: bench-distributed", "defaults: {provider: local}", "assets:"]
    for n in range(jobs):
        lines.append(
            f"  clip{n}: {{type: video, prompt: a slow pan number {n}, duration: 2, fps: 24, width: 640, seed: {n}}}"
        )
        lines.append(f"  cut{n}: {{type: compose, clips: [clip{n}], width: 1920, height: 1080, fps: 24}}")
    path.write_text("\n".join(lines) + "\n")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed_render(spec: Path, root: Path, label: str, extra: list[str]) -> float:
    cache = root / f"cache-{label}"
    out = root / f"out-{label}"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    started = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "render"), str(spec), "-q", "--out", str(out), *extra],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"render ({label}) exited {result.returncode}:\n{result.stderr[-3000:]}")
    return took


def wait_until(predicate, what: str, seconds: float = 60) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.1)


def on_cluster(spec: Path, root: Path, workers: int) -> float:
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = root / f"cluster-{workers}"
    logs.mkdir()
    processes = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=open(logs / "scheduler.log", "wb"),  # noqa: SIM115 - lives as long as the process
            stderr=subprocess.STDOUT,
        )
    ]
    try:
        wait_until(lambda: "Scheduler at" in (logs / "scheduler.log").read_text(errors="replace"), "the scheduler")
        for n in range(workers):
            processes.append(
                subprocess.Popen(
                    [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                     "--local-directory", str(logs / f"w{n}")],
                    stdout=open(logs / f"worker{n}.log", "wb"),  # noqa: SIM115
                    stderr=subprocess.STDOUT,
                )
            )  # fmt: skip
        wait_until(
            lambda: (logs / "scheduler.log").read_text(errors="replace").count("Register worker") >= workers,
            "the workers",
        )
        shared = root / f"shared-{workers}"
        shared.mkdir()
        return timed_render(spec, root, f"dask{workers}", ["--executor", address, "--remote", str(shared)])
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=24, help="independent 1080p composes (default 24)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "bench.yaml"
        make_spec(spec, args.jobs)
        print(f"{args.jobs} x (a procedural clip, then a 1080p compose of it) on {os.cpu_count()} cores")
        here = timed_render(spec, root, "local", ["--jobs", "1"])
        print(f"in-process executor, 1 job at a time   {here:6.1f} s")
        local_all = timed_render(spec, root, "local-all", [])
        print(f"in-process executor, --jobs 8          {local_all:6.1f} s")
        one = on_cluster(spec, root, 1)
        print(f"dask, 1 worker process                 {one:6.1f} s")
        two = on_cluster(spec, root, 2)
        print(f"dask, 2 worker processes               {two:6.1f} s")
        print(f"2 workers vs 1: {one / two:.2f}x;  2 workers vs in-process (1 at a time): {here / two:.2f}x")


if __name__ == "__main__":
    main()
