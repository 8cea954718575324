"""Incremental decisions: after an edit, decide only for what changed and what depends on it.

The no-op snapshot (store/state.py) of the last run also keeps the spec's text outside its
``assets:`` block (the *head*) and each asset entry's own text (its *chunk*), by digest, with the names the
entry made (matrix variants, takes). When a plan or check finds the spec changed, this module tries the
short way before the full one:

    split    the new spec into head and chunks (a plain line split; anything unusual: full path)
    compare  the head, the lockfile and the output directory must be as the snapshot has them; the
             entries whose chunk changed, the new ones, and those that read an input file whose size or
             mtime changed are *changed*
    close    what depends on a changed or removed entry (the snapshot's graph) is *affected*; what they
             need and is unchanged is *premade*: taken as made, with the output the snapshot vouches for
    check    every other output still has the size and mtime the snapshot recorded
    decide   a spec of the head and only those chunks goes through the full machinery (load, validate,
             keys, find), with the premade outputs as inputs; everything else is "cached", as a no-op

Any doubt sends the run down the full path, which is always right on its own, and any problem the part
shows (a bad value, an unknown input) is left for the full path to report, with the whole file's lines.
A property test checks that this path decides exactly as the full one does (tests/test_incremental.py).
"""

from __future__ import annotations

import os
import re

from renderer.records import Decided, Snapshot
from renderer.spec.split import chunk_digests, split_of


def short_way(state: Snapshot, spec_bytes: bytes, lock_file: str, out_dir: str | None) -> Decided | None:
    """Whether, and how, a changed spec can be decided from the snapshot; None: take the full path."""
    from renderer.store.state import lock_as_saved, providers_as_saved, stat_pair

    if not state.head_sha or not lock_as_saved(state, lock_file) or not providers_as_saved(state):
        return None
    if out_dir is not None and os.path.abspath(out_dir) != state.out_dir:
        return None
    split = split_of(spec_bytes)
    if split is None or split.head_sha != state.head_sha:
        return None
    old = state.chunks
    moved = {path for path, stamp in state.files.items() if stat_pair(path) != (stamp.size, stamp.mtime_ns)}
    readers = {entry for entry, (_, _, used) in old.items() if moved.intersection(used)} if moved else set()
    if moved and (not readers or not all(entry in split.chunks for entry in readers)):
        return None  # a changed file the snapshot cannot place: the full path hashes them all
    digests = chunk_digests(spec_bytes)
    changed = {entry for entry in split.chunks if entry not in old or old[entry][0] != digests[entry]}
    changed |= readers  # an entry that reads a changed file is decided again; the part's run re-hashes it
    gone = {entry for entry in old if entry not in split.chunks}
    stale = {name for entry in changed | gone if entry in old for name in old[entry][1]}
    if not changed and not gone:
        return None  # only the head or comments moved: the full path (or the no-op) decides
    assets = state.assets
    users: dict[str, list[str]] = {}
    for name, entry in assets.items():
        for dep in entry.deps:
            users.setdefault(dep, []).append(name)
    affected: set[str] = set()
    todo = list(stale)
    while todo:
        for user in users.get(todo.pop(), ()):
            if user not in affected and user not in stale:
                affected.add(user)
                todo.append(user)
    owner = {name: entry for entry, (_, names, _) in old.items() for name in names}
    entries_affected = {owner[name] for name in affected if name in owner}
    if any(entry in gone for entry in entries_affected):
        return None
    # names the changed chunks may use: every known name written in them (over-inclusion costs little)
    known = set(assets)
    mentioned = {word for entry in changed for word in re.findall(r"[A-Za-z0-9][A-Za-z0-9_.-]*", split.chunks[entry])}
    upstream = {dep for name in affected for dep in assets[name].deps} | (mentioned & known)
    keep = known - stale
    part_entries = changed | entries_affected | {owner[n] for n in upstream & keep if n in owner}
    in_part = {name for entry in part_entries if entry in old for name in old[entry][1]}
    premade_names = in_part & keep - affected
    outside = keep - in_part
    if not outside:
        return None  # every asset decided again (a matrix entry edited): the full path does that faster
    out = state.out_dir + os.sep  # outputs are relative paths inside it (os.path.join: a third of the loop)
    for name in outside | premade_names:  # what is not decided again must be as the snapshot left it
        entry = assets[name]
        if stat_pair(out + entry.output) != (entry.size, entry.mtime_ns):
            return None
    return Decided(
        part=split.part(part_entries).encode(),
        elsewhere=frozenset(outside),
        premade={name: assets[name].sha256 for name in premade_names},
    )


def snapshot_chunks(
    spec_bytes: bytes,
    names_by_entry: dict[str, list[str]],
    files_by_entry: dict[str, set[str]],
    kept: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] | None = None,
    unfinished: set[str] | frozenset[str] = frozenset(),
) -> tuple[str, dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]]]:
    """What a snapshot keeps for the short way: the head's digest, and each entry's digest, names and files
    (``kept``: entries a part of a spec left as the last snapshot has them; ``unfinished``: entries with an
    asset that failed or waits, given no digest, so that they always count as changed)."""
    split = split_of(spec_bytes)
    digests = chunk_digests(spec_bytes)
    # the last to need them: a 100,000-asset spec's split and digests hold 30 MB, which saving can use
    split_of.cache_clear()
    chunk_digests.cache_clear()
    kept = kept or {}
    if split is None or len(split.chunks) != len(names_by_entry.keys() | kept.keys()):
        return "", {}
    chunks = {}
    for e in split.chunks:
        if e in kept:
            chunks[e] = kept[e]
        elif e in names_by_entry:
            digest = "" if e in unfinished else digests[e]
            chunks[e] = (digest, tuple(names_by_entry[e]), tuple(sorted(files_by_entry.get(e, ()))))
        else:
            return "", {}
    return split.head_sha, chunks
