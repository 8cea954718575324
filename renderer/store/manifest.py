"""manifest.json in the output directory: every output of the run and where it came from.

One output per line: readable, diffable, and written by json's C encoder (indent= is pure Python). Each
line is made by ``manifest_line`` alone, so the no-op path can keep lines and put them together again.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from renderer.records import ManifestEntry
from renderer.store.atomic import atomic_write_bytes

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"

_encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode


def manifest_line(entry: ManifestEntry) -> str:
    return _encode(entry.written())


def _head(project: str, spec: str) -> str:
    return (
        f'{{\n  "manifest-version": {MANIFEST_VERSION},\n  "project": {json.dumps(project, ensure_ascii=False)},\n'
        f'  "spec": {json.dumps(spec, ensure_ascii=False)},\n  "outputs": ['
    )


def assemble_manifest(project: str, spec: str, lines: Iterable[str]) -> bytes:
    """The manifest from its output lines, which must already be in path order."""
    body = ",\n    ".join(lines)
    return (_head(project, spec) + ("\n    " + body + "\n  ]\n}\n" if body else "]\n}\n")).encode()


def manifest_pieces(project: str, spec: str, lines: Iterable[str], lines_at_once: int = 1000) -> Iterator[bytes]:
    """``assemble_manifest``'s bytes in pieces, to be written as they come: at 100,000 outputs the
    manifest is 33 MB, which joined, concatenated and encoded at once held 130 MB."""
    rest = iter(lines)
    batch = list(islice(rest, lines_at_once))
    if not batch:
        yield (_head(project, spec) + "]\n}\n").encode()
        return
    yield (_head(project, spec) + "\n    ").encode()
    separator = ""
    while batch:
        yield (separator + ",\n    ".join(batch)).encode()
        separator = ",\n    "
        batch = list(islice(rest, lines_at_once))
    yield b"\n  ]\n}\n"


def render_manifest(project: str, spec: str, outputs: Iterable[ManifestEntry]) -> bytes:
    return assemble_manifest(project, spec, [manifest_line(e) for e in sorted(outputs, key=lambda e: e.path)])


def write_manifest(out_dir: Path, data: bytes | Iterable[bytes]) -> Path:
    path = out_dir / MANIFEST_NAME
    atomic_write_bytes(path, data, durable=False)
    return path
