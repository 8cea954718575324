"""Outcomes and results of a run."""

from __future__ import annotations

from pathlib import Path

from renderer.engine.results import Outcome, RenderOptions, RunResult
from renderer.records import AssetStatus, RunMode


def test_outcomes_say_whether_they_are_done_and_whether_they_block() -> None:
    made = Outcome("a", AssetStatus.GENERATED)
    planned = Outcome("b", AssetStatus.GENERATE)
    failed = Outcome("c", AssetStatus.FAILED, error="boom")
    assert made.ok and not made.blocks_dependents
    assert not planned.ok and not planned.blocks_dependents
    assert not failed.ok and failed.blocks_dependents
    result = RunResult({o.name: o for o in (made, planned, failed)})
    assert [result.count(s) for s in (AssetStatus.GENERATED, AssetStatus.FAILED, AssetStatus.CACHED)] == [1, 1, 0]


def test_options_default_to_a_render() -> None:
    options = RenderOptions(cache_dir=Path("c"))
    assert options.mode is RunMode.RENDER and options.jobs == 8 and not options.selection
