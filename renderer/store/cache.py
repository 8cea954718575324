"""The content-addressed cache: cache key -> OutputRecord (diskcache index), record -> bytes (a Store).

Entries never expire by age. A record is only written after its bytes are safely in the store. The index
holds keys as ``sha256:<hex>`` and records as plain dicts: the format of caches already on disk. The index
is itself a cache: a damaged one is set aside (with a note) and filled again from the blobs, which the
lockfile names by sha256 (engine/outputs.py).
"""

from __future__ import annotations

import bisect
import fcntl
import os
import re
import shutil
import time
import uuid
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from renderer.records import MediaInfo, OutputRecord, written_digest
from renderer.store import forked
from renderer.store.blobs import LocalStore, Store

WINDOW = 500  # keys read in one query: under SQLite's limit of host parameters (999 before 3.32)
_QUERY = (
    # by the (key, raw) index; render never sets an expiry, and asking for none would make SQLite
    # scan the expiry index instead
    "SELECT key, mode, filename, value FROM Cache WHERE key IN ({}) AND raw = 1"
)
_KNOWN_QUERY = "SELECT substr(key, 8, 16) FROM Cache WHERE key >= 'sha256:' AND key < 'sha256;' AND raw = 1"
MISSES_BEFORE_SNAPSHOT = 1000
_LOCKED_KEY = re.compile(rb'\n    key: "(sha256:[0-9a-f]{64})"')


def read_ahead(root: Path, lock_file: Path, *, min_bytes: int) -> None:
    """Start reading the records of the keys a big lockfile names, and checking that their bytes are in
    the local store, on the other core (store/forked.py): the cache's ``get`` then answers those from
    memory. A full-path plan of 100,000 cached assets spends 2 s on them (SQLite, unpickling, a stat each)."""
    try:
        big = lock_file.stat().st_size >= min_bytes
    except OSError:
        return
    if big and (root / "index").is_dir():
        forked.start(f"records {root}", _records_plainly, str(root), str(lock_file))


def _records_plainly(root: str, lock_file: str) -> dict[str, tuple[Any, ...]]:
    """The record of every key the lockfile names whose bytes the local store holds, as plain tuples."""
    import diskcache

    keys = [match.decode() for match in _LOCKED_KEY.findall(Path(lock_file).read_bytes())]
    index = _open_index(diskcache, Path(root) / "index")
    store = LocalStore(Path(root) / "blobs")
    found = {}
    try:
        for key, mode, filename, value in _rows(index, keys):
            record = OutputRecord.from_dict(index._disk.fetch(mode, filename, value, False))
            if store.has(record.sha256, record.bytes):
                found[key] = (*record[:-1], tuple(record.probe))
    finally:
        index.close()
    return found


def _among(known: array[int], written: str) -> bool:
    prefix = int(written[7:23], 16)
    at = bisect.bisect_left(known, prefix)
    return at < len(known) and known[at] == prefix


def _rows(index: Any, keys: list[str]) -> Iterator[tuple[str, int, str | None, Any]]:
    """The raw rows (key, mode, filename, value) of those ``keys`` the index holds, ``WINDOW`` keys a query."""
    for start in range(0, len(keys), WINDOW):
        batch = keys[start : start + WINDOW]
        yield from index._sql(_QUERY.format(",".join("?" * len(batch))), batch).fetchall()


