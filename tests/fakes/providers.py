"""A fake paid provider for engine tests: a job store in memory, fixed latency, counts of every call."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import ClassVar

import anyio

from renderer.errors import ProviderError, UnconfirmedSubmit
from renderer.providers.base import InputFile, Job, JobRequest, JobState, ProviderContext
from renderer.spec.model import Asset, ProviderSettings


class FakePaidProvider:
    name: ClassVar[str] = "fake"
    free: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False
    recipe_version: ClassVar[str] = "fake-1"
    default_max_concurrency: ClassVar[int] = 4

    # the "server": shared by every instance, like a remote service across runs
    jobs: ClassVar[dict[str, dict]] = {}
    calls: ClassVar[list[tuple[str, str]]] = []
    running: ClassVar[int] = 0
    peak: ClassVar[int] = 0
    latency: ClassVar[float] = 0.05
    fail_prompts: ClassVar[set[str]] = set()
    # what the next submits meet: "unconfirmed" (the job is made, the answer lost), "refused" (no job),
    # "garbled" (the job is made, the answer cannot be read)
    submit_faults: ClassVar[list[str]] = []
    jobs_by_idempotency: ClassVar[dict[str, str]] = {}
    _ids = itertools.count(1)

    @classmethod
    def reset(cls) -> None:
        cls.jobs, cls.calls, cls.running, cls.peak, cls.fail_prompts = {}, [], 0, 0, set()
        cls.submit_faults = []

    def __init__(self, settings: ProviderSettings, context: ProviderContext) -> None:
        self.settings = settings

    @classmethod
    def check(cls, asset: Asset, assets: dict[str, Asset]) -> list[str]:
        return []

    def preflight(self) -> list[str]:
        return []

    async def upload(self, item: InputFile) -> str:
        self.calls.append(("upload", item.sha256))
        return f"fake://{item.sha256}"

    async def submit(self, request: JobRequest) -> Job:
        fault = self.submit_faults.pop(0) if self.submit_faults else None
        if fault == "refused":
            self.calls.append(("refused", request.asset))
            raise ProviderError("fake", "VALIDATION_ERROR", "refused before any job was made")
        job_id = f"job{next(self._ids)}"
        self.calls.append(("submit", request.asset))
        self.jobs_by_idempotency[request.idempotency_key] = job_id
        failed = request.params.get("prompt") in self.fail_prompts
        self.jobs[job_id] = {"asset": request.asset, "done_at": time.monotonic() + self.latency, "failed": failed}
        type(self).running += 1
        type(self).peak = max(self.peak, self.running)
        if fault == "unconfirmed":
            raise UnconfirmedSubmit("fake", "SUBMIT_UNCONFIRMED", "the server answered 504")
        if fault == "garbled":
            raise KeyError("job_id")
        return Job(id=job_id, state=JobState.QUEUED)

    async def poll(self, job: Job) -> Job:
        self.calls.append(("poll", job.id))
        record = self.jobs[job.id]
        if time.monotonic() < record["done_at"]:
            return Job(id=job.id, state=JobState.RUNNING)
        if not record.get("counted_done"):
            record["counted_done"] = True
            type(self).running -= 1
        if record["failed"]:
            return Job(id=job.id, state=JobState.FAILED, error_code="PROMPT_FILTER_REJECTED", error="not allowed")
        return Job(id=job.id, state=JobState.SUCCEEDED, resolved_model="fake:m1", cost_usd=0.25)

    async def fetch(self, job: Job, dest: Path) -> None:
        self.calls.append(("fetch", job.id))
        await anyio.sleep(0)
        dest.write_bytes(f"made by {job.id} for {self.jobs[job.id]['asset']}".encode())

    async def cancel(self, job: Job) -> None:
        self.calls.append(("cancel", job.id))

    async def estimate(self, request: JobRequest) -> float | None:
        return 0.25

    async def aclose(self) -> None:
        return None

    @classmethod
    def count(cls, kind: str) -> int:
        return sum(1 for call, _ in cls.calls if call == kind)


class FakeIdempotentProvider(FakePaidProvider):
    """Finds the job of a lost submit by its idempotency key, as varg v2 does."""

    async def find_job(self, request: JobRequest) -> Job | None:
        self.calls.append(("find", request.asset))
        job_id = self.jobs_by_idempotency.get(request.idempotency_key)
        return Job(id=job_id, state=JobState.QUEUED) if job_id else await self.submit(request)
