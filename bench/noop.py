"""No-op re-render benchmark.

Generates a spec of N local assets with random dependencies, renders it once, then times (wall clock,
Python start-up included) the no-op re-render and `--check`, and `render plan` after one edit (a prompt
edited, an asset added) the short way (incremental.py) and the full path (RENDER_INCREMENTAL=0),
N = 1,000 and 10,000 by default.

    python bench/noop.py            # both sizes
    python bench/noop.py 10000      # one size
Targets: a 10,000-asset no-op re-render in under 0.35 s; a plan after one edit in under 0.5 s.
"""

from __future__ import annotations

import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RENDER = str(Path(sys.executable).parent / "render")


def make_spec(path: Path, n: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    lines = ["version: 1", f"name: bench-{n}", "defaults: {provider: local}", "assets:"]
    for i in range(n):
        deps = rng.sample(range(i), min(i, rng.randint(0, 3))) if i else []
        inputs = f", inputs: [{', '.join(f'a{j}' for j in deps)}]" if deps else ""
        # images as inputs of images keep the first render fast while the graph stays random
        lines.append(f'  a{i}: {{type: image, prompt: "asset {i}", seed: {i}, width: 16, height: 16{inputs}}}')
    path.write_text("\n".join(lines) + "\n")


def timed(args: list[str], env: dict[str, str], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run([RENDER, *args], env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        if result.returncode != 0:
            raise SystemExit(f"render {' '.join(args)} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return times


def bench(n: int, repeat: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "bench.yaml"
        make_spec(spec, n)
        env = {**os.environ, "RENDER_CACHE_DIR": str(root / "cache")}
        first = timed([str(spec), "-q"], env, 1)[0]
        print(f"N={n:>6}  first render     {first:.1f} s")
        for label, args in (("no-op re-render", [str(spec), "-q"]), ("--check", [str(spec), "--check", "-q"])):
            times = timed(args, env, repeat)
            best, median = min(times), statistics.median(times)
            print(f"N={n:>6}  {label:<16} best {best:.3f} s  median {median:.3f} s  {median / n * 1e6:7.1f} us/asset")
        # after one edit: what a plan decides, the short way (incremental.py) and the full path
        text = spec.read_text()
        last = n - 1
        edits = {
            "one prompt edited": text.replace(f'"asset {last}"', f'"asset {last} edited"'),
            "one asset added": text
            + f'  extra: {{type: image, prompt: "extra", width: 16, height: 16, inputs: [a{last}]}}\n',
        }
        full_env = {**env, "RENDER_INCREMENTAL": "0"}
        for label, edited_text in edits.items():
            spec.write_text(edited_text)
            for way, way_env in (("short way", env), ("full path", full_env)):
                times = timed(["plan", str(spec), "-q"], way_env, 3 if way == "short way" else 1)
                best = min(times)
                print(f"N={n:>6}  {label:<18} plan, {way:<9} {best:.3f} s  {best / n * 1e6:7.1f} us/asset")
            spec.write_text(text)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"N={n:>6}  peak memory of any run so far: {peak:.0f} MB")
        # the full path of a render: one asset edited, so the spec is parsed, validated and planned again
        spec.write_text(text.replace('"asset 0"', '"asset 0 edited"'))
        edited = timed([str(spec), "-q"], env, 1)[0]
        print(f"N={n:>6}  render, asset 0 edited (re-renders what depends on it) {edited:.3f} s")


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    for size in sizes:
        bench(size)
