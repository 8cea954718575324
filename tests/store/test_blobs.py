"""The local blob store: by sha256, read-only blobs, copies out that are hashed as they are written."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from renderer.store.blobs import LocalStore


def test_put_has_copy_and_remove(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "blobs")
    source = tmp_path / "new"
    source.write_bytes(b"media")
    digest = hashlib.sha256(b"media").hexdigest()
    store.put(source, digest)
    assert not source.exists() and store.has(digest, 5) and not store.has(digest, 6)
    assert not os.access(store.path(digest), os.W_OK) or os.geteuid() == 0  # read-only, except for root
    assert store.copy_to(digest, tmp_path / "out" / "m.bin") == digest
    assert (tmp_path / "out" / "m.bin").read_bytes() == b"media"
    assert not list((tmp_path / "out").glob(".*render-tmp"))
    store.remove(digest)
    assert not store.has(digest, 5)
