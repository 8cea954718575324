"""First paid submit: how long after `render` starts does the provider see its first job?

Generates a spec of N paid image assets (varg, served by `render sandbox` on 127.0.0.1), some of them
inputs of others, starts `render` on it and times, from the start of the command, the sandbox's first
created job; then stops the render (Ctrl-C) and the sandbox. The spec is new to the cache: nothing of it
was read before, every asset is to be made.

    python bench/first_submit.py            # 10,000 and 100,000 assets
    python bench/first_submit.py 1000

Target: within seconds of starting at 100,000 assets, not minutes (issue 14).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RENDER = str(Path(sys.executable).parent / "render")
DEADLINE = 600.0  # seconds: a run that has not submitted by then is reported as such


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_spec(path: Path, n: int, port: int, name: str) -> None:
    """``n`` varg images; every tenth also takes an earlier one as its input."""
    lines = [
        "version: 1",
        f"name: {name}",
        "providers:",
        f'  varg: {{base_url: "http://127.0.0.1:{port}/v1", poll_interval: 0.5, max_poll_interval: 2}}',
        "defaults: {provider: varg}",
        "assets:",
    ]
    for i in range(n):
        inputs = f", inputs: [a{i // 2}]" if i and i % 10 == 0 else ""
        lines.append(f'  a{i}: {{type: image, model: nano-banana-pro, prompt: "shot {i}"{inputs}}}')
    path.write_text("\n".join(lines) + "\n")


def created_jobs(url: str) -> int:
    with urllib.request.urlopen(f"{url}/_sandbox/log", timeout=10) as answer:  # loopback only
        return sum(1 for entry in json.loads(answer.read()) if entry.get("kind") == "created")


def first_submit(spec: Path, env: dict[str, str], url: str) -> float:
    """Seconds from starting `render` until the sandbox has created a job; the render is then stopped."""
    before = created_jobs(url)
    start = time.perf_counter()
    process = subprocess.Popen([RENDER, str(spec), "-q"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while created_jobs(url) == before:
            if process.poll() is not None:
                raise SystemExit(f"render exited with {process.returncode} before its first submit")
            if time.perf_counter() - start > DEADLINE:
                raise SystemExit(f"no submit within {DEADLINE:.0f} s")
            time.sleep(0.05)
        return time.perf_counter() - start
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench(n: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sandbox = subprocess.Popen(
            [RENDER, "sandbox", "--port", str(port), "--latency", "30"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert sandbox.stdout is not None
            sandbox.stdout.readline()  # "render sandbox on ...": it listens
            env = {**os.environ, "RENDER_CACHE_DIR": str(root / "cache"), "VARG_API_KEY": "varg_bench"}
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            spec = root / "paid.yaml"
            write_spec(spec, n, port, "paid")
            print(f"N={n:>6}  first paid submit after {first_submit(spec, env, url):6.2f} s")
        finally:
            sandbox.send_signal(signal.SIGINT)
            sandbox.wait(timeout=30)


if __name__ == "__main__":
    for size in [int(a) for a in sys.argv[1:]] or [10_000, 100_000]:
        bench(size)
