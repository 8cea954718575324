"""The no-op snapshot: what the last complete, successful run of a spec left behind.

A re-render checks this instead of parsing YAML, validating, hashing and planning: if the spec and the
lockfile are byte-for-byte what that run saw, every input file and every output has the size and mtime it
had, then nothing can need work. Any difference sends the run down the full path, which is always correct
on its own. Kept in the cache directory (``state/``), never in the project: it describes this machine's files.

Only the standard library is imported here: this runs before anything heavy is loaded.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

STATE_VERSION = 4


def state_path(cache_dir: Path, spec: Path) -> Path:
    ident = hashlib.sha256(os.fsencode(os.path.abspath(spec))).hexdigest()[:32]
    return cache_dir / "state" / f"{ident}.marshal"


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_state(path: Path, version: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as handle:
            state = marshal.load(handle)
    except (OSError, EOFError, ValueError, TypeError):
        return None
    if not isinstance(state, dict) or state.get("version") != (STATE_VERSION, version):
        return None
    return state


def save_state(path: Path, version: str, state: dict[str, Any]) -> None:
    from renderer.store.atomic import atomic_write_bytes

    atomic_write_bytes(path, marshal.dumps({**state, "version": (STATE_VERSION, version)}), durable=False)


def stat_pair(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def unchanged(
    state: dict[str, Any], spec_bytes: bytes, lock_bytes: bytes, out_dir: str | None, selection: list[str]
) -> list[str] | None:
    """The names that need nothing (the selection and what it needs), or None if anything may need work."""
    if state.get("spec_sha") != file_digest(spec_bytes) or state.get("lock_sha") != file_digest(lock_bytes):
        return None
    if out_dir is not None and os.path.abspath(out_dir) != state["out_dir"]:
        return None
    for path, (size, mtime_ns, _digest) in state["files"].items():
        if stat_pair(path) != (size, mtime_ns):
            return None
    assets: dict[str, tuple[Any, ...]] = state["assets"]
    if selection:
        if any(name not in assets for name in selection):
            return None
        from renderer.engine.dag import closure  # standard library only, like this module

        names = list(closure({name: entry[3] for name, entry in assets.items()}, selection))
    else:
        names = list(assets)
    out = state["out_dir"]
    join = os.path.join
    stat = os.stat
    for name in names:
        output, size, mtime_ns = assets[name][:3]
        try:
            st = stat(join(out, output))
        except OSError:
            return None
        if st.st_size != size or st.st_mtime_ns != mtime_ns:
            return None
    return names
