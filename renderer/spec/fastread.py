"""A reader for the asset entries most specs are made of, much faster than composing them with a YAML
parser: an entry whose value is one line of flow YAML (``  a: {type: image, prompt: "x", inputs: [b]}``),
or a block of ``key: value`` lines whose values each fit on their line. Plain scalars are read as the
loader reads them (YAML 1.2's core schema, loader.core_scalar) and keys as their text.

Anything else, or anything it is unsure of (escapes, tags, multi-line values, nested blocks, odd
characters, a duplicate key), gives None, and the entry is composed by the YAML parser, which also says
what is wrong and where. A property test checks that whatever this reads, the YAML parser reads the same
(tests/spec/test_fastread.py).
"""

from __future__ import annotations

import re
import sys
from typing import Any

from renderer.spec.loader import core_scalar

MAX_NESTING = 16

_NAME = re.compile(r'  (?:"([^"\\]+)"|([A-Za-z0-9][A-Za-z0-9_.-]*)):(?= |$)')
_KEY = re.compile(r'([A-Za-z_][A-Za-z0-9_.-]*|"[^"\\]*"|\'(?:[^\']|\'\')*\'):(?= |$)')
# characters YAML might read otherwise than as themselves (line breaks, controls, a byte-order mark)
_UNSURE = re.compile("[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]|\\\\")
_DOUBLE = re.compile(r'"([^"]*)"')
_SINGLE = re.compile(r"'((?:[^']|'')*)'")
# a plain scalar starts with no indicator ('-' only before a letter, digit or dot) and ends before ': ',
# ' #' or the end; in a flow collection also before ',', '?' and brackets, and ':' before one of them
_START = r"""(?:[^\s\-?:,\[\]{}#&*!|>'"%@`]|-(?=[A-Za-z0-9.]))"""
_FLOW_PLAIN = re.compile(_START + r"(?:[^\s:,?\[\]{}]|:(?=[^\s,?\[\]{}])|[ ]+(?=[^\s:,?\[\]{}#]|:(?=[^\s,?\[\]{}])))*")
_BLOCK_PLAIN = re.compile(_START + r"(?:[^\s:]|:(?=\S)|[ ]+(?=[^\s:#]|:(?=\S)))*")
_REST = re.compile(r"(?:[ ]+#.*)?[ ]*")  # what may follow a value on its line: spaces, a comment


class _Unsure(Exception):
    pass


def read_entry(chunk: str) -> tuple[str, Any, int] | None:
    """An asset entry's text (spec/split.py's chunk) as (name, value, number of values), or None."""
    if _UNSURE.search(chunk):
        return None
    lines = chunk.split("\n")
    first = _NAME.match(lines[0])
    if first is None:
        return None
    name = first[1] or first[2]
    reader = _Reader()
    try:
        rest = lines[0][first.end() :]
        body = [line for line in lines[1:] if line.strip() and not line.lstrip().startswith("#")]
        if _REST.fullmatch(rest):  # nothing after the name: a block of key: value lines follows
            if not body:
                return None
            value: Any = reader.block(body)
        else:
            if body:
                return None
            value = reader.line_value(rest.lstrip(" "))
    except (_Unsure, IndexError):
        return None
    return sys.intern(name), value, reader.count


class _Reader:
    def __init__(self) -> None:
        self.count = 0  # values read, as the loader counts them (MAX_NODES)

    def block(self, lines: list[str]) -> dict[str, Any]:
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        mapping: dict[str, Any] = {}
        for line in lines:
            if len(line) - len(line.lstrip(" ")) != indent:
                raise _Unsure  # a nested block, or a value that goes on to the next line
            found = _KEY.match(line, indent)
            if found is None:
                raise _Unsure
            key = _key_text(found[1])
            rest = line[found.end() :]
            if key in mapping or _REST.fullmatch(rest):
                raise _Unsure  # twice, or an empty value (a nested block, or null)
            mapping[key] = self.line_value(rest.lstrip(" "))
        self.count += 1
        return mapping

    def line_value(self, text: str) -> Any:
        """A value that is the rest of its line (after ``key: ``), with an optional comment."""
        if text[0] in "[{\"'":
            value, end = self.flow(text, 0, 0)
        else:
            plain = _BLOCK_PLAIN.match(text)
            if plain is None:
                raise _Unsure
            value, end = core_scalar(plain[0]), plain.end()
            self.count += 1
        if not _REST.fullmatch(text, end):
            raise _Unsure
        return value

    def flow(self, text: str, at: int, depth: int) -> tuple[Any, int]:
        """The flow value at ``at``, and where it ends."""
        if depth > MAX_NESTING:
            raise _Unsure
        self.count += 1
        opening = text[at]
        if opening == '"' or opening == "'":
            quoted = (_DOUBLE if opening == '"' else _SINGLE).match(text, at)
            if quoted is None:
                raise _Unsure
            return (quoted[1] if opening == '"' else quoted[1].replace("''", "'")), quoted.end()
        if opening == "[":
            items: list[Any] = []
            at = _skip(text, at + 1)
            if text[at] == "]":
                return items, at + 1
            while True:
                item, at = self.flow(text, at, depth + 1)
                items.append(item)
                at = _skip(text, at)
                if text[at] == "]":
                    return items, at + 1
                at = self.after_comma(text, at)
        if opening == "{":
            mapping: dict[str, Any] = {}
            at = _skip(text, at + 1)
            if text[at] == "}":
                return mapping, at + 1
            while True:
                found = _KEY.match(text, at)
                if found is None or text[found.end() : found.end() + 1] != " ":
                    raise _Unsure
                key = _key_text(found[1])
                at = _skip(text, found.end())
                if key in mapping or text[at] in ",}":
                    raise _Unsure  # twice, or no value
                mapping[key], at = self.flow(text, at, depth + 1)
                at = _skip(text, at)
                if text[at] == "}":
                    return mapping, at + 1
                at = self.after_comma(text, at)
        plain = _FLOW_PLAIN.match(text, at)
        if plain is None:
            raise _Unsure
        return core_scalar(plain[0]), plain.end()

    @staticmethod
    def after_comma(text: str, at: int) -> int:
        if text[at] != ",":
            raise _Unsure
        at = _skip(text, at + 1)
        if text[at] in ",]}":
            raise _Unsure  # a trailing or doubled comma
        return at


def _skip(text: str, at: int) -> int:
    while text[at] == " ":
        at += 1
    return at


def _key_text(written: str) -> str:
    if written[0] == '"':
        written = written[1:-1]
    elif written[0] == "'":
        written = written[1:-1].replace("''", "'")
    return sys.intern(written)
