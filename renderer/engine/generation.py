"""Generation: making an output that does not exist yet.

``Generation`` takes a slot of the asset's provider block and one of the run (``--jobs``), both by
priority (the longest chain ahead first), copies the inputs as they were hashed (inputs.InputCopies),
hands the job to the ``Executor``, probes what came back, and
puts it in the cache before the journal entry goes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import anyio

from renderer.engine.budget import Budget, estimate_cost
from renderer.engine.claims import Held
from renderer.engine.executor import Executor, GenerateTask
from renderer.engine.inputs import InputCopies
from renderer.engine.journal import Journal
from renderer.engine.pool import ProviderPool
from renderer.engine.scheduler import PrioritySlots
from renderer.errors import JobWaiting
from renderer.media.probe import probe
from renderer.media.types import media_type_of
from renderer.providers.base import InputFile, JobRequest
from renderer.records import LockEntry, MediaInfo, OutputRecord
from renderer.spec.model import Asset
from renderer.store.cache import Cache
from renderer.store.remote import Remote


def request_of(asset: Asset, key: str, files: list[InputFile]) -> JobRequest:
    return JobRequest(
        asset=asset.name,
        type=asset.type,
        model=asset.model,
        seed=asset.seed,
        params=dict(asset.params),
        inputs=files,
        key=key,
        output_format=asset.output_format,
        take=asset.take,
    )


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Generation:
    def __init__(
        self,
        pool: ProviderPool,
        executor: Executor,
        cache: Cache,
        journal: Journal,
        locked: Mapping[str, LockEntry],
        *,
        jobs: int,
        priority: Mapping[str, int],
        on_start: Callable[[str, str], None],
        project_root: Path,
        remote: Remote | None = None,
        budget: Budget | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.budget = budget or Budget(None)
        self.project_root = project_root
        self.remote = remote
        self.pool = pool
        self.executor = executor
        self.cache = cache
        self.journal = journal
        self.locked = locked
        self.slots = PrioritySlots(jobs)
        self.priority = priority
        self.on_start = on_start
        self.clock = clock

    async def generate(self, asset: Asset, key: str, files: list[InputFile], held: Held | None = None) -> OutputRecord:
        """Make the output of ``key``; ``held``: the claim on the remote that a paid job is made under."""
        rank = self.priority.get(asset.name, 0)
        copies = InputCopies(self.cache.scratch, self.cache.store, self.project_root)
        try:
            async with self.pool.slots(asset.provider).hold(rank), self.slots.hold(rank):
                self.on_start(asset.name, asset.provider)
                upstream = {ref.slot for ref in asset.inputs if ref.kind != "file"}
                taken = await copies.take(files, upstream)
                task = GenerateTask(asset.provider, request_of(asset, key, taken))
                if held is not None:
                    task.attempt, task.on_sending, task.on_submitted = held.attempt, held.sending, held.submitted
                reserved = await self.reserve(asset, key, task)
                try:
                    generated = await self.executor.execute(task)
                except JobWaiting:
                    if reserved:  # the job may exist, and cost: counted as its estimate
                        self.budget.settle(key, None)
                    raise
                except BaseException:
                    if reserved:
                        self.budget.release(key)
                    raise
                if reserved:
                    self.budget.settle(key, generated.job.cost_usd)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(copies.remove)
        try:
            info = MediaInfo.from_dict(await anyio.to_thread.run_sync(probe, generated.path))
        except Exception:  # a file ffmpeg cannot read is still the provider's output; it has a type
            info = MediaInfo(media_type=media_type_of(generated.path))
        job = generated.job
        record = OutputRecord(
            sha256=generated.sha256,
            bytes=generated.bytes,
            media_type=info.media_type or job.media_type,
            provider=asset.provider,
            model=asset.model,
            resolved_model=job.resolved_model,
            job_id=job.id,
            cost_usd=job.cost_usd,
            created=self.clock(),
            probe=info,
        )
        locked = self.locked.get(asset.name)
        if locked and locked.key == key and locked.sha256 == generated.sha256:
            # The same bytes as the lockfile names (a deterministic remake): keep its history, so the
            # lockfile stays byte-identical on a machine with an empty cache.
            record = _with_history(record, locked)
        # Durable writes (fsync, sqlite) in a worker thread, so other jobs are not held up; the journal
        # entry goes only once the bytes are safe in the cache.
        if self.remote is not None and self.remote.push:
            record = await anyio.to_thread.run_sync(self.push, key, generated.path, record)
        await anyio.to_thread.run_sync(self.cache.put, key, generated.path, record)
        with anyio.CancelScope(shield=True):  # a Ctrl-C here must not leave an entry for a finished job
            await anyio.to_thread.run_sync(self.journal.remove, key)
        return record

    async def reserve(self, asset: Asset, key: str, task: GenerateTask) -> bool:
        """Reserve a paid job's estimated cost under the run's budget (budget.py); False: nothing to hold
        (no budget, a free provider, or a job the journal has, which is paid for already)."""
        if self.budget.cap is None or self.pool.class_of(asset.provider).free or self.journal.get(key) is not None:
            return False
        self.budget.reserve(asset.name, key, await estimate_cost(self.pool, asset, task.request))
        return True

    def push(self, key: str, source: Path, record: OutputRecord) -> OutputRecord:
        """Blob first, then its record: a record in the remote always has its bytes. The first record of a
        key stays: a machine that made the same bytes too (a free, deterministic job that two machines ran
        at once) takes its history, so that their lockfiles agree. A remote that fails costs a note, never
        the output."""
        remote = self.remote
        assert remote is not None
        try:
            remote.put_blob(source, record.sha256)
            if remote.put_record(key, record.to_dict(), only_new=True):
                return record
            try:
                first = OutputRecord.from_dict(remote.get_record(key) or {})
            except (ValueError, TypeError, KeyError):
                first = None
            if first is not None and first.sha256 == record.sha256:
                return record._replace(created=first.created, job_id=first.job_id, resolved_model=first.resolved_model)
            if first is None or not remote.has_blob(first.sha256, first.bytes):
                remote.put_record(key, record.to_dict())  # the first one had lost its bytes, or was junk
        except OSError as exc:
            self.cache.notes.append(_push_note(remote, exc))
        return record


def _push_note(remote: Remote, exc: Exception) -> str:
    return f"note: could not push to the remote {remote.url} ({exc}); the output is kept in this cache"


def _with_history(record: OutputRecord, locked: LockEntry) -> OutputRecord:
    return record._replace(
        created=locked.created or record.created,
        job_id=locked.job_id or record.job_id,
        resolved_model=locked.resolved_model or record.resolved_model,
    )
