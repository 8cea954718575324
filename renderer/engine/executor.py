"""Executors run generation jobs that the scheduler hands them.

``LocalExecutor`` drives a provider in this process: upload, submit (journaled for paid providers), poll
with backoff, fetch into scratch space. A distributed executor (Dask, say) implements the same
``execute`` and returns the same ``Generated``; the engine does not change.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import anyio

from renderer.engine.journal import Journal
from renderer.errors import ProviderError
from renderer.providers.base import Job, JobRequest, JobState
from renderer.store.atomic import sha256_file

if TYPE_CHECKING:
    from renderer.engine.pool import ProviderPool


@dataclass
class GenerateTask:
    provider: str  # the provider block's name
    request: JobRequest


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
    def __init__(self, providers: ProviderPool, journal: Journal, scratch: Path) -> None:
        self.providers = providers
        self.journal = journal
        self.scratch = scratch

    async def execute(self, task: GenerateTask) -> Generated:
        provider = self.providers.get(task.provider)
        tuning = self.providers.settings_for(task.provider).tuning
        request = task.request
        entry = None if provider.free else self.journal.get(request.key)
        resumed = entry is not None and entry.get("provider") == task.provider
        if entry is not None and resumed:
            job = Job(id=entry["job_id"], state=JobState.QUEUED, data=entry.get("data") or {})
            job = await provider.poll(job)
        else:
            for item in request.inputs:
                item.url = await provider.upload(item)
            job = await provider.submit(request)
            if not provider.free:  # in a worker thread, not cancellable: the record is made before anything else
                await anyio.to_thread.run_sync(
                    self.journal.record,
                    request.key,
                    {
                        "provider": task.provider,
                        "job_id": job.id,
                        "asset": request.asset,
                        "submitted_at": time.time(),
                        "data": job.data,
                    },
                )
        delay, ceiling = tuning.poll_interval, tuning.max_poll_interval
        while not job.state.terminal:
            await anyio.sleep(delay)
            delay = min(delay * 1.5, ceiling)
            job = await provider.poll(job)
        if job.state is not JobState.SUCCEEDED:
            await anyio.to_thread.run_sync(self.journal.remove, request.key)
            raise ProviderError(
                task.provider,
                job.error_code or job.state.value,
                job.error or f"the job ended as {job.state.value}",
            )
        dest = self.scratch / f"{uuid.uuid4().hex}{request.output_format}"
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

    async def aclose(self) -> None:
        await self.providers.aclose()
