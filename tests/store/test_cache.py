from __future__ import annotations

import hashlib
from pathlib import Path

from renderer.store.cache import Cache, default_cache_dir


def test_put_get_copy_and_missing_bytes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    source = cache.scratch / "new"
    source.write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    cache.put("k1", source, {"sha256": digest, "bytes": 5})
    assert not source.exists()
    assert cache.get("k1")["sha256"] == digest
    assert cache.store.copy_to(digest, tmp_path / "out" / "x.txt") == digest
    assert (tmp_path / "out" / "x.txt").read_bytes() == b"hello"
    cache.store.remove(digest)
    assert cache.get("k1") is None  # a record without its bytes is no hit
    assert cache.get("nope") is None
    cache.close()


def test_default_location_honours_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"RENDER_CACHE_DIR": str(tmp_path / "r")}) == tmp_path / "r"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "render"
    assert default_cache_dir({"HOME": str(tmp_path)}).name == "render"


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
