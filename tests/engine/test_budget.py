"""The budget: reservations before submits, what finished jobs cost, what was refused and why."""

from __future__ import annotations

import pytest

from renderer.engine.budget import Budget, OverBudget, priced
from renderer.spec.model import Asset


def test_no_cap_refuses_nothing_and_counts_nothing() -> None:
    budget = Budget(None)
    budget.reserve("a", "k1", None)
    budget.settle("k1", 3.0)
    assert budget.spent == 0.0 and budget.summary() is None


def test_a_job_that_would_cross_the_cap_is_refused_and_named_in_the_summary() -> None:
    budget = Budget(0.10)
    budget.reserve("a", "k1", 0.04)
    budget.reserve("b", "k2", 0.04)  # 0.08 held by running jobs
    with pytest.raises(OverBudget, match=r"past its budget of \$0.10"):
        budget.reserve("c", "k3", 0.04)
    budget.settle("k1", 0.05)  # it cost more than estimated
    budget.settle("k2", None)  # the provider did not say: the estimate counts
    assert budget.spent == pytest.approx(0.09) and budget.reserved == {}
    with pytest.raises(OverBudget):
        budget.reserve("d", "k4", 0.02)
    summary = budget.summary()
    assert summary is not None and "spent $0.0900" in summary and "not started: c, d" in summary
    assert "about $0.0600 more" in summary


def test_a_job_that_failed_gives_its_reservation_back() -> None:
    budget = Budget(0.05)
    budget.reserve("a", "k1", 0.05)
    budget.release("k1")
    budget.reserve("b", "k2", 0.05)  # fits again
    assert budget.reserved == {"k2": 0.05}


def test_unknown_costs_are_refused_under_a_cap_unless_allowed() -> None:
    with pytest.raises(OverBudget, match="allow-unknown-cost"):
        Budget(1.0).reserve("a", "k", None)
    allowed = Budget(1.0, allow_unknown=True)
    allowed.reserve("a", "k", None)
    assert allowed.reserved == {"k": 0.0}


def asset(model: str | None, **params: object) -> Asset:
    return Asset("a", "video", "varg", model, None, dict(params), [], "a.mp4")


def test_prices_per_job_per_second_and_for_any_model() -> None:
    prices = {"kling-v3": {"per_second": 0.1}, "*": {"per_job": 0.5}}
    assert priced(prices, asset("kling-v3", duration=5)) == pytest.approx(0.5)
    assert priced(prices, asset("sora-2", duration=5)) == 0.5
    assert priced(prices, asset("kling-v3")) is None  # per second with no duration: unknown
    assert priced(None, asset("kling-v3", duration=5)) is None
