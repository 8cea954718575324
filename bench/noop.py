"""No-op and one-edit benchmark.

Generates a spec of N local assets with random dependencies (every 1,000th also reads an input file),
renders it once, then times (wall clock, Python start-up included, and each run's peak memory):

    no-op      a re-render and `--check` of the unchanged spec
    one edit   one prompt edited, one asset added, one input file changed, the head edited: `render plan`
               and `render` (which also makes the changed asset), with the incremental state (the short
               way of incremental.py; for a head edit, the full path with the entry cache) and without
               it (RENDER_INCREMENTAL=0), so the gain shows in one run
    a failure  one asset fails (an upscale of a file that is not a picture): `render` again, both ways

    python bench/noop.py                 # 1,000 and 10,000 assets
    python bench/noop.py 100000          # one size (the first render of 100,000 takes a while)
    python bench/noop.py --matrix 10000  # one matrix entry of 10,000 variants: plans before a render, after
                                         # an edit of every variant and after one value added; no-op; validate
Targets: a 10,000-asset no-op re-render under 0.35 s; one edit decided under 0.5 s; at 100,000 assets,
no-op and one edit under 3 s, plan under 10 s, peak memory under 500 MB.
"""

from __future__ import annotations

import os
import random
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
        deps = [f"a{j}" for j in rng.sample(range(i), min(i, rng.randint(0, 3)))] if i else []
        if i % 1000 == 999:
            deps.append(f"refs/r{i // 1000}.png")
        inputs = f", inputs: [{', '.join(deps)}]" if deps else ""
        # images as inputs of images keep the first render fast while the graph stays random
        lines.append(f'  a{i}: {{type: image, prompt: "asset {i}", seed: {i}, width: 16, height: 16{inputs}}}')
    path.write_text("\n".join(lines) + "\n")
    for k in range(n // 1000 + 1):
        write_ref(path.parent / "refs" / f"r{k}.png", k)


def write_ref(path: Path, shade: int) -> None:
    from PIL import Image

    path.parent.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), (shade % 256, 40, 90)).save(path)


