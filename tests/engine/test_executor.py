"""The local executor: upload, submit (journaled when paid), poll with backoff, fetch; resume from the journal."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from renderer.engine.executor import GenerateTask, LocalExecutor
from renderer.engine.journal import Journal
from renderer.engine.pool import ProviderPool
from renderer.errors import ProviderError
from renderer.providers import registry
from renderer.providers.base import ProviderContext
from renderer.spec.model import ProviderSettings
from tests.fakes.providers import FakePaidProvider
from tests.fakes.requests import request


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry.BUILTIN, "fake", "tests.fakes.providers:FakePaidProvider")
    registry.provider_class.cache_clear()
    FakePaidProvider.reset()
    yield
    registry.provider_class.cache_clear()


def executor_at(tmp_path: Path) -> tuple[LocalExecutor, Journal]:
    (tmp_path / "scratch").mkdir(exist_ok=True)
    pool = ProviderPool(
        {"fake": ProviderSettings("fake", "fake", {"poll_interval": 0.01, "max_poll_interval": 0.02})},
        ProviderContext(tmp_path / "scratch", {}),
    )
    journal = Journal(tmp_path / "journal")
    return LocalExecutor(pool, journal, tmp_path / "scratch"), journal


def test_a_paid_job_is_journaled_while_it_runs_and_its_output_fetched(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    seen_in_journal: list[bool] = []
    original_poll = FakePaidProvider.poll

    async def watching_poll(self, job):  # type: ignore[no-untyped-def]
        seen_in_journal.append(journal.get("1" * 64) is not None)
        return await original_poll(self, job)

    FakePaidProvider.poll = watching_poll  # type: ignore[method-assign]
    try:
        generated = anyio.run(executor.execute, GenerateTask("fake", request(key="1" * 64, prompt="p")))
    finally:
        FakePaidProvider.poll = original_poll  # type: ignore[method-assign]
    assert seen_in_journal and all(seen_in_journal)  # the job id was durable before the first poll
    assert generated.path.read_bytes().startswith(b"made by job") and not generated.resumed
    assert FakePaidProvider.count("submit") == 1


def test_a_journaled_job_is_resumed_not_submitted_again(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.jobs["job77"] = {"asset": "a", "done_at": 0.0, "failed": False}
    journal.record("2" * 64, {"provider": "fake", "job_id": "job77", "asset": "a"})
    generated = anyio.run(executor.execute, GenerateTask("fake", request(key="2" * 64)))
    assert generated.resumed and generated.job.id == "job77" and FakePaidProvider.count("submit") == 0


def test_a_failed_job_raises_with_the_provider_code_and_clears_the_journal(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.fail_prompts = {"bad"}
    with pytest.raises(ProviderError) as info:
        anyio.run(executor.execute, GenerateTask("fake", request(key="3" * 64, prompt="bad")))
    assert info.value.code == "PROMPT_FILTER_REJECTED" and info.value.provider == "fake"
    assert journal.get("3" * 64) is None
