"""Errors that render reports to the user, with no traceback.

RenderError                    anything render reports without a traceback
├── UsageError                 a bad command line or selection                          (exit 2)
├── SpecError                  a project file with problems: every Problem, each with     (exit 2)
│                              file, line and column
├── LockfileError              a lockfile that cannot be read (a merge conflict, say)     (exit 2)
├── SetupError                 a provider that cannot be used: a missing API key, a       (exit 2)
│                              refused base_url, an output path through a symbolic link
└── AssetError                 one asset could not be made; others may go on              (exit 1)
    ├── ProviderError          the provider refused or failed the job (code, message)
    │   ├── DownloadError      the job succeeded but its output could not be fetched
    │   └── UnconfirmedSubmit  the create request went out but no answer proves whether a job exists
    ├── JobWaiting             a paid job may exist from an earlier submit; render will not pay again
    │                          until the user says what happened (render resolve)
    └── CacheError             a cached or locked output does not verify

An AssetError is raised without the asset's name where the failure happens (deep in an HTTP call, say);
the engine, which knows which asset it was making, attaches the name with ``for_asset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RenderError(Exception):
    exit_status = 2


class UsageError(RenderError):
    pass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with a project file, at a place in it."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class SpecError(RenderError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class LockfileError(RenderError):
    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path = path
        self.line = line
        super().__init__(f"{path}:{line}: {message}")


class SetupError(RenderError):
    pass


class AssetError(RenderError):
    exit_status = 1

    def __init__(self, message: str, *, asset: str | None = None) -> None:
        self.message = message
        self.asset = asset
        super().__init__(message)

    def for_asset(self, asset: str) -> AssetError:
        """Name the asset this happened to (once; the innermost name wins)."""
        if self.asset is None:
            self.asset = asset
        return self

    def __str__(self) -> str:
        return f"asset '{self.asset}': {self.message}" if self.asset else self.message


class ProviderError(AssetError):
    verb = "refused the job"

    def __init__(self, provider: str, code: str, message: str, *, retryable: bool = False) -> None:
        self.provider = provider
        self.code = code
        self.detail = message
        self.retryable = retryable
        super().__init__(f"{provider} {self.verb}: {code}: {message}")


class DownloadError(ProviderError):
    verb = "made the output, but it could not be downloaded"


class UnconfirmedSubmit(ProviderError):
    """Raised by a provider's submit when the request was sent and its answer lost or ambiguous."""

    verb = "may have created the job, but its answer was lost"


class JobWaiting(AssetError):
    pass


class CacheError(AssetError):
    pass
