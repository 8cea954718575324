"""The lockfile: what every asset was made from and what it is, committed beside the spec.

Deterministic: assets sorted by name, fields in a fixed order, one blank line between assets, so a run that
changes nothing leaves it byte-identical and two branches that touch different assets merge cleanly.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from renderer.errors import LockfileError
from renderer.records import LOCK_FIELDS, LockEntry
from renderer.store import forked
from renderer.store.atomic import atomic_write_bytes

LOCK_VERSION = 1
HEADER = "# Written by render: commit it with the spec. Do not edit by hand.\n"
Stamp = tuple[int, int, int, int]  # a file's size, mtime_ns, inode and device: it is the one read


def lock_path(spec: Path) -> Path:
    return spec.with_suffix(".lock")


def render_lock(spec_name: str, entries: dict[str, LockEntry]) -> bytes:
    return LockText(spec_name).render(entries)


class LockText:
    """Renders lockfiles, remembering where each entry's text is in the last lockfile read or written, so a
    rewrite renders only the entries that changed and copies the rest, in runs of neighbours.

    ``known``: entries whose text is at (start, end) of ``source`` (the lockfile's bytes), with the entry
    it says; ``outside``: where the entries that were not read are (a part of a spec, decided
    incrementally, reads only its own), written back as they were unless ``drop`` removes them. Offsets,
    not copies: the texts of 100,000 entries would hold the lockfile's 55 MB a second time. ``source``
    may be a file and the stamp it had when it was read: read again at the first render (a run that
    changes no entry never holds it), its entries all rendered anew if it changed meanwhile."""

    def __init__(
        self,
        spec_name: str,
        known: dict[str, tuple[LockEntry, int, int]] | None = None,
        outside: dict[str, tuple[int, int]] | None = None,
        source: bytes | tuple[Path, Stamp | None] = b"",
    ) -> None:
        self.spec_name = spec_name
        self._known = dict(known or {})
        self.outside = dict(outside or {})
        self._source = b""
        self._source_file = None
        if isinstance(source, bytes):
            self._source = source
        else:
            self._source_file = source
            if outside:
                raise ValueError("a part of a spec keeps the lockfile's bytes: its other entries are only there")

    def _take_source(self) -> None:
        if self._source_file is None:
            return
        path, stamp = self._source_file
        self._source_file = None
        try:
            data = path.read_bytes()
        except OSError:
            data = None
        if data is None or stamp is None or _stamp(str(path)) != stamp:
            self._known = {}  # changed since it was read: every entry rendered anew
        else:
            self._source = data

    def drop(self, names: set[str]) -> None:
        for name in names:
            self.outside.pop(name, None)

    def render(self, entries: dict[str, LockEntry]) -> bytes:
        self._take_source()
        names = sorted(entries.keys() | self.outside.keys()) if self.outside else sorted(entries)
        lines = [HEADER, f"lock-version: {LOCK_VERSION}\n", f"spec: {_scalar(self.spec_name)}\n", "assets:"]
        lines.append("\n" if names else " {}\n")
        head = "".join(lines).encode()
        parts: list[bytes | memoryview] = [head]
        source = memoryview(self._source)  # runs of it joined without a copy each: 55 MB at 100,000 entries
        at = len(head)  # where the next text goes in the new lockfile
        run_start = run_end = 0  # texts of the source next to each other, copied in one piece
        known: dict[str, tuple[LockEntry, int, int]] = {}
        outside: dict[str, tuple[int, int]] = {}
        for name in names:
            entry = entries.get(name)
            if entry is None:
                span = self.outside[name]
                start, end = span
                outside[name] = span if at == start else (at, at + end - start)
            else:
                was = self._known.get(name)
                if was is None or not (was[0] is entry or was[0] == entry):  # rendered anew
                    parts.append(source[run_start:run_end])
                    run_start = run_end = 0
                    text = _entry_text(name, entry).encode()
                    parts.append(text)
                    known[name] = (entry, at, at + len(text))
                    at += len(text)
                    continue
                _, start, end = was
                # the same offsets (the same tuple) unless a text before it changed length
                known[name] = was if at == start else (entry, at, at + end - start)
            if start != run_end:  # copied from the source, with its neighbours
                parts.append(source[run_start:run_end])
                run_start = start
            run_end = end
            at += end - start
        parts.append(source[run_start:run_end])
        data = b"".join(parts)
        self._known, self.outside, self._source = known, outside, data
        return data


def _entry_text(name: str, entry: LockEntry) -> str:
    lines = [f"\n  {_scalar(name)}:\n"]
    for field, value in entry.written().items():
        if field == "inputs":
            lines.append("    inputs:\n")
            lines += [f"      {_scalar(slot)}: {_scalar(digest)}\n" for slot, digest in value.items()]
            continue
        lines.append(f"    {field}: {_scalar(value)}\n")
    return "".join(lines)


_PLAIN = re.compile(r"[A-Za-z0-9_.:/+@ -]*")


# YAML's printable set, less NEL, LS and PS, which PyYAML reads as line breaks inside quotes.
_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def _scalar(value: Any) -> str:
    if isinstance(value, str) and _PLAIN.fullmatch(value):
        return f'"{value}"'
    # A JSON string is a YAML double-quoted scalar, so every string stays text ("yes", "1e3"). Non-ASCII is
    # written as itself (JSON's surrogate-pair escapes do not read back in YAML), and what YAML cannot
    # carry as printable text gets YAML's own escape.
    return _NOT_PRINTABLE.sub(_escape, json.dumps(value, ensure_ascii=False))


def write_lock(
    path: Path,
    spec_name: str,
    entries: dict[str, LockEntry],
    text: LockText | None = None,
    previous: bytes | None = None,
) -> bytes:
    """Write the lockfile unless it already says this; ``previous``: what it is known to hold (the writer
    keeps it, so a 50 MB lockfile is not read again to be compared)."""
    data = (text or LockText(spec_name)).render(entries)
    try:
        if path.stat().st_size == len(data):  # else it says something else: not read to be compared
            known = previous if previous is not None and len(previous) == len(data) else path.read_bytes()
            if known == data:
                return data
    except OSError:
        pass
    atomic_write_bytes(path, data)
    return data


def read_lock(path: Path) -> dict[str, LockEntry]:
    """The lock's entries by asset name. A missing lockfile is empty."""
    return read_lock_text(path, with_texts=False)[0]


READ_AHEAD_BYTES = 1 << 20  # about 2,000 entries: below that, parsing takes less than starting a process


def read_ahead(path: Path, *, min_bytes: int = READ_AHEAD_BYTES, with_texts: bool = True) -> None:
    """Start parsing this lockfile on the other core (store/forked.py), if it is big, for
    ``read_lock_text`` to take later if the file is still the one parsed: a full-path run reads a
    100,000-entry lockfile (2.5 s) while it loads its spec. ``with_texts`` as ``read_lock_text`` will
    be called."""
    stamp = _stamp(str(path))
    if stamp is not None and stamp[0] >= min_bytes:
        forked.start(f"lockfile {path}", _read_plainly, str(path), with_texts)


def _stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev


def _read_plainly(path: str, with_spans: bool) -> tuple[Any, ...] | None:
    """The file's stamp, spec name, entries (as tuples) and spans, in plain values; None unless the fast
    reader reads it (and the file held still meanwhile). Not the file's bytes: whoever needs them reads
    them again (a 100,000-entry lockfile's 55 MB, through the pipe, would be held twice at once)."""
    data, stamp = _read_held_still(Path(path))
    parsed = _parse_own_format(data, with_spans=with_spans) if stamp is not None else None
    if parsed is None:
        return None
    entries, spans = parsed
    plain = {name: tuple(entry) for name, entry in entries.items()}
    return stamp, _spec_name(data), plain, spans if with_spans else None


def _read_held_still(path: Path) -> tuple[bytes, Stamp | None]:
    """The file's bytes, and its stamp if it held still while they were read (else None)."""
    before = _stamp(str(path))
    data = path.read_bytes()
    return data, before if before is not None and _stamp(str(path)) == before else None


def _spec_name(data: bytes) -> Any:
    return json.loads(data.split(b"\n", 3)[2][6:])


def _read_ahead_result(
    path: Path, with_texts: bool
) -> tuple[str, Stamp, tuple[dict[str, LockEntry], dict[str, tuple[int, int]]]] | None:
    found = forked.take(f"lockfile {path}")
    if found is None or found[0] != _stamp(str(path)):
        return None  # changed since (a render in another terminal wrote it), or not read
    stamp, spec_name, entries, spans = found
    if with_texts and spans is None:
        return None  # read ahead for a plan, which needs no texts
    make = LockEntry._make
    for name, values in entries.items():  # in place: each tuple let go as its entry is made
        entries[name] = make(values)
    return spec_name, stamp, (entries, spans)


def read_lock_text(path: Path, *, with_texts: bool = True) -> tuple[dict[str, LockEntry], LockText]:
    """Like ``read_lock``, with a LockText that knows where the text of every entry read is in the file
    (read again only when it is first rendered); with ``with_texts`` false (a run that never writes the
    lockfile), one that knows none."""
    ahead = _read_ahead_result(path, with_texts)
    parsed: tuple[dict[str, LockEntry], dict[str, tuple[int, int]]] | None
    spec_name: str
    stamp: Stamp | None
    if ahead is not None:
        spec_name, stamp, parsed = ahead
    else:
        try:
            data, stamp = _read_held_still(path)  # no stamp: written while read, its texts rendered anew
        except FileNotFoundError:
            return {}, LockText(path.with_suffix(".yaml").name)
        parsed = _parse_own_format(data, with_spans=with_texts)
        spec_name = _spec_name(data) if parsed is not None else ""
    if parsed is not None:
        entries, spans = parsed
        if not with_texts:
            return entries, LockText(spec_name)
        known = {n: (entries[n], *spans[n]) for n in entries}
        return entries, LockText(spec_name, known, source=(path, stamp))
    if not data.strip():
        return {}, LockText(path.with_suffix(".yaml").name)  # an empty file (a merge base, say)
    entries, named = _read_yaml_lock(path, data)
    return entries, LockText(named or path.with_suffix(".yaml").name)


def read_lock_part(path: Path, names: set[str]) -> tuple[dict[str, LockEntry], LockText] | None:
    """Like ``read_lock_text``, but parsing only these assets' entries: the LockText keeps where every other
    entry's text is (a part of a spec decided incrementally needs a few of many thousands). None for a
    lockfile not in render's own format: read it all."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}, LockText(path.with_suffix(".yaml").name)
    head = data.split(b"\n", 4)[:4]  # (the rest is looked at where it lies: it may be 50 MB)
    if len(head) < 4 or head[3] != b"assets:" or not head[2].startswith(b"spec: "):
        return None
    body = sum(len(line) + 1 for line in head)
    try:
        spec_name = json.loads(head[2][6:])
    except ValueError:
        return None
    # every entry starts with a line '  "name":' (fields are indented further), after one blank line
    starts = [match.start() for match in _ENTRY_START_BYTES.finditer(data, body)]
    if len(data) > body and starts[:1] != [body]:
        return None
    mine: list[bytes] = []
    spans: dict[str, tuple[int, int]] = {}
    outside: dict[str, tuple[int, int]] = {}
    for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
        close = data.find(b'":\n', start, end)
        if close < 0:
            return None
        try:
            name = data[start + 4 : close].decode("utf-8")
            if "\\" in name:  # an escape: JSON reads it
                name = json.loads(data[start + 3 : close + 1])
        except ValueError:
            return None
        if name in names:
            mine.append(data[start:end])
            spans[name] = (start, end)
        else:
            outside[name] = (start, end)
    parsed = _parse_own_format(
        b"\n".join(head) + b"\n" + b"".join(mine) if mine else b"\n".join(head[:3]) + b"\nassets: {}\n"
    )
    if parsed is None or parsed[0].keys() != spans.keys():
        return None
    entries = parsed[0]
    return entries, LockText(spec_name, {n: (entries[n], *spans[n]) for n in entries}, outside, data)


_ENTRY_START_BYTES = re.compile(rb'\n  "')
# an entry as render writes it: its name, its fields, and its inputs last (LockEntry's order)
_ENTRY_TEXT = re.compile(r'\n  ("[^\n]*"):\n((?:    [a-z0-9_]+: [^\n]*\n)*)(?:    inputs:\n((?:      "[^\n]*\n)+))?')
_FIELD_LINE = re.compile(r"    ([a-z0-9_]+): ")
_FIELD_VALUE = re.compile(r"    [a-z0-9_]+: ([^\n]*)\n")
_SLOT_LINE = re.compile(r'      (".*)\n')  # '"slot": "sha256:..."': a member of a JSON object, as it is


def _read_yaml_lock(path: Path, data: bytes) -> tuple[dict[str, LockEntry], str | None]:
    import yaml  # only a lockfile render did not write (hand-edited, merged) needs the YAML parser

    try:
        loaded = yaml.load(data, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise LockfileError(
            path,
            line,
            "the lockfile is not valid YAML (a merge conflict?); resolve it, or delete it and render again",
        ) from None
    if not isinstance(loaded, dict):
        what = "a list" if isinstance(loaded, list) else type(loaded).__name__
        raise LockfileError(path, 1, f"the lockfile holds {what} where a mapping belongs; delete it and render again")
    version = loaded.get("lock-version")
    if isinstance(version, int) and not isinstance(version, bool) and version > LOCK_VERSION:
        raise LockfileError(
            path,
            _line_of(data, "lock-version:"),
            f"this lockfile was written by a newer render (lock-version {version}; this render reads "
            f"{LOCK_VERSION}); upgrade render: pip install -U render-media",
        )
    if version != LOCK_VERSION or not isinstance(loaded.get("assets"), (dict, type(None))):
        raise LockfileError(path, 1, f"this is not a lockfile of version {LOCK_VERSION}; delete it and render again")
    entries = {}
    for name, fields in (loaded.get("assets") or {}).items():
        problem = entry_problem(fields)
        if problem:
            raise LockfileError(
                path,
                _line_of(data, f"  {json.dumps(str(name), ensure_ascii=False)}:", f"  {name}:"),
                f"asset '{name}': {problem}; the lockfile was edited by hand? Restore the entry from git, or "
                "delete it and render again (it will be made again, at a cost for paid assets)",
            )
        entries[str(name)] = LockEntry.from_written(fields)
    spec_name = loaded.get("spec")
    return entries, spec_name if isinstance(spec_name, str) else None


HEX64 = re.compile(r"(sha256:)?[0-9a-f]{64}")
_TEXT_FIELDS = ("provider", "model", "resolved_model", "job_id", "output", "media_type", "created")
_NUMBER_FIELDS = ("duration", "cost_usd")
_COUNT_FIELDS = ("bytes", "width", "height", "pick")


def entry_problem(fields: Any) -> str | None:
    """What is wrong with one asset's entry as read from YAML, or None: junk is refused, never adopted."""
    if not isinstance(fields, dict):
        return "the entry is not a mapping of fields"
    if not isinstance(fields.get("key"), str) or not HEX64.fullmatch(fields["key"]):
        return f"key {fields.get('key')!r} is not a sha256 digest"
    sha = fields.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{64}", sha)):
        return f"sha256 {sha!r} is not a sha256 digest"
    for field in _TEXT_FIELDS:
        if fields.get(field) is not None and not isinstance(fields[field], str):
            return f"{field} {fields[field]!r} is not text"
    for field in _COUNT_FIELDS:
        value = fields.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
            return f"{field} {value!r} is not a whole number"
    for field in _NUMBER_FIELDS:
        value = fields.get(field)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            return f"{field} {value!r} is not a number"
    inputs = fields.get("inputs")
    if inputs is not None:
        if not isinstance(inputs, dict):
            return "inputs is not a mapping of slot to sha256"
        for slot, digest in inputs.items():
            if not isinstance(digest, str) or not HEX64.fullmatch(digest):
                return f"input '{slot}' has {digest!r}, not a sha256 digest"
    return None


def _line_of(data: bytes, *starts: str) -> int:
    """The first line that starts with one of ``starts``: where to look (1 when none does)."""
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if line.startswith(starts):
            return number
    return 1


def _parse_own_format(
    data: bytes, *, with_spans: bool = True
) -> tuple[dict[str, LockEntry], dict[str, tuple[int, int]]] | None:
    """Read a lockfile exactly as ``render_lock`` writes it, much faster than a YAML parser; None for
    anything else (hand-edited, merged, older), which then goes through the YAML parser. Also where each
    entry's text is in ``data`` (start, end), for writing it back unchanged. One entry at a time: the lines
    of 100,000 entries at once take more memory than the entries."""
    head = data.split(b"\n", 4)
    try:
        lines = [line.decode("utf-8") for line in head[:4]]
    except UnicodeDecodeError:
        return None
    if lines[:2] != [HEADER.rstrip("\n"), f"lock-version: {LOCK_VERSION}"] or len(lines) < 4:
        return None
    if not lines[2].startswith("spec: "):
        return None
    if lines[3] == "assets: {}":
        return {}, {}
    if lines[3] != "assets:" or not data.endswith(b"\n"):
        return None
    body = sum(len(line) + 1 for line in head[:4])
    starts = [match.start() for match in _ENTRY_START_BYTES.finditer(data, body)]
    if data[body : starts[0] if starts else len(data)].strip():
        return None  # something before the first entry
    entries: dict[str, LockEntry] = {}
    spans: dict[str, tuple[int, int]] = {}
    loads = json.loads
    known_fields = set(LOCK_FIELDS)
    share: Callable[[Any, Any], Any] = {}.setdefault
    try:
        for start, end in zip(starts, [*starts[1:], len(data)], strict=True):
            text = data[start:end].decode("utf-8")
            shape = _ENTRY_TEXT.fullmatch(text)
            if shape is None:
                return None
            # every value is a JSON scalar: all of an entry's at once, as one JSON document
            fields = _FIELD_LINE.findall(shape[2])
            if not known_fields.issuperset(fields):
                return None
            document = ",".join(_FIELD_VALUE.findall(shape[2]))
            slots = _SLOT_LINE.findall(shape[3]) if shape[3] is not None else None
            if slots is not None:
                document += ("," if fields else "") + "{" + ",".join(slots) + "}"
            values = loads(f"[{shape[1]},{document}]")
            if len(values) != len(fields) + 1 + (slots is not None):
                return None  # a value that was not one scalar
            name = values[0]
            entry: dict[str, Any] = dict(zip(fields, values[1 : len(fields) + 1], strict=True))
            if slots is not None:
                if len(values[-1]) != len(slots):
                    return None  # two slots on a line, or one twice
                entry["inputs"] = values[-1]
            if not isinstance(name, str) or entry_problem(entry):
                return None  # junk in a field: the YAML path says where
            for field in _REPEATED:  # one string for 100,000 "local"s
                if isinstance(entry.get(field), str):
                    entry[field] = sys.intern(entry[field])
            for field in _SHARED:  # and one for each digest, time and price however many entries name it
                value = entry.get(field)
                if value is not None:
                    entry[field] = share(value, value)
            made = entries[name] = LockEntry.from_written(entry)
            inputs = made.inputs  # a dict of this entry's own (or the empty default)
            for slot, digest in inputs.items():
                inputs[slot] = share(digest, digest)
            if with_spans:
                spans[name] = (start, end)
    except (ValueError, IndexError):
        return None
    return entries, spans


_REPEATED = ("provider", "model", "resolved_model", "media_type")
_SHARED = ("sha256", "created", "cost_usd")  # an output's digest is its users' input digest too


def merge_locks(
    base: dict[str, LockEntry], ours: dict[str, LockEntry], theirs: dict[str, LockEntry]
) -> tuple[dict[str, LockEntry], list[str]]:
    """A three-way merge by asset: a side that changed an entry (or added or removed it) wins over one
    that did not. Returns the merged entries (ours where both changed one differently) and those names."""
    merged: dict[str, LockEntry] = {}
    conflicts = []
    for name in sorted({*base, *ours, *theirs}):
        old, mine, other = base.get(name), ours.get(name), theirs.get(name)
        if mine == other or other == old:
            chosen = mine
        elif mine == old:
            chosen = other
        else:
            chosen = mine if mine is not None else other
            conflicts.append(name)
        if chosen is not None:
            merged[name] = chosen
    return merged, conflicts
