"""The one seam between the engine and anything that makes media.

A job moves through one state machine, whoever runs it::

    queued -> running -> succeeded | failed | cancelled

The engine calls, in order: ``check`` (at load time, no I/O), ``preflight`` (before any work),
``upload`` for each file input, ``submit``, then ``poll`` until the job is terminal, then ``fetch`` to
write the output. Everything the engine, the spec loader and the CLI use is declared in ``Provider``;
what only some providers can do is an optional capability with a Protocol of its own, which callers test
with ``isinstance``:

    DefaultFormats   the output format it delivers per asset type when the spec names none (Vrex: MP3)
    Estimates        a cost estimate before submitting (render plan)
    ReportsUsage     the provider's quota (render usage)
    DeclaresOptions  provider-block options of its own, with a JSON Schema the loader checks them against
    ChecksMachine    what this machine lacks to make an asset (a tool not installed): a warning at
                     validate, and a failure of that asset alone at render
    FindsJobs        finds the job of a submit whose answer was lost without paying twice (an idempotency
                     key, a job listing), so that nobody has to

A paid submit is journaled before it is sent. A submit whose request may have reached the provider but
whose answer proves nothing (a dropped connection, a 500/502/504, a timeout, a body that is not the job)
must raise ``renderer.errors.UnconfirmedSubmit``; any other error means no job was made. A client that
knows when its create request leaves marks it with ``mark_submit_sending(sent)``, so that an interrupt
before that moment leaves nothing unconfirmed.

Tuning (concurrency, poll intervals, retries, pacing) is read from ``ProviderSettings.tuning``.
Errors: raise ``renderer.errors.ProviderError`` (or ``DownloadError``) without the asset's name; the
engine attaches it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import anyio

if TYPE_CHECKING:
    import httpx

    from renderer.providers.http import SlidingWindowLimiter
    from renderer.spec.model import Asset, ProviderSettings


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
    sha256: str  # bare hex
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
    key: str  # the cache key (bare hex)
    output_format: str  # ".png", ".mp4", ".wav", ...
    idempotency_key: str = ""  # one per journaled attempt: the same on a re-send, new after a failed job
    take: int = 0  # of an asset with takes: which candidate (2 and up must be new generations, not cache hits)


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
class SubmitAttempt:
    """Whether a paid create request has left this process: None unknown (taken as sent), False not yet."""

    sent: bool | None = None


SUBMIT_ATTEMPT: ContextVar[SubmitAttempt | None] = ContextVar("render_submit_attempt", default=None)


PROGRESS: ContextVar[Callable[[str], None] | None] = ContextVar("render_progress", default=None)


def report_progress(state: str) -> None:
    """Say what the job running in this context is doing ("retrying after 429 in 12 s", "downloading"):
    the live display shows it beside the asset. A no-op outside a job."""
    show = PROGRESS.get()
    if show is not None:
        show(state)


def mark_submit_sending(sent: bool) -> None:
    attempt = SUBMIT_ATTEMPT.get()
    if attempt is not None:
        attempt.sent = sent


@dataclass
class HttpSession:
    """What HTTP providers share for one run (one ``ProviderPool``): one rate limiter per endpoint and key,
    uploads remembered by content hash, the httpx transport (tests pass ``httpx.MockTransport``), the
    sleep that backoff waits with (tests pass one that only records) and the name resolver that output URLs
    are checked with (None: the system's)."""

    transport: httpx.AsyncBaseTransport | None = None
    sleep: Callable[[float], Awaitable[None]] = anyio.sleep
    limiters: dict[tuple[str, str], SlidingWindowLimiter] = field(default_factory=dict)
    uploads: dict[tuple[str, str, str], str] = field(default_factory=dict)
    resolver: Callable[[str], Awaitable[list[str]]] | None = None


@dataclass
class ProviderContext:
    """What the engine lends a provider: a scratch directory on the cache's filesystem, the environment,
    and the HTTP session of the run."""

    scratch: Path
    environ: dict[str, str]
    http: HttpSession = field(default_factory=HttpSession)


@runtime_checkable
class Provider(Protocol):
    name: ClassVar[str]
    free: ClassVar[bool]  # costs nothing: estimated at 0 unasked, jobs not journaled, --locked may remake outputs
    deterministic: ClassVar[bool]  # same request, same bytes
    recipe_version: ClassVar[str]  # part of every cache key: bump it when outputs change
    default_max_concurrency: ClassVar[int]  # jobs at once when the block sets no max_concurrency

    def __init__(self, settings: ProviderSettings, context: ProviderContext) -> None: ...

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

    async def aclose(self) -> None: ...


@runtime_checkable
class DefaultFormats(Protocol):
    default_formats: ClassVar[dict[str, str]]  # asset type -> extension, e.g. {"music": ".mp3"}


@runtime_checkable
class Estimates(Protocol):
    async def estimate(self, request: JobRequest) -> float | None:
        """The cost in USD of making ``request``, or None when the provider cannot say."""
        ...


@runtime_checkable
class ReportsUsage(Protocol):
    async def usage(self) -> dict[str, Any]:
        """The provider's quota as it reports it (JSON)."""
        ...


@runtime_checkable
class DeclaresOptions(Protocol):
    # JSON Schema "properties" for the provider-block keys this provider adds to the common ones
    options_schema: ClassVar[dict[str, Any]]


@runtime_checkable
class FindsJobs(Protocol):
    async def find_job(self, request: JobRequest) -> Job | None:
        """The job an earlier, unconfirmed submit of ``request`` made, found without any chance of paying
        twice (by its idempotency key, or in a job listing); None when it cannot tell."""
        ...


@runtime_checkable
class ChecksMachine(Protocol):
    @classmethod
    def machine_problems(cls, asset: Asset) -> list[str]:
        """What this machine lacks to make ``asset`` (not a problem of the spec)."""
        ...
