"""Run a dependency graph: each node starts the moment its own inputs are done, never waiting for a level.

Slots for real work are handed out by priority (the longest chain still ahead first), which keeps the
total time close to max(critical path, total work / concurrency).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

import anyio


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
    work: Callable[[str], Awaitable[NodeResult]],
    skip: Callable[[str, str], NodeResult],
    *,
    keep_going: bool,
    priority: Mapping[str, int] | None = None,
) -> dict[str, NodeResult]:
    """Run ``work`` for every name in ``order`` once its deps are done.

    A failure skips everything that needs it. Without ``keep_going`` nothing new starts after a failure,
    but what is already running finishes: those jobs may be paid for. Nodes that become ready together
    start in order of ``priority``, highest first.
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
    stopping: list[str] = []

    async with anyio.create_task_group() as group:

        async def run_one(name: str) -> None:
            failed = next((d for d in deps.get(name, ()) if d in results and results[d].blocks_dependents), None)
            if failed is not None:
                result = skip(name, f"needs '{failed}', which did not finish")
            elif stopping:
                result = skip(name, f"not started because '{stopping[0]}' failed (use --keep-going to go on)")
            else:
                result = await work(name)
            results[name] = result
            if result.stops_others and not stopping and not keep_going and failed is None:
                stopping.append(name)
            ready = []
            for user in users[name]:
                remaining[user] -= 1
                if remaining[user] == 0:
                    ready.append(user)
            for user in sorted(ready, key=lambda n: -rank.get(n, 0)):
                group.start_soon(run_one, user)

        for name in sorted((n for n in order if remaining[n] == 0), key=lambda n: -rank.get(n, 0)):
            group.start_soon(run_one, name)
    return results
