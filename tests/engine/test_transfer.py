"""push and pull through a shared-folder remote: what moves, what is there already, what is missing."""

from __future__ import annotations

import hashlib
from pathlib import Path

from renderer.engine.transfer import pull, push
from renderer.records import LockEntry
from renderer.spec.resolve import load_project
from renderer.store.cache import Cache
from renderer.store.remote import open_remote
from tests.helpers import write


def test_push_then_pull_and_a_damaged_blob_is_refused(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "p.yaml", "version: 1\nassets:\n  a: {type: image, prompt: x}\n  b: {type: image, prompt: y}\n"
    )
    project = load_project(spec, "p.yaml")
    (tmp_path / "out").mkdir()
    entries = {}
    for name, data in (("a", b"alpha"), ("b", b"beta")):
        (tmp_path / "out" / f"{name}.png").write_bytes(data)
        entries[name] = LockEntry(
            "1" * 63 + name, "local", output=f"{name}.png", sha256=hashlib.sha256(data).hexdigest(), bytes=len(data)
        )
    (tmp_path / "shared").mkdir()
    remote = open_remote(str(tmp_path / "shared"))
    said: list[str] = []
    cache = Cache(tmp_path / "c1")
    try:
        first = push(project, entries, cache, remote, said.append)
        second = push(project, entries, cache, remote, said.append)
    finally:
        cache.close()
    assert sorted(first.moved) == ["a", "b"] and sorted(second.present) == ["a", "b"]
    blob = tmp_path / "shared" / "blobs" / entries["b"].sha256[:2] / entries["b"].sha256[2:]
    blob.write_bytes(b"tampered")
    for name in ("a", "b"):
        (tmp_path / "out" / f"{name}.png").unlink()
    cache = Cache(tmp_path / "c2")
    try:
        pulled = pull(project, entries, cache, remote, said.append)
    finally:
        cache.close()
    assert pulled.moved == ["a"] and pulled.missing == ["b"]
    assert (tmp_path / "out" / "a.png").read_bytes() == b"alpha" and not (tmp_path / "out" / "b.png").exists()
    assert any("damaged blob, refused" in line for line in said)
