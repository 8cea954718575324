"""The lockfile: what every asset was made from and what it is, committed beside the spec.

Deterministic: assets sorted by name, fields in a fixed order, one blank line between assets, so a run that
changes nothing leaves it byte-identical and two branches that touch different assets merge cleanly.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from renderer.errors import Problem, SpecError
from renderer.store.atomic import atomic_write_bytes

LOCK_VERSION = 1
FIELDS = (
    "key",
    "provider",
    "model",
    "resolved_model",
    "job_id",
    "output",
    "sha256",
    "bytes",
    "media_type",
    "duration",
    "width",
    "height",
    "cost_usd",
    "created",
    "inputs",
)
HEADER = "# Written by render: commit it with the spec. Do not edit by hand.\n"


def lock_path(spec: Path) -> Path:
    return spec.with_suffix(".lock")


def render_lock(spec_name: str, entries: dict[str, dict[str, Any]]) -> bytes:
    lines = [HEADER, f"lock-version: {LOCK_VERSION}\n", f"spec: {_scalar(spec_name)}\n", "assets:"]
    if not entries:
        lines.append(" {}\n")
    else:
        lines.append("\n")
    for name in sorted(entries):
        entry = entries[name]
        lines.append(f"\n  {_scalar(name)}:\n")
        for field in FIELDS:
            value = entry.get(field)
            if value is None:
                continue
            if field == "inputs":
                if value:
                    lines.append("    inputs:\n")
                    lines += [f"      {_scalar(slot)}: {_scalar(digest)}\n" for slot, digest in value.items()]
                continue
            lines.append(f"    {field}: {_scalar(value)}\n")
    return "".join(lines).encode()


# YAML's printable set, less NEL, LS and PS, which PyYAML reads as line breaks inside quotes.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _scalar(value: Any) -> str:
    # A JSON string is a YAML double-quoted scalar, so every string stays text ("yes", "1e3"). Non-ASCII is
    # written as itself (JSON's surrogate-pair escapes do not read back in YAML), and what YAML cannot
    # carry as printable text gets YAML's own escape.
    return _NOT_PRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def write_lock(path: Path, spec_name: str, entries: dict[str, dict[str, Any]]) -> bytes:
    data = render_lock(spec_name, entries)
    try:
        if path.read_bytes() == data:
            return data
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return data


def read_lock(path: Path) -> tuple[dict[str, dict[str, Any]], bytes]:
    """The lock's entries by asset name, and its bytes. A missing lockfile is empty."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, b""
    import yaml

    try:
        loaded = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise SpecError(
            [
                Problem(
                    str(path),
                    line,
                    1,
                    "the lockfile is not valid YAML (a merge conflict?); resolve it, or delete it and render again",
                )
            ]
        ) from None
    if (
        not isinstance(loaded, dict)
        or loaded.get("lock-version") != LOCK_VERSION
        or not isinstance(loaded.get("assets"), dict)
    ):
        raise SpecError(
            [Problem(str(path), 1, 1, f"this is not a lockfile of version {LOCK_VERSION}; delete it and render again")]
        )
    return {str(k): v for k, v in loaded["assets"].items() if isinstance(v, dict)}, data
