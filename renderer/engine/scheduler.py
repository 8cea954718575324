"""Run a dependency graph: each node starts the moment its own inputs are done, never waiting for a level.

Slots for real work are handed out by priority (the longest chain still ahead first), which keeps the
total time close to max(critical path, total work / concurrency).
"""

from __future__ import annotations

import heapq
import itertools
import types
from collections.abc import AsyncIterator, Callable, Coroutine, Generator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")


class PrioritySlots:
    """At most ``capacity`` holders at once; a freed slot goes to the waiter with the highest priority."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self.used = 0
        self._waiters: list[list[object]] = []  # [-priority, seq, event, granted]
        self._seq = itertools.count()

    @asynccontextmanager
    async def hold(self, priority: int = 0) -> AsyncIterator[None]:
        if self.used < self.capacity and not self._waiters:
            self.used += 1
        else:
            entry: list[object] = [-priority, next(self._seq), anyio.Event(), False]
            heapq.heappush(self._waiters, entry)
            try:
                await entry[2].wait()  # type: ignore[attr-defined]
            except BaseException:
                if entry[3]:
                    self._release()
                else:
                    entry[3] = None  # withdrawn: skipped when popped
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        while self._waiters:
            entry = heapq.heappop(self._waiters)
            if entry[3] is None:
                continue
            entry[3] = True
            entry[2].set()  # type: ignore[attr-defined]
            return  # the slot passes straight to the waiter
        self.used -= 1


class NodeResult(Protocol):
    @property
    def blocks_dependents(self) -> bool: ...

    @property
    def stops_others(self) -> bool: ...


async def run_graph(
    order: Sequence[str],
    deps: Mapping[str, Sequence[str]],
    work: Callable[[str], Coroutine[Any, Any, NodeResult]],
    skip: Callable[[str, str], NodeResult],
    *,
    keep_going: bool,
    priority: Mapping[str, int] | None = None,
    max_started: int = 256,
) -> dict[str, NodeResult]:
    """Run ``work`` for every name in ``order`` once its deps are done.

    A failure skips everything that needs it. Without ``keep_going`` nothing new starts after a failure,
    but what is already running finishes: those jobs may be paid for. Ready nodes start in order of
    ``priority``, highest first, and at most ``max_started`` are started and unfinished at once (the rest
    wait in the ready queue, not as 100,000 suspended tasks).

    A node's work starts in a task that is free and, if it finishes without waiting (a cached output, a
    plan), the next one follows in the same task: no task per node, which for 100,000 cached assets is
    most of the time. Work that waits keeps its task, and another task goes on with the ready queue.
    """
    rank = priority or {}
    members = set(order)
    users: dict[str, list[str]] = {name: [] for name in order}
    remaining: dict[str, int] = {}
    for name in order:
        own = [d for d in deps.get(name, ()) if d in members]
        remaining[name] = len(own)
        for d in own:
            users[d].append(name)
    results: dict[str, NodeResult] = {}
    blocking: set[str] = set()  # done, and what needs them cannot start (failed, skipped)
    stopping: list[str] = []
    sequence = itertools.count()
    ready: list[tuple[int, int, str]] = []
    started = [0]  # nodes whose work has begun and not ended

    def push(name: str) -> None:
        heapq.heappush(ready, (-rank.get(name, 0), next(sequence), name))

    def done(name: str, result: NodeResult, failed: str | None) -> None:
        results[name] = result
        if result.blocks_dependents:
            blocking.add(name)
        if result.stops_others and not stopping and not keep_going and failed is None:
            stopping.append(name)
        for user in users[name]:
            remaining[user] -= 1
            if remaining[user] == 0:
                push(user)

    async with anyio.create_task_group() as group:

        def another() -> None:
            """Some work waits: a task of its own goes on with the ready queue, unless enough have begun."""
            if ready and started[0] < max_started:
                group.start_soon(drain)

        async def drain() -> None:
            inline = 0
            while ready and started[0] < max_started:
                name = heapq.heappop(ready)[2]
                failed = next((d for d in deps.get(name, ()) if d in blocking), None) if blocking else None
                if failed is not None:
                    done(name, skip(name, f"needs '{failed}', which did not finish"), failed)
                    continue
                if stopping:
                    reason = f"not started because '{stopping[0]}' failed (use --keep-going to go on)"
                    done(name, skip(name, reason), None)
                    continue
                started[0] += 1
                try:
                    coroutine = work(name)
                    try:
                        awaited = coroutine.send(None)
                    except StopIteration as finished:  # done without waiting
                        result = finished.value
                    else:
                        another()
                        result = await _go_on(coroutine, awaited)
                finally:
                    started[0] -= 1
                done(name, result, None)
                inline += 1
                if inline % YIELD_EVERY == 0:
                    await anyio.lowlevel.checkpoint()  # let the others (the lockfile writer) run

        for name in order:
            if remaining[name] == 0:
                push(name)
        group.start_soon(drain)
    return results


YIELD_EVERY = 256  # nodes done in a row without waiting before the task lets others run


@types.coroutine
def _go_on(coroutine: Coroutine[Any, Any, T], awaited: Any) -> Generator[Any, Any, T]:
    """Await a coroutine that has already run up to its first wait (``awaited``), in this same task."""
    while True:
        try:
            sent = yield awaited
        except BaseException as exc:  # cancellation, thrown in by the event loop: on into the coroutine
            try:
                awaited = coroutine.throw(exc)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
        else:
            try:
                awaited = coroutine.send(sent)
            except StopIteration as finished:
                return finished.value  # type: ignore[no-any-return]