class Cache:
    def __init__(self, root: Path, store: Store | None = None) -> None:
        import sqlite3  # not at the top: importing it costs the runs that never open the index

        import diskcache

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.scratch = Scratch.claim(root / "tmp")
        self.store: Store = store or LocalStore(root / "blobs")
        self.damaged: list[str] = []
        self._expected: list[str] = []
        self._position: dict[str, int] = {}  # expected keys not read yet
        self._read_ahead: dict[str, tuple[int, str | None, Any]] = {}  # raw rows read but not asked for yet
        self._own_query = True  # rows read with _QUERY, not diskcache's get
        self._plan_lookups = 0  # answer_as_of_now: how many keys a plan looks up (0: not a plan)
        self._misses = 0
        self._known: array[int] | None = None  # _read_known
        self.notes: list[str] = []
        # records read ahead for the local store at this root: written key -> plain tuple
        self._records_ahead: dict[str, tuple[Any, ...]] = (
            forked.take(f"records {root}") if store is None else None
        ) or {}
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

    def expect(self, keys: list[str]) -> None:
        """Keys that ``get`` will likely be asked for, in about this order (a lockfile's keys): their
        records are then read a window at a time, one query for ``WINDOW`` keys instead of one each."""
        self._expected = [written_digest(key) for key in keys]
        self._position = {key: i for i, key in enumerate(self._expected)}

    def _stored(self, key: str) -> Any:
        written = written_digest(key)
        start = self._position.get(written)  # expected and not read yet
        if start is not None:
            self._read_window(start)
        row = self._read_ahead.pop(written, None)
        if row is not None:
            try:
                return self._index._disk.fetch(*row, False)
            except OSError:
                pass  # its file went away meanwhile: ask the index again
        if self._known is not None and not _among(self._known, written):
            return None  # not in the index when a plan read its keys
        if not self._own_query:
            return self._index.get(written)
        # the same query as diskcache's get, without its bookkeeping: half the time of a miss, and a plan
        # after a matrix edit asks about 100,000 keys the index does not hold
        try:
            rows = list(_rows(self._index, [written]))
        except Exception:  # noqa: BLE001 - an index diskcache lays out otherwise: its own get, from now on
            self._own_query = False
            return self._index.get(written)
        for _, mode, filename, value in rows:
            try:
                return self._index._disk.fetch(mode, filename, value, False)
            except OSError:
                return None  # removed meanwhile, as diskcache's get says
        self._misses += 1
        if self._misses == MISSES_BEFORE_SNAPSHOT and self._plan_lookups:
            self._known = self._read_known()
        return None

    def answer_as_of_now(self, lookups: int) -> None:
        """For a plan, whose answer holds for one moment anyway: once many keys were missing, the index's
        keys are read in one scan, and a key not among them is a miss with no query (a plan after a matrix
        edit looks for 100,000 new keys; a scan of 100,000 keys costs what 5,000 random lookups do). Not
        for a render: another run may make a key after the scan, and it must be found then."""
        self._plan_lookups = lookups

    def _read_known(self) -> array[int] | None:
        """The first 64 bits of every record key in the index, sorted; None if that would cost more than
        the lookups it saves."""
        try:
            if len(self._index) > 10 * self._plan_lookups:  # a big shared cache
                return None
            rows = self._index._sql(_KNOWN_QUERY).fetchall()
            return array("Q", sorted(int(prefix, 16) for (prefix,) in rows))
        except Exception:  # noqa: BLE001 - keys not as render writes them: asked one by one, as before
            return None

    def _read_window(self, start: int) -> None:
        """The raw rows of the expected keys from ``start`` not read yet, in one query (diskcache's table:
        one string key, ``raw``, per row). Only rows found are kept: a key not found is asked again by
        itself, since another run may have made it since."""
        batch = [key for key in self._expected[start : start + WINDOW] if self._position.pop(key, None) is not None]
        if not batch:
            return
        try:
            rows = list(_rows(self._index, batch))
        except Exception:  # noqa: BLE001 - an index diskcache lays out otherwise: one query per key, as before
            self._position.clear()
            self._own_query = False
            return
        for key, mode, filename, value in rows:
            self._read_ahead[key] = (mode, filename, value)

    def get(self, key: str) -> OutputRecord | None:
        """The record for ``key`` when its bytes are present too. A record whose bytes are missing or of the
        wrong size is forgotten and noted in ``damaged``: the entry will be made again."""
        if self._records_ahead:
            plain = self._records_ahead.pop(written_digest(key), None)
            if plain is not None:
                return OutputRecord._make((*plain[:-1], MediaInfo._make(plain[-1])))
        stored = self._stored(key)
        if stored is None:
            return None
        record = OutputRecord.from_dict(stored)
        if not self.store.has(record.sha256, record.bytes):
            self.damaged.append(key)
            self.forget(key)
            return None
        return record

    def put(self, key: str, source: Path, record: OutputRecord) -> None:
        self._read_ahead.pop(written_digest(key), None)
        self._records_ahead.pop(written_digest(key), None)
        self.store.put(source, record.sha256)
        self._index.set(written_digest(key), record.to_dict())

    def remember_recipe(self, key: str, recipe: dict[str, Any]) -> None:
        """What ``key`` was made from, so a later run can say what changed (engine/why.py)."""
        self._index.set("recipe:" + key, recipe)

    def recipe_of(self, key: str) -> dict[str, Any] | None:
        found = self._index.get("recipe:" + key)
        return found if isinstance(found, dict) else None

    def recipes_of(self, keys: list[str]) -> dict[str, dict[str, Any]]:
        """``recipe_of`` for many keys at once (a plan explains 100,000 changed assets in seconds, not minutes):
        the keys with a recipe remembered."""
        found = {}
        try:
            for name, mode, filename, value in _rows(self._index, ["recipe:" + key for key in keys]):
                recipe = self._index._disk.fetch(mode, filename, value, False)
                if isinstance(recipe, dict):
                    found[name.removeprefix("recipe:")] = recipe
        except Exception:  # noqa: BLE001 - an index diskcache lays out otherwise: one query per key
            return {key: recipe for key in keys if (recipe := self.recipe_of(key)) is not None}
        return found

    def forget(self, key: str) -> None:
        self._read_ahead.pop(written_digest(key), None)
        self._records_ahead.pop(written_digest(key), None)
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
        name = f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        # locked before it has its run- name: another run that cleans up in between would find a run-
        # directory whose lock it can take, and remove it from under this one
        claiming = parent / f".claiming-{name}"
        claiming.mkdir()
        handle = open(claiming / ".lock", "wb")  # noqa: SIM115 - held open for the run's lifetime
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        directory = parent / name
        os.replace(claiming, directory)
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
            elif entry.name.startswith(".claiming-") and time.time() - _mtime(entry) > 3600:
                shutil.rmtree(entry, ignore_errors=True)  # a run killed as it claimed its directory


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # renamed by the run claiming it meanwhile
        return time.time()


def _open_index(diskcache: Any, path: Path) -> Any:
    index = diskcache.Cache(str(path), eviction_policy="none", size_limit=2**62)
    try:
        index.get("sha256:probe")  # a damaged file can open and fail at the first read
    except BaseException:
        index.close()
        raise
    return index
