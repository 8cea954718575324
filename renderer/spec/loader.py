"""Read a YAML project file into plain data, remembering where every value stands.

Only the slow path uses this: a spec whose bytes are unchanged since the last run is never parsed
(see ``renderer.store.state``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

from renderer.errors import Problem, SpecError
from renderer.spec.entrycache import EntryCache
from renderer.spec.source import read_spec_bytes

Path_ = tuple[str | int, ...]
Marks = dict[Path_, tuple[int, int]]

MAX_NODES = 1_000_000
MAX_DEPTH = 64

try:
    _Base: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeLoader

_STR, _MERGE = "tag:yaml.org,2002:str", "tag:yaml.org,2002:merge"


class _Loader(_Base):
    """The safe loader, minus YAML 1.1's guessing of plain scalars' types: the walker reads them as YAML
    1.2 itself (core_scalar), so only the merge key needs its tag (a third of the time of composing)."""

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode and implicit[0] and value == "<<":
            return _MERGE
        if kind is yaml.ScalarNode and implicit[0]:
            return _STR
        return str(super().resolve(kind, value, implicit))


class _Walker:
    """Turns a composed node tree into Python data; notes marks, refuses duplicates and alias bombs."""

    def __init__(self, file: str, text: str = "", marks_depth: int = MAX_DEPTH) -> None:
        self.file = file
        self.text = text
        self.marks: Marks = {}
        self.marks_depth = marks_depth  # values deeper than this get no mark of their own
        self.merges = "<<" in text  # merge keys are flattened only where one may be
        self.line_offset = 0  # the line in the file of the first line of the text composed
        self.problems: list[Problem] = []
        self.nodes = 0
        self.constructor = yaml.constructor.SafeConstructor()

    def problem(self, node: yaml.Node, message: str) -> None:
        self.problems.append(Problem(self.file, node.start_mark.line + 1, node.start_mark.column + 1, message))

    def walk(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _TooBig(node, f"the document expands to more than {MAX_NODES:,} values (an alias bomb?)")
        if depth > MAX_DEPTH:
            raise _TooBig(node, f"the document nests deeper than {MAX_DEPTH} levels")
        marked = depth < self.marks_depth
        if depth <= self.marks_depth:
            self.marks.setdefault(path, (node.start_mark.line + 1 + self.line_offset, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            if self.merges:
                self.constructor.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar_key(key_node)
                if key is None:
                    continue
                if key in result:
                    first = self.marks.get((*path, key), (0, 0))[0]
                    self.problem(key_node, f"duplicate key '{key}' (first given on line {first}); remove one of them")
                    continue
                if marked:
                    mark = key_node.start_mark
                    self.marks[(*path, key)] = (mark.line + 1 + self.line_offset, mark.column + 1)
                result[key] = self.walk(value_node, (*path, key), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, (*path, i), depth + 1) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.ScalarNode) and not node.style and not self.tagged(node):
            return core_scalar(node.value)
        try:
            return self.constructor.construct_object(node)
        except yaml.YAMLError as exc:
            self.problem(node, f"cannot read this value: {getattr(exc, 'problem', exc)}")
            return None

    def tagged(self, node: yaml.Node) -> bool:
        """Whether the value carries an explicit tag (``!!str 5``), which the reader keeps."""
        index = node.start_mark.index
        return 0 <= index < len(self.text) and self.text[index] == "!"

    def scalar_key(self, node: yaml.Node) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.problem(node, "a key must be plain text, not a list or mapping")
            return None
        if not self.tagged(node):
            # a key is its text, whatever type YAML would guess for it; one string for 100,000 "prompt"s
            return sys.intern(str(node.value))
        try:
            value = self.constructor.construct_object(node)
        except yaml.YAMLError as exc:
            self.problem(node, f"cannot read this key: {getattr(exc, 'problem', exc)}; write the key as plain text")
            return None
        if not isinstance(value, str):
            # YAML reads `1:` or `yes:` as a number or boolean; keys are names, so keep the text.
            value = node.value
        return value


_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")


_NOT_ONLY_TEXT = frozenset("0123456789+-.~nNtTfF") | {""}  # how a null, boolean or number starts


def core_scalar(text: str) -> Any:
    """A plain scalar as YAML 1.2's core schema reads it, as editors (yaml-language-server) do: PyYAML reads
    YAML 1.1, where ``16:9`` is the number 969, ``no`` is false and ``2024-01-01`` a date."""
    if text[:1] not in _NOT_ONLY_TEXT:
        return text  # most prompts and names: nothing but text starts so
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.fullmatch(text):
        return int(text)
    if text.startswith(("0o", "0x")):
        try:
            return int(text[2:], 8 if text[1] == "o" else 16)
        except ValueError:
            return text
    if _FLOAT.fullmatch(text) and any(c.isdigit() for c in text):
        return float(text)
    lowered = text.lower()
    if lowered in (".inf", "+.inf", "-.inf"):
        return float("-inf") if text.startswith("-") else float("inf")
    if lowered == ".nan":
        return float("nan")
    return text


class _TooBig(Exception):
    def __init__(self, node: yaml.Node, message: str) -> None:
        self.node = node
        self.message = message


def load_yaml(
    path: Path,
    display: str,
    data: bytes | None = None,
    *,
    marks_depth: int = MAX_DEPTH,
    entries: EntryCache | None = None,
) -> tuple[Any, Marks]:
    """Parse ``path`` (or ``data``) into plain data and a map from value path to (line, column), for the
    values no deeper than ``marks_depth`` (a big spec's marks take more memory than its data); asset
    entries known to ``entries`` are taken from it (spec/entrycache.py), with marks to the level of assets."""
    if data is None:
        data = read_spec_bytes(path, display)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError([Problem(display, line, 1, "the file is not UTF-8 text; save it as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        raise SpecError(
            [Problem(display, 1, 1, "the file is empty; a project needs at least 'version: 1' and 'assets:'")]
        )
    if marks_depth < MAX_DEPTH:
        in_parts = _load_in_parts(text, display, marks_depth, entries)
        if in_parts is not None:
            return in_parts
        if entries is not None:
            entries.forget_load()
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise SpecError([Problem(display, line, column, _yaml_message(exc, text, line))]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(display, 1, 1, f"this is not valid YAML: {exc}")]) from None
    if node is None:
        raise SpecError([Problem(display, 1, 1, "the file holds no YAML document")])
    walker = _Walker(display, text, marks_depth)
    try:
        data_out = walker.walk(node, (), 0)
    except _TooBig as exc:
        mark = exc.node.start_mark
        raise SpecError([Problem(display, mark.line + 1, mark.column + 1, exc.message)]) from None
    except RecursionError:
        raise SpecError([Problem(display, 1, 1, "the document nests too deeply")]) from None
    if walker.problems:
        raise SpecError(walker.problems)
    return data_out, walker.marks


PART_SIZE = 1000  # asset entries composed at once


def _load_in_parts(
    text: str, display: str, marks_depth: int, entries: EntryCache | None = None
) -> tuple[Any, Marks] | None:
    """A spec in plain block layout (spec/split.py), its asset entries read by the fast reader where it can
    (spec/fastread.py, marks to the level of assets only) and the rest composed a thousand entries at a
    time: the node tree of 100,000 entries at once takes a gigabyte. None for any other layout, or any
    trouble: the whole document is composed then, which says what is wrong and where."""
    from renderer.spec.fastread import read_entry
    from renderer.spec.split import split_spec

    split = split_spec(text)
    if split is None:
        return None
    fast = marks_depth == 2  # the entries' own marks and no deeper: what the fast reader and the cache give
    entries = entries if fast else None
    walker = _Walker(display, text, marks_depth)
    try:
        walker.text = split.before + split.after  # the text the marks' indexes are of
        head_node = yaml.compose(walker.text, Loader=_Loader)
        head = walker.walk(head_node, (), 0) if head_node is not None else None
        if not isinstance(head, dict) or "assets" not in head or head["assets"] is not None:
            return None
        assets: dict[str, Any] = {}
        chunks = list(split.chunks.items())
        line = split.before.count("\n")
        for start in range(0, len(chunks), PART_SIZE):
            batch = chunks[start : start + PART_SIZE]
            read: dict[str, Any] = {}
            texts = []  # what the YAML parser composes: entries read already become blank lines
            part_line = line
            for name, chunk in batch:
                lines = chunk.count("\n")
                found = entries.take(name, chunk) if entries is not None else None
                if found is None and fast:
                    fresh = read_entry(chunk)
                    found = fresh[1:] if fresh is not None else None
                    if found is not None and entries is not None:
                        entries.read(*found)
                if found is not None:
                    read[name] = found[0]
                    walker.nodes += found[1]
                    walker.marks[("assets", name)] = (part_line + 1, 3)
                    texts.append("\n" * lines)
                else:
                    texts.append(chunk)
                part_line += lines
            if walker.nodes > MAX_NODES:
                return None
            composed: Any = {}
            if len(read) < len(batch):
                walker.text, walker.line_offset = "".join(texts), line
                node = yaml.compose(walker.text, Loader=_Loader)
                composed = walker.walk(node, ("assets",), 1) if node is not None else None
                if not isinstance(composed, dict):
                    return None
            for name, _ in batch:
                assets[name] = read[name] if name in read else composed[name]
            line = part_line
    except (yaml.YAMLError, _TooBig, RecursionError, KeyError):
        return None
    if walker.problems:
        return None
    head["assets"] = assets
    return head, walker.marks


def _yaml_message(exc: yaml.MarkedYAMLError, text: str, line: int) -> str:
    problem = exc.problem or "cannot parse"
    lines = text.splitlines()
    source = lines[line - 1] if 0 < line <= len(lines) else ""
    if "\t" in source[: len(source) - len(source.lstrip())] or "found character '\\t'" in problem:
        return "a tab is used for indentation; YAML needs spaces"
    hint = ""
    if "mapping values are not allowed" in problem:
        value = source.split(": ", 1)[1] if ": " in source.strip() else ""
        if ": " in value or value.rstrip().endswith(":"):
            hint = "; a value with ': ' in it needs quotes"
        else:
            hint = "; check the indentation of this line against the lines above it"
    elif "could not find expected ':'" in problem:
        hint = "; a key needs ': ' after it"
    return f"this is not valid YAML: {problem}{hint}"
