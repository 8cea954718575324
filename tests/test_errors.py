"""The error tree: exit statuses, and the asset's name attached where the engine handles the job."""

from __future__ import annotations

from pathlib import Path

from renderer.errors import (
    AssetError,
    CacheError,
    DownloadError,
    LockfileError,
    Problem,
    ProviderError,
    RenderError,
    SetupError,
    SpecError,
    UsageError,
)


def test_exit_statuses_follow_the_tree() -> None:
    assert {cls.exit_status for cls in (UsageError, SpecError, LockfileError, SetupError)} == {2}
    assert {cls.exit_status for cls in (AssetError, ProviderError, DownloadError, CacheError)} == {1}
    assert issubclass(DownloadError, ProviderError) and issubclass(ProviderError, AssetError)
    assert not issubclass(LockfileError, SpecError) and not issubclass(SetupError, UsageError)
    assert all(issubclass(cls, RenderError) for cls in (SpecError, LockfileError, SetupError, AssetError))


def test_the_asset_is_named_once_by_whoever_knows_it() -> None:
    error = ProviderError("varg", "HTTP_500", "oops")
    assert str(error) == "varg refused the job: HTTP_500: oops" and error.asset is None
    assert str(error.for_asset("clip")) == "asset 'clip': varg refused the job: HTTP_500: oops"
    assert error.for_asset("other").asset == "clip"
    download = DownloadError("varg", "TOO_LARGE", "the output is 9 bytes")
    assert "could not be downloaded" in download.message and "refused" not in download.message


def test_problems_and_lockfile_errors_say_where() -> None:
    assert str(SpecError([Problem("p.yaml", 3, 5, "bad")])) == "p.yaml:3:5: bad"
    assert str(LockfileError(Path("p.lock"), 7, "merge conflict")) == "p.lock:7: merge conflict"
