from __future__ import annotations

import hashlib
from pathlib import Path

from renderer.records import OutputRecord
from renderer.store.cache import Cache, default_cache_dir


def test_put_get_copy_and_missing_bytes(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    source = cache.scratch / "new"
    source.write_bytes(b"hello")
    digest = hashlib.sha256(b"hello").hexdigest()
    record = OutputRecord(sha256=digest, bytes=5, media_type="text/plain", provider="local")
    cache.put("1" * 64, source, record)
    assert not source.exists()
    assert cache.get("1" * 64) == record
    assert cache.store.copy_to(digest, tmp_path / "out" / "x.txt") == digest
    assert (tmp_path / "out" / "x.txt").read_bytes() == b"hello"
    cache.store.remove(digest)
    assert cache.get("1" * 64) is None  # a record without its bytes is no hit
    assert cache.damaged == ["1" * 64]
    assert cache.get("2" * 64) is None
    cache.close()


def test_default_location_honours_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"RENDER_CACHE_DIR": str(tmp_path / "r")}) == tmp_path / "r"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "render"
    assert default_cache_dir({"HOME": str(tmp_path)}).name == "render"


def test_the_index_keeps_the_format_of_caches_already_on_disk(tmp_path: Path) -> None:
    """Records are plain dicts under "sha256:"-prefixed keys, as render wrote them before records were typed."""
    import diskcache

    cache = Cache(tmp_path / "c")
    source = cache.scratch / "new"
    source.write_bytes(b"old")
    digest = hashlib.sha256(b"old").hexdigest()
    cache.store.put(source, digest)
    cache.close()
    index = diskcache.Cache(str(tmp_path / "c" / "index"))
    old = {
        "sha256": digest,
        "bytes": 3,
        "media_type": "image/png",
        "provider": "local",
        "model": None,
        "resolved_model": "local:image",
        "job_id": "local-1",
        "cost_usd": 0.0,
        "created": "2026-01-01T00:00:00Z",
        "probe": {"media_type": "image/png", "width": 2, "height": 1},
    }
    index.set("sha256:" + "3" * 64, old)
    index.close()
    cache = Cache(tmp_path / "c")
    record = cache.get("3" * 64)
    assert record is not None and record.probe.width == 2 and record.to_dict() == old
    cache.close()
