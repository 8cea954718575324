"""Planning: inputs, key and find without making anything; estimates; whether the lockfile is current."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import anyio

from renderer.engine.outputs import Outputs
from renderer.engine.plan import Planner
from renderer.engine.pool import ProviderPool
from renderer.engine.results import Outcome
from renderer.engine.scheduler import PrioritySlots
from renderer.providers.base import ProviderContext
from renderer.records import AssetStatus, LockEntry, OutputRecord
from renderer.report import PlainReporter
from renderer.spec.resolve import load_project
from renderer.store.cache import Cache
from tests.helpers import write

KEY = "7" * 64


def planner_at(tmp_path: Path, locked: dict[str, LockEntry], located: bool = True) -> tuple[Planner, Cache]:
    spec = write(tmp_path / "p.yaml", "version: 1\nassets:\n  a: {type: image, prompt: x}\n")
    project = load_project(spec, "p.yaml")
    cache = Cache(tmp_path / "c")

    async def locate(asset, outcome):  # type: ignore[no-untyped-def]
        from renderer.engine.inputs import Inputs

        outcome.key = KEY
        return (Inputs({}), KEY) if located else None

    pool = ProviderPool(project.providers, ProviderContext(cache.scratch, {}))
    reporter = PlainReporter(io.StringIO(), quiet=True)
    planner = Planner(locate, Outputs(project, cache, locked), locked, pool, PrioritySlots(2), reporter)
    return planner, cache


def visit(planner: Planner, *, estimate: bool) -> Outcome:
    project_asset = planner.outputs.project.assets["a"]
    outcome = Outcome("a", AssetStatus.FAILED)
    anyio.run(planner.visit(estimate=estimate), project_asset, outcome)
    return outcome


def test_what_is_missing_would_be_generated_with_its_estimate(tmp_path: Path) -> None:
    planner, cache = planner_at(tmp_path, {})
    assert (visit(planner, estimate=True).status, visit(planner, estimate=True).cost_usd) == ("generate", 0.0)
    assert visit(planner, estimate=False).cost_usd is None  # --check asks no provider anything
    waiting = planner_at(tmp_path / "w", {}, located=False)[0]
    assert visit(waiting, estimate=False).error == "after its inputs are made"
    cache.close()


def test_a_cached_output_is_cached_and_a_stale_lock_entry_is_noted(tmp_path: Path) -> None:
    planner, cache = planner_at(tmp_path, {})
    source = cache.scratch / "x"
    source.write_bytes(b"png")
    cache.put(KEY, source, OutputRecord(hashlib.sha256(b"png").hexdigest(), 3, "image/png", "local"))
    outcome = visit(planner, estimate=True)
    assert outcome.status == "cached" and outcome.cost_usd is None
    assert planner.lock_problems == ["asset 'a': its lockfile entry is missing or out of date"]
    cache.close()
