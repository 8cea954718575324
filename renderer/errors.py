"""Errors that render reports to the user.

RenderError                  anything render reports without a traceback
├── UsageError               bad command line                     (exit 2)
├── SpecError                a project file with problems         (exit 2)
│                            holds every Problem found, each with file, line and column
└── AssetError               one asset could not be made          (exit 1, others may go on)
    ├── ProviderError        the provider refused or failed the job (code, message)
    └── CacheError           a cached or locked output does not verify
"""

from __future__ import annotations

from dataclasses import dataclass


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


class AssetError(RenderError):
    exit_status = 1

    def __init__(self, asset: str, message: str) -> None:
        self.asset = asset
        self.message = message
        super().__init__(f"asset '{asset}': {message}")


class ProviderError(AssetError):
    def __init__(self, asset: str, provider: str, code: str, message: str, *, retryable: bool = False) -> None:
        self.provider = provider
        self.code = code
        self.retryable = retryable
        super().__init__(asset, f"{provider} refused the job: {code}: {message}")


class CacheError(AssetError):
    pass
