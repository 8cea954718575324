from __future__ import annotations

from dataclasses import dataclass

import anyio
import anyio.lowlevel
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.engine.scheduler import PrioritySlots, run_graph
from tests.test_dag import dags


@dataclass
class Result:
    name: str
    ok: bool
    note: str = ""

    @property
    def blocks_dependents(self) -> bool:
        return not self.ok

    @property
    def stops_others(self) -> bool:
        return not self.ok


def run(
    deps: dict[str, list[str]],
    durations: dict[str, float],
    fail: set[str] = frozenset(),
    *,
    keep_going: bool = False,
    slots: int = 100,
) -> tuple[dict[str, Result], list[tuple[str, str, float]]]:
    events: list[tuple[str, str, float]] = []
    limiter = PrioritySlots(slots)

    async def work(name: str) -> Result:
        async with limiter.hold():
            events.append(("start", name, anyio.current_time()))
            await anyio.sleep(durations.get(name, 0.01))
            events.append(("end", name, anyio.current_time()))
        return Result(name, name not in fail)

    async def main() -> dict[str, Result]:
        return await run_graph(list(deps), deps, work, lambda n, why: Result(n, False, why), keep_going=keep_going)

    return anyio.run(main), events


def test_an_asset_starts_when_its_own_inputs_are_done_not_its_level() -> None:
    deps = {"slow": [], "fast": [], "after_fast": ["fast"], "after_slow": ["slow"]}
    _, events = run(deps, {"slow": 0.3, "fast": 0.01, "after_fast": 0.01, "after_slow": 0.01})
    started = {name: t for kind, name, t in events if kind == "start"}
    ended = {name: t for kind, name, t in events if kind == "end"}
    assert started["after_fast"] < ended["slow"]
    assert started["after_slow"] >= ended["slow"]


def test_concurrency_never_exceeds_the_slots() -> None:
    deps = {f"n{i}": [] for i in range(12)}
    _, events = run(deps, {}, slots=3)
    running = peak = 0
    for kind, _, _ in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 3


def test_without_keep_going_nothing_new_starts_after_a_failure() -> None:
    deps = {"bad": [], "other": ["bad"], "later": ["slowish"], "slowish": []}
    results, _ = run(deps, {"bad": 0.01, "slowish": 0.1}, fail={"bad"})
    assert results["other"].note.startswith("needs 'bad'")
    assert not results["later"].ok and "not started because 'bad' failed" in results["later"].note
    assert results["slowish"].ok  # already running: it finishes


def test_keep_going_skips_only_dependents() -> None:
    deps = {"bad": [], "child": ["bad"], "grandchild": ["child"], "free": [], "free2": ["free"]}
    results, _ = run(deps, {}, fail={"bad"}, keep_going=True)
    assert {n: r.ok for n, r in results.items()} == {
        "bad": False,
        "child": False,
        "grandchild": False,
        "free": True,
        "free2": True,
    }
    assert results["grandchild"].note == "needs 'child', which did not finish"


def test_freed_slots_go_to_the_highest_priority_waiter() -> None:
    order: list[int] = []

    async def main() -> None:
        slots = PrioritySlots(1)

        async def job(priority: int) -> None:
            async with slots.hold(priority):
                order.append(priority)
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as group:
            for priority in (0, 1, 5, 3, 9):
                group.start_soon(job, priority)
                await anyio.sleep(0)

    anyio.run(main)
    assert order == [0, 9, 5, 3, 1]


def test_a_cancelled_waiter_gives_up_its_place() -> None:
    async def main() -> list[str]:
        slots = PrioritySlots(1)
        got: list[str] = []

        async def holder() -> None:
            async with slots.hold():
                await anyio.sleep(0.05)

        async def impatient() -> None:
            with anyio.move_on_after(0.01):
                async with slots.hold(5):
                    got.append("impatient")

        async def patient() -> None:
            async with slots.hold(1):
                got.append("patient")

        async with anyio.create_task_group() as group:
            group.start_soon(holder)
            await anyio.sleep(0)
            group.start_soon(impatient)
            group.start_soon(patient)
        return got

    assert anyio.run(main) == ["patient"]


@given(dags(), st.integers(1, 4))
@settings(max_examples=60, deadline=None)
def test_every_node_starts_after_all_its_inputs_finished(deps: dict[str, list[str]], slots: int) -> None:
    results, events = run(deps, {name: 0 for name in deps}, slots=slots)
    assert all(r.ok for r in results.values()) and set(results) == set(deps)
    position = {(kind, name): i for i, (kind, name, _) in enumerate(events)}
    for name, needs in deps.items():
        for dep in needs:
            assert position[("end", dep)] < position[("start", name)]


@settings(max_examples=60, deadline=None)
@given(dags(), st.integers(min_value=1, max_value=4), st.sets(st.integers(min_value=0, max_value=40)))
def test_work_that_waits_or_not_runs_every_node_once_in_order_within_the_limit(
    deps: dict[str, list[str]], limit: int, waiting: set[int]
) -> None:
    """Some work finishes without waiting (run in the task that made it ready), some waits (a task of its
    own); either way each node runs once, after its deps, and never more than ``max_started`` at once."""
    started: list[str] = []
    ended: set[str] = set()
    running = [0, 0]  # now, most

    async def work(name: str) -> Result:
        assert all(d in ended for d in deps[name]), f"{name} started before its deps ended"
        started.append(name)
        running[0] += 1
        running[1] = max(running[1], running[0])
        if sorted(deps).index(name) in waiting:
            for _ in range(3):
                await anyio.lowlevel.checkpoint()
        running[0] -= 1
        ended.add(name)
        return Result(name, True)

    async def main() -> dict[str, Result]:
        return await run_graph(
            list(deps), deps, work, lambda n, why: Result(n, False, why), keep_going=False, max_started=limit
        )

    results = anyio.run(main)
    assert sorted(started) == sorted(deps) and set(results) == set(deps)
    assert running[1] <= limit
