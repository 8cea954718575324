"""Finding existing outputs (cache, then lockfile adoption) and copying them out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio
import pytest

from renderer.engine.outputs import Outputs
from renderer.errors import CacheError
from renderer.records import LockEntry, OutputRecord
from renderer.spec.resolve import load_project
from renderer.store.cache import Cache
from tests.helpers import write

KEY = "9" * 64


def setup(tmp_path: Path, locked: dict[str, LockEntry] | None = None) -> tuple[Outputs, Cache]:
    spec = write(tmp_path / "p" / "p.yaml", "version: 1\nassets:\n  a: {type: image, prompt: x}\n")
    project = load_project(spec, "p.yaml")
    cache = Cache(tmp_path / "cache")
    return Outputs(project, cache, locked or {}), cache


def put(cache: Cache, data: bytes) -> OutputRecord:
    source = cache.scratch / "new"
    source.write_bytes(data)
    record = OutputRecord(hashlib.sha256(data).hexdigest(), len(data), "image/png", "local")
    cache.put(KEY, source, record)
    return record


def test_found_in_the_cache_and_copied_out(tmp_path: Path) -> None:
    outputs, cache = setup(tmp_path)
    record = put(cache, b"png bytes")
    asset = outputs.project.assets["a"]
    assert anyio.run(lambda: outputs.find(asset, KEY, adopt=True)) == record
    anyio.run(outputs.copy_out, asset, KEY, record)
    assert outputs.path_of(asset).read_bytes() == b"png bytes"
    assert outputs.stats["a"][0] == len(b"png bytes")
    cache.close()


def test_the_output_directory_is_adopted_only_when_the_lockfile_vouches(tmp_path: Path) -> None:
    data = b"made yesterday"
    digest = hashlib.sha256(data).hexdigest()
    entry = LockEntry(key=KEY, provider="local", output="a.png", sha256=digest, bytes=len(data), media_type="image/png")
    outputs, cache = setup(tmp_path, {"a": entry})
    asset = outputs.project.assets["a"]
    outputs.path_of(asset).parent.mkdir(parents=True)
    outputs.path_of(asset).write_bytes(data)
    assert anyio.run(lambda: outputs.find(asset, "1" * 64, adopt=True)) is None  # another recipe
    found = anyio.run(lambda: outputs.find(asset, KEY, adopt=False))
    assert found is not None and found.sha256 == digest and cache.get(KEY) is None  # a plan adopts nothing
    anyio.run(lambda: outputs.find(asset, KEY, adopt=True))
    assert cache.get(KEY) is not None  # taken into the cache
    outputs.path_of(asset).write_bytes(b"edited by hand")
    fresh, _ = setup(tmp_path / "again", {"a": entry})
    assert anyio.run(lambda: fresh.find(fresh.project.assets["a"], KEY, adopt=True)) is None
    cache.close()


def test_damaged_cache_bytes_are_refused_and_forgotten(tmp_path: Path) -> None:
    outputs, cache = setup(tmp_path)
    record = put(cache, b"original")
    blob = cache.store.path(record.sha256)  # type: ignore[attr-defined]
    blob.chmod(0o644)
    blob.write_bytes(b"corrupt!")  # same size, other bytes
    with pytest.raises(CacheError, match="does not match its hash"):
        anyio.run(outputs.copy_out, outputs.project.assets["a"], KEY, record)
    assert cache.get(KEY) is None and not outputs.path_of(outputs.project.assets["a"]).exists()
    cache.close()
