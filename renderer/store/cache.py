"""The content-addressed cache: cache key -> OutputRecord (diskcache index), record -> bytes (a Store).

Entries never expire by age. A record is only written after its bytes are safely in the store. The index
holds keys as ``sha256:<hex>`` and records as plain dicts: the format of caches already on disk. The index
is itself a cache: a damaged one is set aside (with a note) and filled again from the blobs, which the
lockfile names by sha256 (engine/outputs.py).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import IO, Any

from renderer.records import OutputRecord, written_digest
from renderer.store.blobs import LocalStore, Store


class Cache:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        import sqlite3  # not at the top: importing it costs the runs that never open the index

        import diskcache

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = Scratch.claim(root / "tmp")
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

    def remember_recipe(self, key: str, recipe: dict[str, Any]) -> None:
        """What ``key`` was made from, so a later run can say what changed (engine/why.py)."""
        self._index.set("recipe:" + key, recipe)

    def recipe_of(self, key: str) -> dict[str, Any] | None:
        found = self._index.get("recipe:" + key)
        return found if isinstance(found, dict) else None

    def forget(self, key: str) -> None:
        stored = self._index.get(written_digest(key))
        self._index.delete(written_digest(key))
        if stored is not None:
            self.store.remove(stored["sha256"])

    def close(self) -> None:
        self._index.close()
        Scratch.release(self.scratch)


class Scratch:
    """One scratch directory per run (``tmp/run-<pid>-<random>``), held by a lock on its ``.lock`` file for
    as long as the run lives. A run that was killed leaves its directory unlocked: the next run removes it.
    Runs of other projects that share the cache hold their locks, so theirs are left alone."""

    held: dict[str, IO[bytes]] = {}

    @classmethod
    def claim(cls, parent: Path) -> Path:
        parent.mkdir(exist_ok=True)
        cls.clean_abandoned(parent)
        directory = parent / f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        directory.mkdir()
        handle = open(directory / ".lock", "wb")  # noqa: SIM115 - held open for the run's lifetime
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        cls.held[str(directory)] = handle
        return directory

    @classmethod
    def release(cls, directory: Path) -> None:
        handle = cls.held.pop(str(directory), None)
        shutil.rmtree(directory, ignore_errors=True)
        if handle is not None:
            handle.close()

    @staticmethod
    def clean_abandoned(parent: Path) -> None:
        for entry in parent.iterdir():
            if entry.is_dir() and entry.name.startswith("run-"):
                try:
                    with open(entry / ".lock", "rb") as handle:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # taken: nobody holds it
                        shutil.rmtree(entry, ignore_errors=True)
                except BlockingIOError:
                    continue  # a live run
                except OSError:
                    shutil.rmtree(entry, ignore_errors=True)  # no lock file: a run killed as it began
            elif entry.is_file() and time.time() - entry.stat().st_mtime > 3600:
                entry.unlink(missing_ok=True)  # loose files of render before per-run scratch


def _open_index(diskcache: Any, path: Path) -> Any:
    index = diskcache.Cache(str(path), eviction_policy="none", size_limit=2**62)
    try:
        index.get("sha256:probe")  # a damaged file can open and fail at the first read
    except BaseException:
        index.close()
        raise
    return index