def timed(args: list[str], env: dict[str, str], expect: int = 0) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one render command, which must exit with ``expect``."""
    start = time.perf_counter()
    process = subprocess.Popen([RENDER, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != expect:
        raise SystemExit(f"render {' '.join(args)} exited {process.returncode}:\n{error[-2000:]}")
    return elapsed, usage.ru_maxrss / 1024


def show(n: int, label: str, runs: list[tuple[float, float]]) -> None:
    times = [t for t, _ in runs]
    best, median, peak = min(times), statistics.median(times), max(m for _, m in runs)
    print(
        f"N={n:>6}  {label:<58} best {best:.3f} s  median {median:.3f} s  {median / n * 1e6:6.1f} us/asset  {peak:4.0f} MB"
    )


def environments(root: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The environment of the timed runs (their cache under ``root``), and the same for the full path."""
    env = {**os.environ, "RENDER_CACHE_DIR": str(root / "cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run it: byte-compiled once, then read
    return env, {**env, "RENDER_INCREMENTAL": "0"}


def bench(n: int, repeat: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "bench.yaml"
        make_spec(spec, n)
        env, full_env = environments(root)
        first = timed([str(spec), "-q"], env)
        print(f"N={n:>6}  first render {first[0]:.1f} s, {first[1]:.0f} MB")
        for label, args in (("no-op re-render", [str(spec), "-q"]), ("--check", [str(spec), "--check", "-q"])):
            show(n, label, [timed(args, env) for _ in range(repeat)])
        text = spec.read_text()
        last = n - 1
        ref = root / "refs" / f"r{last // 1000}.png"
        edits = {
            "one prompt edited": (text.replace(f'"asset {last}"', f'"asset {last} edited"'), None),
            "one asset added": (
                text + f'  extra: {{type: image, prompt: "extra", width: 16, height: 16, inputs: [a{last}]}}\n',
                None,
            ),
            "one input file changed": (text, ref),
            # the head changed: every asset decided again (the full path), its entries from the entry cache
            "head edited": (text.replace(f"name: bench-{n}", f"name: bench-{n}-renamed"), None),
        }
        for label, (edited_text, changed_file) in edits.items():
            for way, way_env in (("incremental", env), ("RENDER_INCREMENTAL=0", full_env)):
                for command in ("plan", "render"):
                    runs = []
                    for k in range(repeat if way_env is env else 1):
                        # the edit, timed; then back as it was, rendered untimed, so every run sees one edit
                        spec.write_text(edited_text)
                        if changed_file is not None:
                            write_ref(changed_file, 1000 + k)
                        args = ["plan", str(spec), "-q"] if command == "plan" else [str(spec), "-q"]
                        runs.append(timed(args, way_env))
                        spec.write_text(text)
                        if changed_file is not None:
                            write_ref(changed_file, last // 1000)
                        timed([str(spec), "-q"], env)
                    show(n, f"{label}: {command}, {way}", runs)
        # an asset that fails (an upscale of a file that is not a picture): rendered again, nothing changed
        frail = root / "refs" / "frail.png"
        frail.write_bytes(b"not a picture")
        spec.write_text(text + "  frail: {type: upscale, scale: 2, inputs: [refs/frail.png]}\n")
        timed([str(spec), "-q", "-k"], env, expect=1)
        for way, way_env in (("incremental", env), ("RENDER_INCREMENTAL=0", full_env)):
            runs = [timed([str(spec), "-q", "-k"], way_env, expect=1) for _ in range(repeat if way_env is env else 1)]
            show(n, f"one asset failing: render again, {way}", runs)
        spec.write_text(text)
        timed([str(spec), "-q"], env)


def matrix_spec(path: Path, n: int, prompt: str = "look", extra_value: bool = False) -> None:
    """One entry whose matrix makes ``n`` variants (100 values of ``take`` times n/100 looks)."""
    looks = ", ".join(f"c{i}" for i in range(max(1, n // 100)))
    takes = ", ".join(str(i) for i in range(100 + extra_value))
    variant = f'"{prompt} ${{matrix.look}} take ${{matrix.take}}"'
    path.write_text(
        f"version: 1\nname: matrix-{n}\ndefaults: {{provider: local}}\nassets:\n"
        f"  v: {{type: image, prompt: {variant}, width: 16, height: 16, matrix: {{look: [{looks}], take: [{takes}]}}}}\n"
    )


def bench_matrix(n: int, repeat: int = 3) -> None:
    """A matrix of ``n`` variants: an edit of its one entry changes every variant, so plans decide all."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        spec = root / "matrix.yaml"
        matrix_spec(spec, n)
        env, full_env = environments(root)
        show(n, "matrix: plan before any render", [timed(["plan", str(spec), "-q"], env) for _ in range(repeat)])
        first = timed([str(spec), "-q"], env)
        print(f"N={n:>6}  matrix: first render {first[0]:.1f} s, {first[1]:.0f} MB")
        show(n, "matrix: validate", [timed(["validate", str(spec)], env) for _ in range(repeat)])
        show(n, "matrix: no-op re-render", [timed([str(spec), "-q"], env) for _ in range(repeat)])
        edits = {"every variant edited": {"prompt": "look again"}, "one take added": {"extra_value": True}}
        for label, change in edits.items():
            matrix_spec(spec, n, **change)  # type: ignore[arg-type]
            for way, way_env in (("incremental", env), ("RENDER_INCREMENTAL=0", full_env)):
                show(
                    n,
                    f"matrix: {label}: plan, {way}",
                    [timed(["plan", str(spec), "-q"], way_env) for _ in range(repeat)],
                )
        matrix_spec(spec, n)


if __name__ == "__main__":
    matrix = "--matrix" in sys.argv  # the matrix project only: python bench/noop.py --matrix 100000
    sizes = [int(a) for a in sys.argv[1:] if a != "--matrix"] or [1000, 10000]
    for size in sizes:
        bench_matrix(size) if matrix else bench(size)
