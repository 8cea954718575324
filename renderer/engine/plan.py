"""Planning: what a render would do, without making anything (render plan, --dry-run, --check, and the
preflight). Each asset goes through inputs, key and find, then stops: "cached", or "generate" with an
estimated cost (a dry run only: --check asks no provider anything). Where a cached output's lockfile entry
is missing or differs from what a render would write, the lockfile is not current."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from renderer.engine.bookkeeping import lock_entry
from renderer.engine.budget import estimate_cost, priced
from renderer.engine.generation import request_of
from renderer.engine.inputs import Inputs
from renderer.engine.outputs import Outputs
from renderer.engine.pool import ProviderPool
from renderer.engine.results import Outcome, Reporter, Visit
from renderer.engine.scheduler import PrioritySlots
from renderer.errors import ProviderError
from renderer.records import AssetStatus, LockEntry
from renderer.spec.model import Asset

Locate = Callable[[Asset, Outcome], Awaitable[tuple[Inputs, str] | None]]


class Planner:
    def __init__(
        self,
        locate: Locate,
        outputs: Outputs,
        locked: Mapping[str, LockEntry],
        pool: ProviderPool,
        slots: PrioritySlots,
        reporter: Reporter,
    ) -> None:
        self.locate = locate  # phases inputs and key
        self.outputs = outputs
        self.locked = locked
        self.pool = pool
        self.slots = slots  # estimates are requests too: no more at once than --jobs
        self.reporter = reporter
        self.lock_problems: list[str] = []

    def visit(self, *, estimate: bool) -> Visit:
        async def visit(asset: Asset, outcome: Outcome) -> None:
            outcome.status = AssetStatus.GENERATE
            located = await self.locate(asset, outcome)
            if located is None:
                outcome.error = "after its inputs are made"
                if self.pool.class_of(asset.provider).free:
                    outcome.cost_usd = 0.0
                return
            inputs, key = located
            record = await self.outputs.find(asset, key, adopt=False)
            if record is not None:
                outcome.status, outcome.record, outcome.sha256 = AssetStatus.CACHED, record, record.sha256
                if self.locked.get(asset.name) != lock_entry(asset, key, inputs.hashes, record):
                    self.lock_problems.append(f"asset '{asset.name}': its lockfile entry is missing or out of date")
            elif estimate:
                outcome.cost_usd = await self.estimate(asset, key, inputs)

        return visit

    async def estimate(self, asset: Asset, key: str, inputs: Inputs) -> float | None:
        """The provider's estimate, else the block's prices (budget.estimate_cost); None if unknown."""
        if self.pool.class_of(asset.provider).free:  # nothing to ask: a matrix edit plans 100,000 of them
            return 0.0
        if self.pool.estimator(asset.provider) is None:
            return priced(self.pool.settings_for(asset.provider).options.get("prices"), asset)
        try:
            async with self.slots.hold():
                return await estimate_cost(self.pool, asset, request_of(asset, key, inputs.files))
        except ProviderError as exc:
            self.reporter.note(f"  note: no estimate for '{asset.name}': {exc.message}")
            return None
