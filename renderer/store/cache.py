"""The content-addressed cache: cache key -> OutputRecord (diskcache index), record -> bytes (a Store).

Entries never expire by age. A record is only written after its bytes are safely in the store. The index
holds keys as ``sha256:<hex>`` and records as plain dicts: the format of caches already on disk. The index
is itself a cache: a damaged one is set aside (with a note) and filled again from the blobs, which the
lockfile names by sha256 (engine/outputs.py).
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from renderer.records import OutputRecord, written_digest
from renderer.store.blobs import LocalStore, Store


def default_cache_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("RENDER_CACHE_DIR"):
        return Path(env["RENDER_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "render"


class Cache:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        import diskcache  # the no-op path imports this module for default_cache_dir only

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = root / "tmp"
        self.scratch.mkdir(exist_ok=True)
        self.store: Store = store or LocalStore(root / "blobs")
        self.damaged: list[str] = []
        self.notes: list[str] = []
        index = root / "index"
        try:
            self._index = _open_index(diskcache, index)
        except sqlite3.DatabaseError as exc:
            # The index is a cache of what the blobs and the lockfile say: set it aside and start afresh.
            aside = index.with_name(f"index.damaged-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}")
            os.replace(index, aside)
            self._index = _open_index(diskcache, index)
            self.notes.append(
                f"note: the cache index was damaged ({exc}); it was moved to {aside} and is rebuilt from "
                "the blobs and the lockfile as outputs are found"
            )

    def get(self, key: str) -> OutputRecord | None:
        """The record for ``key`` when its bytes are present too. A record whose bytes are missing or of the
        wrong size is forgotten and noted in ``damaged``: the entry will be made again."""
        stored = self._index.get(written_digest(key))
        if stored is None:
            return None
        record = OutputRecord.from_dict(stored)
        if not self.store.has(record.sha256, record.bytes):
            self.damaged.append(key)
            self.forget(key)
            return None
        return record

    def put(self, key: str, source: Path, record: OutputRecord) -> None:
        self.store.put(source, record.sha256)
        self._index.set(written_digest(key), record.to_dict())

    def forget(self, key: str) -> None:
        stored = self._index.get(written_digest(key))
        self._index.delete(written_digest(key))
        if stored is not None:
            self.store.remove(stored["sha256"])

    def close(self) -> None:
        self._index.close()


def _open_index(diskcache: Any, path: Path) -> Any:
    index = diskcache.Cache(str(path), eviction_policy="none", size_limit=2**62)
    try:
        index.get("sha256:probe")  # a damaged file can open and fail at the first read
    except BaseException:
        index.close()
        raise
    return index
