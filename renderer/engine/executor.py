"""Executors run generation jobs that the scheduler hands them.

``LocalExecutor`` drives a provider in this process: upload, submit (journaled ahead for paid providers),
poll with backoff until the job is done or its deadline passes, fetch into scratch space. A distributed executor (Dask, say) implements the same
``execute`` and returns the same ``Generated``; the engine does not change.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import anyio

from renderer.engine.journal import Journal, JournalEntry
from renderer.errors import AssetError, JobWaiting, ProviderError, UnconfirmedSubmit
from renderer.media.types import kind_of, media_type_of
from renderer.providers.base import (
    PROGRESS,
    SUBMIT_ATTEMPT,
    FindsJobs,
    Job,
    JobRequest,
    JobState,
    Provider,
    SubmitAttempt,
)
from renderer.store.atomic import sha256_file

if TYPE_CHECKING:
    from renderer.engine.pool import ProviderPool

T = TypeVar("T")


async def _nothing(*_: Any) -> None:
    return None


@dataclass
class GenerateTask:
    provider: str  # the provider block's name
    request: JobRequest
    # A claim on the remote (claims.py) sets these: the attempt token to submit with, and where else the
    # create request's departure and the job id must be known before render goes on.
    attempt: str | None = None
    on_sending: Callable[[], Awaitable[None]] = _nothing
    on_submitted: Callable[[Job, str], Awaitable[None]] = _nothing


@dataclass
class Generated:
    path: Path  # in scratch space on the cache's filesystem; the engine moves it into the store
    sha256: str
    bytes: int
    job: Job
    resumed: bool


class Executor(Protocol):
    async def execute(self, task: GenerateTask) -> Generated: ...

    async def aclose(self) -> None: ...


class LocalExecutor:
    """Runs jobs in this process. A paid job goes through the write-ahead journal (see journal.py): the
    intent before the create request leaves, the job id when it answers; an unconfirmed submit is never
    sent again by itself."""

    def __init__(
        self,
        providers: ProviderPool,
        journal: Journal,
        scratch: Path,
        on_state: Callable[[str, str], None] = lambda asset, state: None,
    ) -> None:
        self.providers = providers
        self.journal = journal
        self.scratch = scratch
        self.on_state = on_state  # (asset, what its job is doing): the live display

    async def execute(self, task: GenerateTask) -> Generated:
        token = PROGRESS.set(lambda state: self.on_state(task.request.asset, state))
        try:
            return await self._execute(task)
        finally:
            PROGRESS.reset(token)

    async def _execute(self, task: GenerateTask) -> Generated:
        provider = self.providers.get(task.provider)
        tuning = self.providers.settings_for(task.provider).tuning
        request = task.request
        if provider.free:
            await self._upload(provider, request)
            self.on_state(request.asset, "making")
            job, resumed, since = await provider.submit(request), False, time.time()
        else:
            job, resumed, since = await self._paid_job(task, provider)
        delay, ceiling = tuning.poll_interval, tuning.max_poll_interval
        while not job.state.terminal:
            if time.time() - since > tuning.job_deadline:
                raise ProviderError(
                    task.provider,
                    "DEADLINE",
                    f"job {job.id} has been queued or running for more than {tuning.job_deadline:g} s, so render "
                    "stopped waiting for it. It stays journaled: the next render collects it if it finished "
                    "(raise 'job_deadline' in the provider block to wait longer, or 'render cancel' it)",
                )
            self.on_state(request.asset, job.state.value)
            await anyio.sleep(delay)
            delay = min(delay * 1.5, ceiling)
            job = await provider.poll(job)
        if job.state is not JobState.SUCCEEDED:
            await _durably(self.journal.remove, request.key)
            raise ProviderError(
                task.provider,
                job.error_code or job.state.value,
                job.error or f"the job ended as {job.state.value}",
            )
        dest = self.scratch / f"{uuid.uuid4().hex}{request.output_format}"
        if not provider.free:
            self.on_state(request.asset, "downloading")
        try:
            streamed = await provider.fetch(job, dest)
            if streamed:
                digest, size = streamed, dest.stat().st_size
            else:
                digest, size = await anyio.to_thread.run_sync(sha256_file, dest)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return Generated(dest, digest, size, job, resumed)

    async def _upload(self, provider: Provider, request: JobRequest) -> None:
        if request.inputs and not provider.free:
            self.on_state(request.asset, "uploading")
        for item in request.inputs:
            item.url = await provider.upload(item)

    async def _paid_job(self, task: GenerateTask, provider: Provider) -> tuple[Job, bool, float]:
        """The job for a paid request: resumed from the journal, found, or submitted once."""
        request = task.request
        entry = self.journal.get(request.key)
        if entry is not None and entry.provider == task.provider:
            request.idempotency_key = entry.attempt
            if entry.job_id:  # what the job must deliver, unless the entry says (one from a claim may not)
                job = Job(id=entry.job_id, state=JobState.QUEUED, data={**following(request), **entry.data})
                return await provider.poll(job), True, entry.submitted_at or time.time()
            if isinstance(provider, FindsJobs):
                await self._upload(provider, request)
                found = await self._submit(entry, request, provider.find_job)
                if found is not None:
                    await task.on_submitted(found, task.provider)
                    return found, True, time.time()
            raise JobWaiting(waiting_message(entry))
        await self._upload(provider, request)
        try:
            entry = await _durably(
                self.journal.intend,
                request.key,
                task.provider,
                request.asset,
                request_digest(request),
                following(request),
                task.attempt,
            )
        except OSError as exc:
            raise AssetError(
                f"cannot write the journal of paid jobs in {self.journal.directory} ({exc.strerror or exc}), so "
                f"nothing was sent to {task.provider}; free some space or fix the folder, then render again"
            ) from None
        request.idempotency_key = entry.attempt
        self.on_state(request.asset, "submitting")
        await task.on_sending()
        submitted = await self._submit(entry, request, provider.submit)
        assert submitted is not None
        await task.on_submitted(submitted, task.provider)
        return submitted, False, time.time()

    async def _submit(
        self, entry: JournalEntry, request: JobRequest, send: Callable[[JobRequest], Awaitable[Job | None]]
    ) -> Job | None:
        attempt = SubmitAttempt()
        token = SUBMIT_ATTEMPT.set(attempt)
        job: Job | None = None
        try:
            job = await send(request)
        except UnconfirmedSubmit as exc:
            entry = await _durably(self.journal.mark_unconfirmed, entry, exc.detail)
            raise JobWaiting(waiting_message(entry)) from None
        except ProviderError:  # any other ProviderError proves that no job was made (see providers/base.py)
            await _durably(self.journal.remove, entry.key)
            raise
        except Exception as exc:  # the answer came but could not be read: a job may exist
            entry = await _durably(self.journal.mark_unconfirmed, entry, f"its answer could not be read ({exc!r})")
            raise JobWaiting(waiting_message(entry)) from None
        except BaseException:  # cancelled: the intent stays unless the request had surely not left
            if attempt.sent is False and entry.unconfirmed is None:
                await _durably(self.journal.remove, entry.key)
            raise
        finally:
            SUBMIT_ATTEMPT.reset(token)
        if job is not None:
            try:
                await _durably(self.journal.submitted, entry, job.id, job.data)
            except OSError as exc:
                raise JobWaiting(
                    f"{entry.provider} made job {job.id}, but render could not write its id to the journal in "
                    f"{self.journal.directory} ({exc.strerror or exc}). Once the disk has room, run "
                    f"'render resolve SPEC {entry.asset} --job-id {job.id}' and render again to collect it"
                ) from None
        return job

    async def aclose(self) -> None:
        await self.providers.aclose()


async def _durably(function: Callable[..., T], *args: Any) -> T:
    """A journal write in a worker thread (fsync must not hold up the event loop) that a cancellation
    cannot cut short: what render knows about paid jobs is never lost half-way."""
    with anyio.CancelScope(shield=True):
        result = await anyio.to_thread.run_sync(function, *args)
    return result


def following(request: JobRequest) -> dict[str, Any]:
    """What following a job needs before its provider has said anything: the kind of media it must deliver."""
    return {"asset": request.asset, "expect": kind_of(media_type_of("x" + request.output_format))}


def request_digest(request: JobRequest) -> str:
    """sha256 of what is sent for ``request``: its recipe with inputs by content, not by upload URL."""
    described = {
        "type": request.type,
        "model": request.model,
        "seed": request.seed,
        "params": request.params,
        "inputs": [[item.slot, item.sha256] for item in request.inputs],
        "format": request.output_format,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def waiting_message(entry: JournalEntry) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.intended_at or 0))
    return (
        f"a request to {entry.provider} at {when} may have made a paid job, but {entry.why()}. "
        "render will not pay again on its own: look for the job in the provider's dashboard, then settle it "
        "with 'render resolve'"
    )
