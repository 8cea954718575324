"""Atomic writes and shared directory flushes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from renderer.store.atomic import atomic_write_bytes, sha256_file


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.txt"
    atomic_write_bytes(path, b"old")

    def broken_replace(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("renderer.store.atomic.os.replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_files_are_hashed_in_constant_memory_chunks(tmp_path: Path) -> None:
    data = b"abc" * 1_000_000
    (tmp_path / "big").write_bytes(data)
    assert sha256_file(tmp_path / "big", chunk=4096) == (hashlib.sha256(data).hexdigest(), len(data))


def test_directory_flushes_are_shared_and_every_caller_is_covered(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import threading
    import time

    from renderer.store import atomic

    flushes: list[float] = []

    def slow_flush(directory: Path) -> None:
        flushes.append(time.monotonic())
        time.sleep(0.05)

    monkeypatch.setattr(atomic, "_fsync_path", slow_flush)
    returned: list[float] = []

    def caller() -> None:
        atomic.fsync_dir(tmp_path)
        returned.append(time.monotonic())

    threads = [threading.Thread(target=caller) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(returned) == 20
    assert len(flushes) < 20  # shared
    # nobody returned before a flush that started after it asked had finished: each waited for a full flush
    assert min(returned) >= flushes[0] + 0.05
