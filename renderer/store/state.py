"""The no-op snapshot: what the last run of a spec that decided every asset left behind.

A re-render checks this instead of parsing YAML, validating, hashing and planning: if the spec and the
lockfile are byte-for-byte what that run saw, every input file and every output has the size and mtime it
had, then nothing can need work. A run with a failure leaves one with no spec digest, which no re-render
takes as a no-op, and whose unfinished entries the short way (renderer.incremental) always decides again. Any difference sends the run down the full path, which is always correct
on its own. Kept in the cache directory (``state/``), never in the project: it describes this machine's files.

On disk it is a marshal of plain dicts and tuples (marshal takes no classes); ``load_state`` gives it back
as a ``Snapshot``. Only the standard library is imported here: this runs before anything heavy is loaded.
"""

from __future__ import annotations

import gc
import hashlib
import marshal
import os
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from renderer.dag import closure
from renderer.records import FileStamp, Snapshot, StateAsset

if TYPE_CHECKING:
    from collections.abc import Iterator

STATE_VERSION = 12  # 11: written in pieces; 12: with the providers' stamps


def state_path(cache_dir: Path, spec: Path) -> Path:
    ident = hashlib.sha256(os.fsencode(os.path.abspath(spec))).hexdigest()[:32]
    return cache_dir / "state" / f"{ident}.marshal"


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_LOADED: dict[str, tuple[tuple[int, int], str, Snapshot]] = {}


def load_state(path: Path, version: str) -> Snapshot | None:
    """The snapshot at ``path``; read once per process while the file stays as it was."""
    stamp = stat_pair(str(path))
    known = _LOADED.get(str(path))
    if stamp is not None and known is not None and known[0] == stamp and known[1] == version:
        return known[2]
    state = _load_state(path, version)
    if state is not None and stamp is not None:
        _LOADED[str(path)] = (stamp, version, state)
    return state


def stamps_only(state: Snapshot, *, outputs: bool = True) -> Snapshot:
    """The snapshot as the full path uses it: the stamps of inputs and outputs (size, mtime and digest),
    without the manifest lines, dependencies and entry digests that only a no-op and the short way read
    (at 100,000 assets, 110 MB of the 130); without ``outputs`` (a plan, which copies nothing out), only
    the inputs'."""
    _LOADED.clear()  # the whole snapshot is let go: a later load reads the file again
    make = StateAsset
    assets = {name: make("", e.size, e.mtime_ns, (), e.sha256, "") for name, e in state.assets.items()}
    return state._replace(assets=assets if outputs else {}, chunks={})


_STAMPS: dict[str, tuple[tuple[int, int], str, bool, Snapshot]] = {}


def load_stamps(path: Path, version: str, *, outputs: bool = True) -> Snapshot | None:
    """``stamps_only`` of the snapshot at ``path``, kept for the run to take (``take_stamps``): a run that
    goes down the full path lets the whole snapshot go this way before it loads its spec, not after."""
    state = load_state(path, version)
    stamp = stat_pair(str(path))
    _STAMPS.clear()
    if state is None or stamp is None:
        return None
    slim = stamps_only(state, outputs=outputs)
    _STAMPS[str(path)] = (stamp, version, outputs, slim)
    return slim


def take_stamps(path: Path, version: str, *, outputs: bool = True) -> Snapshot | None:
    """What ``load_stamps`` gave, if the file is still the one it read; else read now."""
    known = _STAMPS.pop(str(path), None)
    if known is not None and known[:3] == (stat_pair(str(path)), version, outputs):
        return known[3]
    slim = load_stamps(path, version, outputs=outputs)
    _STAMPS.clear()
    return slim


def _load_state(path: Path, version: str) -> Snapshot | None:
    # 100,000 assets are a million objects and no garbage: the cyclic collector would only slow it down
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_state(path, version)
    finally:
        if enabled:
            gc.enable()


ASSETS_AT_ONCE = 10_000  # per piece: 100,000 assets marshalled at once held 60 MB more while saved


def _read_state(path: Path, version: str) -> Snapshot | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()  # marshal.load reads a file in small pieces: 3x slower
        view, at, pieces = memoryview(data), 0, []
        while at < len(data):  # pieces, each its size (8 bytes) and its marshal
            size = int.from_bytes(view[at : at + 8], "little")
            pieces.append(marshal.loads(view[at + 8 : at + 8 + size]))
            at += 8 + size
        head = pieces[0]
        if not isinstance(head, dict) or head.pop("version", None) != (STATE_VERSION, version):
            return None
        head["files"] = {path: FileStamp._make(stamp) for path, stamp in head["files"].items()}
        make = StateAsset._make
        head["assets"] = {name: make(entry) for piece in pieces[1:] for name, entry in piece.items()}
        return Snapshot(**head)
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError):
        return None


def save_state(path: Path, version: str, state: Snapshot) -> None:
    """Written in pieces: the head (all but the assets), then ``ASSETS_AT_ONCE`` assets at a time."""
    from renderer.store.atomic import atomic_write_bytes  # tempfile is costly: the no-op path never saves

    head = state._asdict()
    head["files"] = {path: tuple(stamp) for path, stamp in state.files.items()}
    head["version"] = (STATE_VERSION, version)
    del head["assets"]

    def pieces() -> Iterator[bytes]:
        # version 2: no back-references, whose table costs 0.2 s for the shared objects of 100,000 assets
        yield _framed(marshal.dumps(head, 2))
        assets = iter(state.assets.items())
        while batch := list(islice(assets, ASSETS_AT_ONCE)):
            yield _framed(marshal.dumps({name: tuple(entry) for name, entry in batch}, 2))

    atomic_write_bytes(path, pieces(), durable=False)


def _framed(piece: bytes) -> bytes:
    return len(piece).to_bytes(8, "little") + piece


def stat_pair(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def lock_as_saved(state: Snapshot, lock_file: str) -> bool:
    """Whether the lockfile is the one the snapshot saw: by its stamp, or else by its digest."""
    stamp = stat_pair(lock_file)
    if stamp is None:
        return False
    if stamp == tuple(state.lock_stamp):
        return True
    try:
        with open(lock_file, "rb") as handle:
            return file_digest(handle.read()) == state.lock_sha
    except OSError:
        return False


def providers_as_saved(state: Snapshot) -> bool:
    """Whether the third-party providers the snapshot's run used are as they were (by their files' stamps)."""
    return all(stat_pair(path) == tuple(stamp) for path, stamp in state.providers.items())


def unchanged(
    state: Snapshot, spec_bytes: bytes, lock_file: str, out_dir: str | None, selection: list[str]
) -> list[str] | None:
    """The names that need nothing (the selection and what it needs), or None if anything may need work."""
    if state.spec_sha != file_digest(spec_bytes) or not lock_as_saved(state, lock_file):
        return None
    if not providers_as_saved(state):
        return None
    if out_dir is not None and os.path.abspath(out_dir) != state.out_dir:
        return None
    for path, stamp in state.files.items():
        if stat_pair(path) != (stamp.size, stamp.mtime_ns):
            return None
    assets = state.assets
    if selection:
        if any(name not in assets for name in selection):
            return None
        names = list(closure({name: entry.deps for name, entry in assets.items()}, selection))
    else:
        names = list(assets)
    out = state.out_dir
    join = os.path.join
    stat = os.stat
    for name in names:
        entry = assets[name]
        try:
            st = stat(join(out, entry.output))
        except OSError:
            return None
        if st.st_size != entry.size or st.st_mtime_ns != entry.mtime_ns:
            return None
    return names
