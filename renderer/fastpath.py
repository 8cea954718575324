"""The no-op path: answer "nothing to do" from the state snapshot, with only the standard library loaded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.store.state import load_state, state_path, unchanged


@dataclass
class Noop:
    project: str
    spec_name: str
    out_dir: Path
    names: list[str]
    assets: dict[str, tuple[Any, ...]]
    whole: bool
    noop_manifest: bytes


def try_noop(
    spec: Path, spec_bytes: bytes, cache_dir: Path, out_dir: str | None, selection: list[str], version: str
) -> Noop | None:
    state = load_state(state_path(cache_dir, spec), version)
    if state is None:
        return None
    try:
        with open(spec.with_suffix(".lock"), "rb") as handle:
            lock_bytes = handle.read()
    except OSError:
        return None
    names = unchanged(state, spec_bytes, lock_bytes, out_dir, selection)
    if names is None:
        return None
    return Noop(
        state["project"],
        state["spec_name"],
        Path(state["out_dir"]),
        names,
        state["assets"],
        len(names) == len(state["assets"]),
        state["noop_manifest"],
    )


def write_noop_manifest(noop: Noop, manifest: bytes) -> Path:
    """Write the manifest of a run that took everything from the cache, unless it is already there."""
    from renderer.store.manifest import MANIFEST_NAME

    path = noop.out_dir / MANIFEST_NAME
    try:
        with open(path, "rb") as handle:
            if handle.read() == manifest:
                return path
    except OSError:
        pass
    tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(manifest)
    os.replace(tmp, path)
    return path
