"""The content-addressed cache: cache key -> record (diskcache index), record -> bytes (a Store).

Entries never expire by age. A record is only written after its bytes are safely in the store.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from renderer.store.blobs import LocalStore, Store


def default_cache_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("RENDER_CACHE_DIR"):
        return Path(env["RENDER_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "render"


class Cache:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        import diskcache

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = root / "tmp"
        self.scratch.mkdir(exist_ok=True)
        self.store: Store = store or LocalStore(root / "blobs")
        self.damaged: list[str] = []
        self._index = diskcache.Cache(str(root / "index"), eviction_policy="none", size_limit=2**62)

    def get(self, key: str) -> dict[str, Any] | None:
        """The record for ``key`` when its bytes are present too. A record whose bytes are missing or of the
        wrong size is forgotten and noted in ``damaged``: the entry will be made again."""
        record = self._index.get(key)
        if record is None:
            return None
        if not self.store.has(record["sha256"], record["bytes"]):
            self.damaged.append(key)
            self.forget(key)
            return None
        return record

    def put(self, key: str, source: Path, record: dict[str, Any]) -> None:
        self.store.put(source, record["sha256"])
        self._index.set(key, record)

    def forget(self, key: str) -> None:
        record = self._index.get(key)
        self._index.delete(key)
        if record is not None:
            self.store.remove(record["sha256"])

    def close(self) -> None:
        self._index.close()
