"""The budget: the most one run may spend (``--max-cost USD``, ``budget: USD`` in the spec).

Before each paid submit, the job's estimated cost is reserved; a job whose reservation would take what is
spent and reserved past the cap is not submitted (it fails with ``OverBudget``, so nothing new starts
without --keep-going, and what runs finishes). A finished job's reservation becomes what it cost (its
actual cost where the provider says, else the estimate). A job resumed from the journal, or made by
another machine, was paid for already: it reserves nothing. A later run with a higher cap pays again for
nothing: what was made is in the cache.

Estimates come from the provider (varg v2's estimate endpoint; Vrex by the second), else from ``prices:``
in the provider block, per model (or ``"*"``): ``{per_job: USD}`` or ``{per_second: USD}`` (times the
asset's ``duration``). Under a budget, a job whose cost is unknown is not submitted unless
``--allow-unknown-cost``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from renderer.engine.pool import ProviderPool
from renderer.errors import AssetError, ProviderError
from renderer.providers.base import JobRequest
from renderer.spec.model import Asset


class OverBudget(AssetError):
    """A paid job that was not submitted: it would have crossed the run's budget (or its cost is unknown)."""


@dataclass
class Budget:
    cap: float | None  # None: no budget, nothing is refused
    allow_unknown: bool = False
    spent: float = 0.0  # what finished jobs cost this run
    reserved: dict[str, float] = field(default_factory=dict)  # by cache key: estimates of running jobs
    refused: dict[str, float | None] = field(default_factory=dict)  # asset -> its estimate (None: unknown)

    def reserve(self, asset: str, key: str, estimate: float | None) -> None:
        """Hold ``estimate`` for the job of ``key``, or raise OverBudget."""
        if self.cap is None:
            return
        if estimate is None and not self.allow_unknown:
            self.refused[asset] = None
            raise OverBudget(
                f"not submitted: its cost is unknown and the run has a budget of ${self.cap:.2f}; give "
                "'prices:' in the provider block, or --allow-unknown-cost"
            )
        committed = self.spent + sum(self.reserved.values())
        if estimate is not None and committed + estimate > self.cap + 1e-9:
            self.refused[asset] = estimate
            raise OverBudget(
                f"not submitted: about ${estimate:.4f} would take this run past its budget of ${self.cap:.2f} "
                f"(${committed:.4f} spent or running)"
            )
        self.reserved[key] = estimate or 0.0

    def settle(self, key: str, actual: float | None) -> None:
        """The job of ``key`` ended: its reservation becomes what it cost (the estimate if unknown)."""
        estimate = self.reserved.pop(key, None)
        cost = actual if actual is not None else estimate
        if cost is not None and self.cap is not None:
            self.spent += cost

    def release(self, key: str) -> None:
        """The job of ``key`` made nothing that costs (refused, failed before a job existed)."""
        self.reserved.pop(key, None)

    def summary(self) -> str | None:
        """One line for the end of a run that refused jobs: spent, not started, about how much more."""
        if not self.refused or self.cap is None:
            return None
        known = sum(v for v in self.refused.values() if v is not None)
        unknown = sum(1 for v in self.refused.values() if v is None)
        names = ", ".join(sorted(self.refused)[:8]) + (" ..." if len(self.refused) > 8 else "")
        more = f"about ${known:.4f} more" + (f" plus {unknown} of unknown cost" if unknown else "")
        return (
            f"budget ${self.cap:.2f}: spent ${self.spent:.4f}; not started: {names} (needs {more}); "
            "raise --max-cost (or 'budget:') and render again: nothing is paid twice"
        )


async def estimate_cost(pool: ProviderPool, asset: Asset, request: JobRequest) -> float | None:
    """What a paid job will cost: the provider's estimate, else the block's ``prices:``; None if unknown."""
    provider = pool.estimator(asset.provider)
    if provider is not None:
        try:
            found = await provider.estimate(request)
        except ProviderError:
            found = None
        if found is not None:
            return found
    return priced(pool.settings_for(asset.provider).options.get("prices"), asset)


def priced(prices: Any, asset: Asset) -> float | None:
    if not isinstance(prices, dict):
        return None
    price = prices.get(asset.model or "") or prices.get("*")
    if not isinstance(price, dict):
        return None
    if isinstance(price.get("per_job"), (int, float)):
        return float(price["per_job"])
    duration = asset.params.get("duration")
    if isinstance(price.get("per_second"), (int, float)) and isinstance(duration, (int, float)):
        return float(price["per_second"]) * float(duration)
    return None
