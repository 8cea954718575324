"""The one seam between the engine and anything that makes media.

A job moves through one state machine, whoever runs it::

    queued -> running -> succeeded | failed | cancelled

The engine calls, in order: ``check`` (at load time, no I/O), ``upload`` for each file input,
``submit``, then ``poll`` until the job is terminal, then ``fetch`` to write the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from renderer.spec.model import Asset


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass
class InputFile:
    slot: str
    path: Path
    sha256: str
    media_type: str
    url: str | None = None  # set by Provider.upload


@dataclass
class JobRequest:
    asset: str  # for messages only; never part of what is sent
    type: str
    model: str | None
    seed: int | None
    params: dict[str, Any]
    inputs: list[InputFile]
    key: str  # the cache key: providers with idempotency keys derive theirs from it
    output_format: str  # ".png", ".mp4", ".wav", ...


@dataclass
class Job:
    id: str
    state: JobState
    resolved_model: str | None = None
    output_url: str | None = None
    media_type: str | None = None
    cost_usd: float | None = None
    error_code: str | None = None
    error: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderContext:
    """What the engine lends a provider: a scratch directory on the cache's filesystem, the environment."""

    scratch: Path
    environ: dict[str, str]


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]
    free: ClassVar[bool]  # costs nothing: jobs are not journaled, and --locked may remake outputs
    deterministic: ClassVar[bool]  # same request, same bytes
    recipe_version: ClassVar[str]  # part of every cache key: bump it when outputs change

    @classmethod
    def check(cls, asset: Asset, assets: dict[str, Asset]) -> list[str]:
        """Problems with this asset that this provider can see before any work starts."""
        ...

    def preflight(self) -> list[str]:
        """Problems that stop any work with this provider (a missing API key, a refused base_url)."""
        ...

    async def upload(self, item: InputFile) -> str: ...

    async def submit(self, request: JobRequest) -> Job: ...

    async def poll(self, job: Job) -> Job: ...

    async def fetch(self, job: Job, dest: Path) -> str | None:
        """Write the output to ``dest``; return its sha256 hex if it was hashed on the way (else the engine hashes it)."""
        ...

    async def cancel(self, job: Job) -> None: ...

    async def estimate(self, request: JobRequest) -> float | None: ...

    async def aclose(self) -> None: ...
