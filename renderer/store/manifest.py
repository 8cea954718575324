"""manifest.json in the output directory: every output of the run and where it came from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from renderer.store.atomic import atomic_write_bytes

MANIFEST_VERSION = 1
MANIFEST_NAME = "manifest.json"
OUTPUT_FIELDS = (
    "path",
    "asset",
    "status",
    "sha256",
    "bytes",
    "media_type",
    "duration",
    "width",
    "height",
    "fps",
    "video_codec",
    "audio_codec",
    "sample_rate",
    "channels",
    "cost_usd",
    "key",
)


def manifest_entry(asset: str, status: str, record: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    info = {**record.get("probe", {}), **record}
    entry = {"path": path, "asset": asset, "status": status, "key": key}
    for field in OUTPUT_FIELDS:
        if field not in entry and info.get(field) is not None:
            entry[field] = info[field]
    return {field: entry[field] for field in OUTPUT_FIELDS if field in entry}


def render_manifest(project: str, spec: str, outputs: list[dict[str, Any]]) -> bytes:
    """One output per line: readable, diffable, and written by json's C encoder (indent= is pure Python)."""
    head = (
        f'{{\n  "manifest-version": {MANIFEST_VERSION},\n  "project": {json.dumps(project, ensure_ascii=False)},\n'
        f'  "spec": {json.dumps(spec, ensure_ascii=False)},\n  "outputs": ['
    )
    dump = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    body = ",".join("\n    " + dump(entry) for entry in sorted(outputs, key=lambda e: e["path"]))
    return (head + body + ("\n  ]\n}\n" if outputs else "]\n}\n")).encode()


def write_manifest(out_dir: Path, data: bytes) -> Path:
    path = out_dir / MANIFEST_NAME
    atomic_write_bytes(path, data, durable=False)
    return path
