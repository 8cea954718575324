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


def try_noop(spec: Path, spec_bytes: bytes, cache_dir: Path, out_dir: str | None, selection: list[str],
             version: str) -> Noop | None:
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
    return Noop(state["project"], state["spec_name"], Path(state["out_dir"]), names, state["assets"])


def write_noop_manifest(noop: Noop) -> Path:
    import json

    from renderer.store.manifest import MANIFEST_NAME, MANIFEST_VERSION

    outputs = [{**noop.assets[name][5], "status": "cached"} for name in noop.names]
    outputs.sort(key=lambda e: e["path"])
    data = (json.dumps({"manifest-version": MANIFEST_VERSION, "project": noop.project, "spec": noop.spec_name,
                        "outputs": outputs}, indent=2, ensure_ascii=False) + "\n").encode()
    path = noop.out_dir / MANIFEST_NAME
    try:
        with open(path, "rb") as handle:
            if handle.read() == data:
                return path
    except OSError:
        pass
    tmp = path.with_name(f".{MANIFEST_NAME}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)
    return path
