"""What a run is asked to do (RenderOptions), what it reports as it goes (Reporter), and what it gives
back (an Outcome per asset in a RunResult)."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from renderer.errors import AssetError, RenderError
from renderer.records import AssetStatus, Decided, OutputRecord, RunMode, StateAsset
from renderer.spec.model import Asset

Visit = Callable[[Asset, "Outcome"], Awaitable[None]]


class Reporter(Protocol):
    def begin(self, total: int) -> None: ...
    def started(self, name: str, provider: str) -> None: ...
    def progress(self, name: str, state: str) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...
    def note(self, message: str) -> None: ...
    def end(self) -> None: ...


@dataclass(frozen=True)
class ExecutorChoice:
    """Where jobs run: ``local`` (this process), ``dask`` (a local cluster of worker processes), or the
    address of a running Dask scheduler (``dask://host:port`` or ``tcp://host:port``)."""

    kind: str  # "local", "cluster" or "scheduler"
    address: str = ""
    workers: int | None = None  # a local cluster's worker processes (default: one per core)
    shared_cache: bool = False  # the workers see this machine's cache folder at the same path

    @classmethod
    def parse(cls, text: str, *, workers: int | None = None, shared_cache: bool = False) -> ExecutorChoice:
        value = text.strip()
        if value in ("", "local"):
            return cls("local")
        if value == "dask":
            return cls("cluster", workers=workers, shared_cache=True)
        for scheme in ("dask://", "tcp://", "tls://"):
            if value.startswith(scheme) and len(value) > len(scheme):
                address = "tcp://" + value[len(scheme) :] if scheme == "dask://" else value
                return cls("scheduler", address, workers, shared_cache)
        raise ValueError(
            f"'{text}' is not an executor: use local, dask (a cluster on this machine), or dask://HOST:PORT"
        )


@dataclass
class RenderOptions:
    cache_dir: Path
    state_dir: Path | None = None  # the project's own state (journal); None: .render beside the spec
    remote: str | None = None  # the shared cache to use (the CLI has settled spec, flag and environment)
    remote_push: bool = True
    claim_timeout: float = 120.0  # seconds a claim on the remote lives without a heartbeat (claims.py)
    executor: ExecutorChoice = field(default_factory=lambda: ExecutorChoice("local"))
    # the project is a part of a spec decided incrementally (incremental.py): its premade assets are taken as
    # made and never visited, and the spec's other assets stay as the snapshot it was decided against has them
    part: Decided | None = None
    max_cost: float | None = None  # USD one run may spend on paid jobs (budget.py); None: no cap
    allow_unknown_cost: bool = False  # under a cap, submit jobs whose cost nobody can estimate
    mode: RunMode = RunMode.RENDER
    jobs: int = 8
    keep_going: bool = False
    selection: list[str] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    version: str = ""


@dataclass(slots=True)
class Outcome:
    name: str
    status: AssetStatus
    provider: str = ""
    output: str | None = None
    sha256: str | None = None
    error: str | None = None
    cost_usd: float | None = None
    key: str | None = None
    record: OutputRecord | None = None
    reason: str | None = None  # why it is made (again): engine/why.py

    @property
    def ok(self) -> bool:
        return self.status.ok

    @property
    def blocks_dependents(self) -> bool:
        return self.status.blocks_dependents

    @property
    def stops_others(self) -> bool:
        return self.status.stops_others


@dataclass
class RunResult:
    outcomes: dict[str, Outcome]  # in the order of the graph
    lock_current: bool = True
    lock_problems: list[str] = field(default_factory=list)
    decided_again: int | None = None  # a part of a spec: how many assets it decided (incremental.py)
    manifest: Path | None = None
    notes: list[str] = field(default_factory=list)  # what the user should know about the run as a whole
    # a part of a spec (incremental.py): the assets it did not decide, cached as the last snapshot has them,
    # and not in ``outcomes`` unless a report needs each one (--json): 100,000 outcomes cost 0.4 s
    unchanged: Mapping[str, StateAsset] = field(default_factory=dict)

    def count(self, status: AssetStatus) -> int:
        decided = sum(1 for o in self.outcomes.values() if o.status == status)
        return decided + len(self.unchanged) if status is AssetStatus.CACHED else decided

    def __repr__(self) -> str:
        # short: asyncio's signal handling reprs the finished main task, result and all (0.5 s at 100,000)
        return f"RunResult({len(self.outcomes)} outcomes, manifest={self.manifest})"


def failure_message(exc: Exception, asset: str) -> str:
    """What an outcome says of the exception that failed it: the message alone where render raised it on
    purpose, the file for an OS error, the type for anything else (a provider bug)."""
    if isinstance(exc, AssetError):
        return exc.for_asset(asset).message
    if isinstance(exc, RenderError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
    return f"{type(exc).__name__}: {exc}"


SECRET_NAMES = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")


def secret_scrubber(environ: Mapping[str, str]) -> Callable[[str], str]:
    """A function that takes every secret of the environment out of a message (a provider that echoes the
    Authorization header in an error must not put the key in a log, a message or --json)."""
    secrets = sorted(
        {v for k, v in environ.items() if any(word in k.upper() for word in SECRET_NAMES) and len(v) >= 8},
        key=len,
        reverse=True,
    )

    def scrub(text: str) -> str:
        for secret in secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    return scrub
