from __future__ import annotations

import hashlib
from pathlib import Path

from renderer.records import OutputRecord
from renderer.store.cache import Cache, Scratch


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


def test_a_damaged_index_is_set_aside_with_a_note_and_the_cache_works(tmp_path: Path) -> None:
    Cache(tmp_path / "c").close()
    (tmp_path / "c" / "index" / "cache.db").write_bytes(b"not a database" * 100)
    cache = Cache(tmp_path / "c")
    assert cache.notes and "damaged" in cache.notes[0] and "rebuilt" in cache.notes[0]
    assert cache.get("a" * 64) is None
    assert [p.name.startswith("index.damaged-") for p in (tmp_path / "c").iterdir() if "damaged" in p.name] == [True]
    cache.close()


def test_scratch_is_per_run_and_a_killed_runs_is_removed_by_the_next(tmp_path: Path) -> None:
    parent = tmp_path / "tmp"
    live = Scratch.claim(parent)
    (parent / "run-99999-dead").mkdir()
    (parent / "run-99999-dead" / ".lock").write_bytes(b"")
    (parent / "run-99999-dead" / "half.mp4").write_bytes(b"x")  # a killed run's leftovers
    other = Scratch.claim(parent)
    assert live.exists() and other.exists() and not (parent / "run-99999-dead").exists()
    Scratch.release(live)
    Scratch.release(other)
    assert list(parent.iterdir()) == []


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
