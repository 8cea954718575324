"""Scheduling efficiency: against a provider whose every job takes a fixed time, how close is the total to
the lower bound max(critical path, total work / concurrency)? Target: within 5%.

    python bench/schedule.py
Runs the real engine in process (cache, journal, lockfile and all) with a provider that answers each submit
after LATENCY seconds, on random, wide and deep graphs.
"""

from __future__ import annotations

import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import anyio

from renderer.dag import critical_path_lengths, topological_order
from renderer.engine.run import RenderOptions, run_project
from renderer.providers import registry
from renderer.providers.base import InputFile, Job, JobRequest, JobState
from renderer.report import PlainReporter
from renderer.spec.resolve import load_project

LATENCY = float(os.environ.get("LATENCY", "1.0"))


class FixedLatencyProvider:
    name: ClassVar[str] = "fixed"
    free: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False
    recipe_version: ClassVar[str] = "fixed-1"

    def __init__(self, settings, context) -> None:  # type: ignore[no-untyped-def]
        pass

    @classmethod
    def check(cls, asset, assets) -> list[str]:  # type: ignore[no-untyped-def]
        return []

    def preflight(self) -> list[str]:
        return []

    async def upload(self, item: InputFile) -> str:
        return str(item.path)

    async def submit(self, request: JobRequest) -> Job:
        await anyio.sleep(LATENCY)
        return Job(id=request.key[7:19], state=JobState.SUCCEEDED, data={"asset": request.asset})

    async def poll(self, job: Job) -> Job:
        return job

    async def fetch(self, job: Job, dest: Path) -> None:
        dest.write_bytes(f"{job.id} {job.data['asset']}".encode())

    async def cancel(self, job: Job) -> None:
        return None

    async def estimate(self, request: JobRequest) -> float | None:
        return None

    async def aclose(self) -> None:
        return None


def graph(kind: str, n: int, rng: random.Random) -> dict[str, list[str]]:
    deps: dict[str, list[str]] = {}
    for i in range(n):
        if kind == "wide":
            parents = [f"a{rng.randrange(i)}"] if i and rng.random() < 0.3 else []
        elif kind == "deep":
            parents = [f"a{i - 1}"] if i % 12 else []
        else:
            parents = [f"a{j}" for j in rng.sample(range(i), min(i, rng.randint(0, 2)))]
        deps[f"a{i}"] = parents
    return deps


def bench(kind: str, n: int, jobs: int, seed: int = 1) -> None:
    deps = graph(kind, n, random.Random(seed))
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "p.yaml"
        lines = ["version: 1", "providers:", f"  fixed: {{max_concurrency: {jobs}}}", "assets:"]
        for name, parents in deps.items():
            inputs = f", inputs: [{', '.join(parents)}]" if parents else ""
            lines.append(f"  {name}: {{type: image, provider: fixed, prompt: {name}{inputs}, output: {name}.bin}}")
        spec.write_text("\n".join(lines) + "\n")
        project = load_project(spec, spec.name)
        options = RenderOptions(cache_dir=Path(tmp) / "cache", jobs=jobs)
        reporter = PlainReporter(sys.stderr, quiet=True)
        start = time.perf_counter()
        result = run_project(project, options, reporter, spec.read_bytes())
        elapsed = time.perf_counter() - start
    assert result.count("generated") == n, result.outcomes
    chain = max(critical_path_lengths(deps, topological_order(deps)).values())
    bound = max(chain, math.ceil(n / jobs)) * LATENCY
    print(
        f"{kind:<7} N={n:<4} jobs={jobs:<3} critical path {chain:>3}  bound {bound:6.2f} s  "
        f"measured {elapsed:6.2f} s  overhead {100 * (elapsed / bound - 1):5.1f}%"
    )


if __name__ == "__main__":
    registry.BUILTIN["fixed"] = "__main__:FixedLatencyProvider"
    for kind, n, jobs in (("random", 300, 8), ("wide", 300, 8), ("deep", 240, 8), ("random", 400, 32)):
        bench(kind, n, jobs)
