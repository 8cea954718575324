"""``render push`` and ``render pull``: every output the lockfile vouches for, to or from the remote.

Both are idempotent (a blob already there is not sent again), run a few transfers at once, stream in
constant memory (the stores do), say what each one did as it goes, and end with what moved. A blob that
does not hash to its name is never taken in.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from renderer.engine.outputs import record_from_lock
from renderer.records import LockEntry, OutputRecord
from renderer.spec.model import Project
from renderer.store.blobs import copy_hashing
from renderer.store.cache import Cache
from renderer.store.remote import Remote, copy_between

PARALLEL = 4


@dataclass
class Moved:
    moved: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)  # already where they were to go
    missing: list[str] = field(default_factory=list)  # nowhere to take them from (or damaged)


def push(
    project: Project, locked: dict[str, LockEntry], cache: Cache, remote: Remote, say: Callable[[str], None]
) -> Moved:
    result = Moved()

    def one(name: str, entry: LockEntry) -> str:
        assert entry.sha256 is not None and entry.bytes is not None
        if remote.has_blob(entry.sha256, entry.bytes) and remote.get_record(entry.key) is not None:
            result.present.append(name)
            return f"there     {name}"
        copy = cache.scratch / f"push-{uuid.uuid4().hex}"
        try:
            written = _local_copy(project, name, entry, cache, copy)
            if written != entry.sha256:
                result.missing.append(name)
                return f"missing   {name}: not in this cache or the output directory"
            record = cache.get(entry.key) or record_from_lock(entry, copy)
            remote.put_blob(copy, entry.sha256)
            remote.put_record(entry.key, record.to_dict())
            result.moved.append(name)
            return f"pushed    {name} ({entry.bytes:,} bytes)"
        finally:
            copy.unlink(missing_ok=True)

    _each(locked, one, say)
    return result


def pull(
    project: Project, locked: dict[str, LockEntry], cache: Cache, remote: Remote, say: Callable[[str], None]
) -> Moved:
    result = Moved()

    def one(name: str, entry: LockEntry) -> str:
        assert entry.sha256 is not None and entry.bytes is not None
        asset = project.assets.get(name)
        dest = project.output_dir / (asset.output if asset is not None else entry.output or name)
        line = f"here      {name}"
        if cache.get(entry.key) is not None:
            result.present.append(name)
        else:
            copy = cache.scratch / f"pull-{uuid.uuid4().hex}"
            try:
                written = copy_between(remote, entry.sha256, copy)
            except OSError:
                written = ""
            if written != entry.sha256:
                result.missing.append(name)
                copy.unlink(missing_ok=True)
                why = "a damaged blob, refused" if written else "not in the remote"
                return f"missing   {name}: {why}"
            raw = remote.get_record(entry.key)
            record = OutputRecord.from_dict(raw) if raw is not None else record_from_lock(entry, copy)
            cache.put(entry.key, copy, record)
            result.moved.append(name)
            line = f"pulled    {name} ({entry.bytes:,} bytes)"
        cache.store.copy_to(entry.sha256, dest)
        return line

    _each(locked, one, say)
    return result


def _local_copy(project: Project, name: str, entry: LockEntry, cache: Cache, dest: Path) -> str:
    """The output's bytes from the cache, else from the output directory; their sha256 ("" if neither)."""
    assert entry.sha256 is not None and entry.bytes is not None
    if cache.store.has(entry.sha256, entry.bytes):
        return cache.store.copy_to(entry.sha256, dest)
    asset = project.assets.get(name)
    source = project.output_dir / (asset.output if asset is not None else entry.output or name)
    try:
        return copy_hashing(source, dest)
    except OSError:
        return ""


def _each(locked: dict[str, LockEntry], work: Callable[[str, LockEntry], str], say: Callable[[str], None]) -> None:
    """``work`` on every locked output, a few at a time; each line it returns is said as it ends, counted."""
    chosen = [(name, entry) for name, entry in sorted(locked.items()) if entry.sha256 and entry.bytes is not None]
    width = len(str(len(chosen)))
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(work, name, entry) for name, entry in chosen]
        for done, future in enumerate(as_completed(futures), 1):
            say(f"  [{done:>{width}}/{len(chosen)}] {future.result()}")
