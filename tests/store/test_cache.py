from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

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


def _filled(cache: Cache, count: int) -> dict[str, OutputRecord]:
    records = {}
    for i in range(count):
        data = f"output {i}".encode()
        source = cache.scratch / f"new{i}"
        source.write_bytes(data)
        record = OutputRecord(
            sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), media_type=None, provider="local"
        )
        key = hashlib.sha256(b"key %d" % i).hexdigest()
        cache.put(key, source, record)
        records[key] = record
    return records


def test_expected_keys_are_read_a_window_per_query_and_what_changed_since_is_seen(tmp_path: Path) -> None:
    other = Cache(tmp_path / "c")  # another run on the same cache
    records = _filled(other, 1200)
    keys = list(records)
    late = hashlib.sha256(b"made later").hexdigest()
    cache = Cache(tmp_path / "c")
    cache.expect([*keys, late])
    assert cache.get(keys[0]) == records[keys[0]]  # keys 0-499 read in one query
    other.forget(keys[5])  # forgotten by the other run after it was read ahead: its bytes are checked
    assert cache.get(keys[5]) is None
    statements: list[str] = []
    cache._index._con.set_trace_callback(statements.append)  # a connection per thread, opened by the first get

    rest = [key for key in keys[1:] if key != keys[5]]
    assert [cache.get(key) for key in rest] == [records[key] for key in rest]
    assert len(statements) == 2  # keys 500-999 and 1000-1199 (and the late one): two queries for 1,194 gets

    other.put(late, _scratch_file(other, b"late"), OutputRecord(hashlib.sha256(b"late").hexdigest(), 4, None, "local"))
    assert cache.get(late) is not None  # not there when read ahead: asked again by itself
    cache.close()
    other.close()


def _scratch_file(cache: Cache, data: bytes) -> Path:
    path = cache.scratch / "late"
    path.write_bytes(data)
    return path


def test_records_read_ahead_on_the_other_core_answer_as_the_index_does(tmp_path: Path) -> None:
    from renderer.records import LockEntry, MediaInfo
    from renderer.store import cache as cache_module
    from renderer.store.lockfile import write_lock

    cache = Cache(tmp_path / "c")
    records = {}
    for i in range(3):
        source = cache.scratch / f"new{i}"
        source.write_bytes(b"bytes %d" % i)
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        probe = MediaInfo(media_type="image/png", width=i + 1, height=2)
        records[str(i) * 64] = OutputRecord(digest, 7, "image/png", "local", job_id=f"j{i}", probe=probe)
        cache.put(str(i) * 64, source, records[str(i) * 64])
    cache.store.remove(records["2" * 64].sha256)  # its bytes are gone: not answered ahead
    cache.close()
    lock = tmp_path / "p.lock"
    write_lock(lock, "p.yaml", {f"a{i}": LockEntry(key=key, provider="local") for i, key in enumerate(records)})

    cache_module.read_ahead(tmp_path / "c", lock, min_bytes=0)
    ahead = Cache(tmp_path / "c")
    assert set(ahead._records_ahead) == {"sha256:" + "0" * 64, "sha256:" + "1" * 64}
    assert ahead.get("0" * 64) == records["0" * 64] and ahead.get("1" * 64) == records["1" * 64]
    assert type(ahead.get("1" * 64)) is OutputRecord and type(records["1" * 64].probe) is MediaInfo
    assert ahead.get("2" * 64) is None and ahead.damaged == ["2" * 64]  # the index path, as before
    ahead.close()


