"""Asset entries as an earlier load read and validated them, by the sha256 of their text.

When a big spec goes down the full path (its head was edited, say: new defaults decide every asset again),
most of its entries are the text they were last time. Reading and validating 100,000 entries takes 2.5 s;
taking them from here, 0.3 s. An entry's value depends only on its text and how the loader reads text
(``FORMAT``), and whether it is valid only on the asset schema, whose digest names the file: so a hit
is exactly what reading and validating it would give. Entries are remembered only after the whole
document validated; anything odd about the file (damaged, cut short, another version) and it is not used.

One file per spec, in the cache directory (``entries/``), written only when the spec has at least
``MIN_ENTRIES`` entries and some were read afresh.
"""

from __future__ import annotations

import hashlib
import marshal
import os
from pathlib import Path
from typing import Any

FORMAT = 1  # raise when the loader would read the same text otherwise
MIN_ENTRIES = 2000  # below this, reading is quicker than loading the file


class EntryCache:
    """Known entries: text digest -> (value, number of values). ``fresh`` collects what a load read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.known: dict[bytes, tuple[Any, int]] = {}
        # what a load finds: every entry's digest, in order; those read afresh; the names of those taken
        self.digests: list[bytes] = []
        self.fresh: dict[bytes, tuple[Any, int]] = {}
        self.taken: set[str] = set()
        try:
            data = path.read_bytes()
            if data[:32] == hashlib.sha256(data[32:]).digest():
                known = marshal.loads(data[32:])
                if isinstance(known, dict):
                    self.known = known
        except (OSError, EOFError, ValueError, TypeError):
            pass

    def take(self, name: str, text: str) -> tuple[Any, int] | None:
        """The entry ``name`` with this text, if known."""
        digest = hashlib.sha256(text.encode()).digest()
        self.digests.append(digest)
        found = self.known.get(digest)
        if found is not None:
            self.taken.add(name)
        return found

    def read(self, value: Any, nodes: int) -> None:
        """The entry last asked for (``take``) was read afresh."""
        self.fresh[self.digests[-1]] = (value, nodes)

    def forget_load(self) -> None:
        """The load went another way (the whole document composed): nothing of it to remember."""
        self.digests, self.fresh, self.taken = [], {}, set()

    def save(self) -> None:
        """Remember the entries of the load, known or read (call once the document they make validated)."""
        if len(self.digests) < MIN_ENTRIES or not self.fresh:
            return
        known, fresh = self.known, self.fresh
        entries = {d: fresh[d] if d in fresh else known[d] for d in self.digests if d in fresh or d in known}
        payload = marshal.dumps(entries)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(hashlib.sha256(payload).digest() + payload)
            os.replace(tmp, self.path)
        except OSError:  # a cache that cannot be written is only slower next time
            tmp.unlink(missing_ok=True)


class _Folder:
    path: Path | None = None  # set by the CLI (the cache directory's entries/); None: no entry cache


ENTRY_CACHE = _Folder()


def entry_cache_for(spec: Path, schema_ident: str) -> EntryCache | None:
    """The entry cache of this spec, if there is a folder for them."""
    if ENTRY_CACHE.path is None:
        return None
    name = hashlib.sha256(str(spec.resolve()).encode()).hexdigest()[:16]
    return EntryCache(ENTRY_CACHE.path / f"{name}-{schema_ident}-{FORMAT}.entries")
