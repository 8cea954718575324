"""The local executor: upload, submit (journaled when paid), poll with backoff, fetch; resume from the journal."""

from __future__ import annotations

import errno
from pathlib import Path

import anyio
import pytest

from renderer.engine.executor import GenerateTask, LocalExecutor
from renderer.engine.journal import Journal
from renderer.engine.pool import ProviderPool
from renderer.errors import AssetError, JobWaiting, ProviderError
from renderer.providers import registry
from renderer.providers.base import ProviderContext, mark_submit_sending
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
    journal.submitted(journal.intend("2" * 64, "fake", "a", ""), "job77", {})
    generated = anyio.run(executor.execute, GenerateTask("fake", request(key="2" * 64)))
    assert generated.resumed and generated.job.id == "job77" and FakePaidProvider.count("submit") == 0


def test_a_failed_job_raises_with_the_provider_code_and_clears_the_journal(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.fail_prompts = {"bad"}
    with pytest.raises(ProviderError) as info:
        anyio.run(executor.execute, GenerateTask("fake", request(key="3" * 64, prompt="bad")))
    assert info.value.code == "PROMPT_FILTER_REJECTED" and info.value.provider == "fake"
    assert journal.get("3" * 64) is None


def test_the_intent_is_durable_before_the_request_leaves(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    seen: list[object] = []
    original_submit = FakePaidProvider.submit

    async def watching_submit(self, request):  # type: ignore[no-untyped-def]
        seen.append(journal.get("4" * 64))
        return await original_submit(self, request)

    FakePaidProvider.submit = watching_submit  # type: ignore[method-assign]
    try:
        anyio.run(executor.execute, GenerateTask("fake", request(key="4" * 64, prompt="p")))
    finally:
        FakePaidProvider.submit = original_submit  # type: ignore[method-assign]
    assert seen and seen[0] is not None and seen[0].waiting  # written, with no job id yet
    assert journal.get("4" * 64) is not None and journal.get("4" * 64).job_id  # the id came with the answer


@pytest.mark.parametrize("fault", ["unconfirmed", "garbled"])
def test_an_unconfirmed_submit_waits_across_runs_until_resolved(tmp_path: Path, fault: str) -> None:
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.submit_faults = [fault]
    with pytest.raises(JobWaiting) as info:
        anyio.run(executor.execute, GenerateTask("fake", request(key="5" * 64, prompt="p")))
    assert "may have made a paid job" in info.value.message and "render resolve" in info.value.message
    made = list(FakePaidProvider.jobs)
    for _ in range(2):  # later runs: still waiting, nothing sent
        executor, journal = executor_at(tmp_path)
        with pytest.raises(JobWaiting):
            anyio.run(executor.execute, GenerateTask("fake", request(key="5" * 64, prompt="p")))
    assert FakePaidProvider.count("submit") == 1
    entry = journal.get("5" * 64)
    assert entry is not None
    journal.submitted(entry, made[0], {})  # what `render resolve --job-id` does
    generated = anyio.run(executor.execute, GenerateTask("fake", request(key="5" * 64, prompt="p")))
    assert generated.job.id == made[0] and generated.resumed and FakePaidProvider.count("submit") == 1


def test_a_refused_submit_clears_the_intent(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.submit_faults = ["refused"]
    with pytest.raises(ProviderError):
        anyio.run(executor.execute, GenerateTask("fake", request(key="6" * 64, prompt="p")))
    assert journal.get("6" * 64) is None  # proof that no job was made: the next run may submit


def test_a_provider_with_idempotency_keys_finds_the_lost_job_by_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.BUILTIN, "fake", "tests.fakes.providers:FakeIdempotentProvider")
    registry.provider_class.cache_clear()
    executor, journal = executor_at(tmp_path)
    FakePaidProvider.submit_faults = ["unconfirmed"]
    with pytest.raises(JobWaiting):
        anyio.run(executor.execute, GenerateTask("fake", request(key="7" * 64, prompt="p")))
    executor, journal = executor_at(tmp_path)
    generated = anyio.run(executor.execute, GenerateTask("fake", request(key="7" * 64, prompt="p")))
    assert FakePaidProvider.count("submit") == 1 and FakePaidProvider.count("find") == 1
    assert generated.job.id == next(iter(FakePaidProvider.jobs))


def test_an_interrupt_before_the_request_leaves_leaves_nothing_unconfirmed(tmp_path: Path) -> None:
    executor, journal = executor_at(tmp_path)
    original_submit = FakePaidProvider.submit

    async def pacing_submit(self, request):  # type: ignore[no-untyped-def]
        mark_submit_sending(False)  # waiting for a rate limiter, say
        await anyio.sleep(10)
        return await original_submit(self, request)

    FakePaidProvider.submit = pacing_submit  # type: ignore[method-assign]

    async def interrupted() -> None:
        with anyio.move_on_after(0.2):
            await executor.execute(GenerateTask("fake", request(key="8" * 64, prompt="p")))

    try:
        anyio.run(interrupted)
    finally:
        FakePaidProvider.submit = original_submit  # type: ignore[method-assign]
    assert journal.get("8" * 64) is None


def test_a_job_past_its_deadline_fails_and_stays_journaled(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir(exist_ok=True)
    settings = {"poll_interval": 0.01, "max_poll_interval": 0.02, "job_deadline": 0.05}
    pool = ProviderPool({"fake": ProviderSettings("fake", "fake", settings)}, ProviderContext(tmp_path / "scratch", {}))
    journal = Journal(tmp_path / "journal")
    FakePaidProvider.latency = 3600
    try:
        with pytest.raises(ProviderError) as info:
            anyio.run(
                LocalExecutor(pool, journal, tmp_path / "scratch").execute, GenerateTask("fake", request(key="9" * 64))
            )
    finally:
        FakePaidProvider.latency = 0.05
    assert info.value.code == "DEADLINE" and "job_deadline" in info.value.message
    assert journal.get("9" * 64) is not None and journal.get("9" * 64).job_id


def test_a_full_disk_before_the_submit_sends_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executor, journal = executor_at(tmp_path)

    def full(entry):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal, "write", full)
    with pytest.raises(AssetError) as info:
        anyio.run(executor.execute, GenerateTask("fake", request(key="a" * 64, prompt="p")))
    assert "No space left" in info.value.message and "nothing was sent" in info.value.message
    assert FakePaidProvider.count("submit") == 0


def test_a_full_disk_after_the_submit_names_the_job_to_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    executor, journal = executor_at(tmp_path)
    monkeypatch.setattr(journal, "submitted", lambda *a: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    with pytest.raises(JobWaiting) as info:
        anyio.run(executor.execute, GenerateTask("fake", request(key="b" * 64, prompt="p")))
    job_id = next(iter(FakePaidProvider.jobs))
    assert f"--job-id {job_id}" in info.value.message
    assert journal.get("b" * 64) is not None  # the intent is still there: the next run waits, never re-pays


def test_the_job_says_what_it_is_doing_as_it_goes(tmp_path: Path) -> None:
    (tmp_path / "scratch").mkdir(exist_ok=True)
    pool = ProviderPool(
        {"fake": ProviderSettings("fake", "fake", {"poll_interval": 0.01, "max_poll_interval": 0.02})},
        ProviderContext(tmp_path / "scratch", {}),
    )
    states: list[tuple[str, str]] = []
    executor = LocalExecutor(
        pool, Journal(tmp_path / "journal"), tmp_path / "scratch", lambda a, s: states.append((a, s))
    )
    anyio.run(executor.execute, GenerateTask("fake", request(key="c" * 64, prompt="p")))
    said = [state for _, state in states]
    assert said[0] == "submitting" and "queued" in said and said[-1] == "downloading"
    assert {asset for asset, _ in states} == {"a"}
