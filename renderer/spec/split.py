"""A spec in plain block layout, split into its *head* (everything outside ``assets:``) and its asset
entries' own text (*chunks*): what the loader composes a part at a time and what incremental decisions
(renderer/incremental.py) compare with the last run. Pure text work: any layout it is unsure of gives None.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from typing import NamedTuple

ENTRY = re.compile(r'^  (?:"([^"\\]+)"|([A-Za-z0-9][A-Za-z0-9_.-]*)):(?:\s|$)')


class Split(NamedTuple):
    before: str  # up to and including the line "assets:"
    chunks: dict[str, str]  # entry -> its lines, in file order
    after: str  # after the assets block

    @property
    def head_sha(self) -> str:
        return hashlib.sha256((self.before + "\0" + self.after).encode()).hexdigest()

    def part(self, entries: set[str]) -> str:
        """A spec of the head and only these entries."""
        return self.before + "".join(text for entry, text in self.chunks.items() if entry in entries) + self.after


@lru_cache(maxsize=2)  # the short way and the snapshot after the render split the same spec
def split_of(spec_bytes: bytes) -> Split | None:
    try:
        return split_spec(spec_bytes.decode("utf-8"))
    except UnicodeDecodeError:
        return None


@lru_cache(maxsize=2)
def chunk_digests(spec_bytes: bytes) -> dict[str, str]:
    split = split_of(spec_bytes)
    if split is None:
        return {}
    sha256 = hashlib.sha256  # inline: a call less for each of 100,000 entries
    return {entry: sha256(text.encode()).hexdigest() for entry, text in split.chunks.items()}


def split_spec(text: str) -> Split | None:
    """The head and the entries of a spec written in block style; None for any other layout."""
    if "\t" in text or "&" in text or "*" in text or "<<" in text:  # anchors, aliases, merges: full path
        return None
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\r\n").rstrip() == "assets:"]
    if len(starts) != 1:
        return None
    first = starts[0] + 1
    end = first
    while end < len(lines) and (not lines[end].strip() or lines[end][0] in " #"):
        end += 1
    chunks: dict[str, str] = {}
    current: str | None = None
    block_head = ""
    for line in lines[first:end]:
        match = ENTRY.match(line)
        if match:
            current = match.group(1) or match.group(2)
            if current in chunks:
                return None
            chunks[current] = line
        elif current is None:
            if line.strip() and not line.lstrip().startswith("#"):
                return None  # something other than an entry at the top of the block
            block_head += line
        elif line.startswith("   ") or not line.strip() or line.lstrip().startswith("#"):
            chunks[current] += line
        else:
            return None  # e.g. "  - item": not a mapping of entries
    if not chunks:
        return None
    return Split("".join(lines[:first]) + block_head, chunks, "".join(lines[end:]))