def test_a_run_cleaning_up_while_another_claims_its_scratch_leaves_it_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two runs sharing a cache: one claims its directory while the other removes abandoned ones."""
    import fcntl

    from renderer.store import cache as cache_module

    parent = tmp_path / "tmp"
    parent.mkdir()
    real_flock = fcntl.flock

    def flock_after_a_cleanup(handle: object, flags: int) -> None:
        Scratch.clean_abandoned(parent)  # the other run, between the claim's first step and its lock
        real_flock(handle, flags)  # type: ignore[arg-type]

    monkeypatch.setattr(cache_module.fcntl, "flock", flock_after_a_cleanup)
    claimed = Scratch.claim(parent)
    monkeypatch.setattr(cache_module.fcntl, "flock", real_flock)
    assert claimed.is_dir() and claimed.name.startswith("run-")
    Scratch.clean_abandoned(parent)  # and once it is claimed, its lock keeps it
    assert claimed.is_dir() and [p.name for p in parent.iterdir()] == [claimed.name]
    Scratch.release(claimed)


def test_keys_not_read_ahead_are_asked_by_one_query_each_or_by_diskcache_if_its_table_differs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderer.store import cache as cache_module

    cache = Cache(tmp_path / "c")
    records = _filled(cache, 3)
    missing = hashlib.sha256(b"never made").hexdigest()
    answers = {key: cache.get(key) for key in [*records, missing]}
    assert answers == {**records, missing: None}
    assert cache._own_query

    monkeypatch.setattr(cache_module, "_QUERY", "SELECT nothing FROM NoSuchTable WHERE x IN ({})")
    assert {key: cache.get(key) for key in [*records, missing]} == answers
    assert not cache._own_query  # diskcache's get from then on
    cache.close()


def test_recipes_of_many_keys_are_read_a_window_at_a_time_and_match_one_by_one(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    keys = [hashlib.sha256(b"recipe %d" % i).hexdigest() for i in range(1200)]
    for i, key in enumerate(keys):
        if i % 7:  # every seventh never remembered
            cache.remember_recipe(key, {"prompt": f"p{i}", "inputs": [["0", f"sha256:{i:064x}"]]})
    cache._index.set("recipe:" + keys[1], "not a dict")  # what an odd writer left is no recipe
    statements: list[str] = []
    cache._index._con.set_trace_callback(statements.append)
    found = cache.recipes_of(keys)
    assert len(statements) == 3  # 1,200 keys in three queries
    assert found == {key: recipe for key in keys if (recipe := cache.recipe_of(key)) is not None}
    assert len(found) == 1200 - len(range(0, 1200, 7)) - 1
    cache.close()


def test_a_plan_reads_the_index_keys_once_after_many_misses_and_then_asks_only_for_those_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderer.store import cache as cache_module

    monkeypatch.setattr(cache_module, "MISSES_BEFORE_SNAPSHOT", 3)
    other = Cache(tmp_path / "c")
    records = _filled(other, 20)
    cache = Cache(tmp_path / "c")
    cache.answer_as_of_now(lookups=100)
    new = [hashlib.sha256(b"new %d" % i).hexdigest() for i in range(10)]
    assert [cache.get(key) for key in new[:3]] == [None] * 3
    assert cache._known is not None and len(cache._known) == 20  # records only, not the recipes
    statements: list[str] = []
    cache._index._con.set_trace_callback(statements.append)
    assert [cache.get(key) for key in new[3:]] == [None] * 7
    assert statements == []  # known missing: no query
    assert {key: cache.get(key) for key in records} == records  # known present: asked, and found
    assert len(statements) == 20
    cache.close()
    other.close()


def test_a_render_or_a_plan_against_a_big_shared_cache_keeps_asking_the_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from renderer.store import cache as cache_module

    monkeypatch.setattr(cache_module, "MISSES_BEFORE_SNAPSHOT", 3)
    other = Cache(tmp_path / "c")
    records = _filled(other, 30)
    for answer_as_of_now in (None, 2):  # a render; a plan of 2 assets against 30 records
        cache = Cache(tmp_path / "c")
        if answer_as_of_now is not None:
            cache.answer_as_of_now(lookups=answer_as_of_now)
        missing = [hashlib.sha256(b"new %d" % i).hexdigest() for i in range(5)]
        assert [cache.get(key) for key in missing] == [None] * 5
        assert cache._known is None
        late = hashlib.sha256(b"made later").hexdigest()
        other.put(
            late, _scratch_file(other, b"late"), OutputRecord(hashlib.sha256(b"late").hexdigest(), 4, None, "local")
        )
        assert cache.get(late) is not None  # made by another run after the misses: found
        other.forget(late)
        cache.close()
    assert len(records) == 30
    other.close()
