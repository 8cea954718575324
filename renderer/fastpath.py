"""The no-op path: answer "nothing to do" from the state snapshot, with only the standard library loaded."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from renderer.records import Snapshot
from renderer.store.state import load_state, state_path, unchanged


class Noop(NamedTuple):  # not a dataclass: the no-op path does not import dataclasses
    snapshot: Snapshot
    names: list[str]  # the selection and what it needs, or every asset

    @property
    def whole(self) -> bool:
        return len(self.names) == len(self.snapshot.assets)

    @property
    def out_dir(self) -> Path:
        return Path(self.snapshot.out_dir)

    def manifest(self) -> bytes:
        """The manifest of this no-op run: every output of the selection, "cached", in path order (the
        snapshot's order)."""
        from renderer.store.manifest import assemble_manifest

        assets = self.snapshot.assets
        wanted = set(self.names)
        chosen = assets.values() if self.whole else [entry for name, entry in assets.items() if name in wanted]
        return assemble_manifest(
            self.snapshot.project, self.snapshot.spec_name, [entry.manifest_line for entry in chosen]
        )


def try_noop(
    spec: Path, spec_bytes: bytes, cache_dir: Path, out_dir: str | None, selection: list[str], version: str
) -> Noop | None:
    state = load_state(state_path(cache_dir, spec), version)
    if state is None:
        return None
    names = unchanged(state, spec_bytes, str(spec.with_suffix(".lock")), out_dir, selection)
    if names is None:
        return None
    return Noop(state, names)


def write_noop_manifest(noop: Noop) -> Path:
    """Write the manifest of a run that took everything from the cache, unless it is already there."""
    from renderer.store.manifest import MANIFEST_NAME

    manifest = noop.manifest()
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
