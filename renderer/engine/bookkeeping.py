"""Bookkeeping: the lockfile entries as assets finish, the background lockfile writer, the manifest, and
the no-op snapshot.

Paid results are written to the lockfile as soon as the previous write is done; free ones at most every
``LOCK_WRITE_INTERVAL`` seconds (longer for a lockfile that takes long to write), so 10,000 quick assets
do not rewrite it 10,000 times (they are safe in the cache meanwhile). ``--locked`` verifies the lockfile and never edits it.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from fnmatch import fnmatch
from itertools import pairwise
from pathlib import Path

import anyio

from renderer.incremental import snapshot_chunks
from renderer.records import (
    AssetStatus,
    FileStamp,
    LockEntry,
    ManifestEntry,
    OutputRecord,
    Snapshot,
    StateAsset,
)
from renderer.spec.model import Asset, Project
from renderer.store.atomic import sha256_file
from renderer.store.lockfile import LockText, lock_path, read_lock_part, read_lock_text, write_lock
from renderer.store.manifest import manifest_line, manifest_pieces, write_manifest
from renderer.store.state import file_digest, save_state, stat_pair

LOCK_WRITE_INTERVAL = 0.2
WRITE_SHARE = 10  # free results wait at least ten times as long as the last lockfile write took


def lock_entry(asset: Asset, key: str, hashes: dict[str, str], record: OutputRecord) -> LockEntry:
    """What the lockfile says of an asset made from ``key`` with these input hashes."""
    return LockEntry(
        key=key,
        provider=asset.provider,
        model=asset.model,
        resolved_model=record.resolved_model,
        job_id=record.job_id,
        output=asset.output,
        sha256=record.sha256,
        bytes=record.bytes,
        media_type=record.media_type,
        duration=record.probe.duration,
        width=record.probe.width,
        height=record.probe.height,
        cost_usd=record.cost_usd,
        created=record.created,
        inputs=dict(hashes),
    )


def manifest_entry(asset: Asset, status: AssetStatus, key: str, record: OutputRecord) -> ManifestEntry:
    info = record.probe
    return ManifestEntry(
        path=asset.output,
        asset=asset.name,
        status=str(status),
        sha256=record.sha256,
        bytes=record.bytes,
        media_type=record.media_type or info.media_type,
        duration=info.duration,
        width=info.width,
        height=info.height,
        fps=info.fps,
        video_codec=info.video_codec,
        audio_codec=info.audio_codec,
        sample_rate=info.sample_rate,
        channels=info.channels,
        cost_usd=record.cost_usd,
        key=key,
    )


class Books:
    def __init__(
        self,
        project: Project,
        *,
        writes_lock: bool,
        clock: Callable[[], float] = time.monotonic,
        elsewhere: frozenset[str] | None = None,
    ) -> None:
        """``elsewhere``: the project is a part of a spec (incremental.py) and these are the spec's other
        assets; only the part's lockfile entries are read, the others' are written back as they were."""
        self.project = project
        self.writes_lock = writes_lock
        self.clock = clock
        self.lock_file = lock_path(project.path)
        self.elsewhere = elsewhere or frozenset()
        part = read_lock_part(self.lock_file, set(project.assets)) if elsewhere is not None else None
        if part is None:
            part = read_lock_text(self.lock_file, with_texts=writes_lock)
        read, self._lock_text = part
        self.lock_bytes = b""  # what this run last wrote (not what it read: its LockText reads that)
        self._read = dict(read)
        self.locked: Mapping[str, LockEntry] = self._read  # as read, for lookups and --locked
        self.entries: dict[str, LockEntry] = dict(read)  # what the lockfile will say
        self._dirty = False
        self._urgent = False
        self._wake = anyio.Event()
        self._written_at = 0.0
        self._interval = LOCK_WRITE_INTERVAL
        self.lock_sha = ""  # once closed
        self.lock_stamp = (-1, -1)

    def record(self, name: str, entry: LockEntry, *, urgent: bool) -> None:
        if self.entries.get(name) != entry:
            self.entries[name] = entry
            self._dirty = True
        self._urgent = self._urgent or (urgent and self._dirty)
        self._wake.set()

    def pending_pick(self, name: str) -> int | None:
        """The take the lockfile will say ``name`` is (of an asset with takes)."""
        entry = self.entries.get(name)
        return entry.pick if entry is not None else None

    def stale_names(self) -> list[str]:
        """Assets in the lockfile that are no longer in the spec."""
        known = self.project.assets.keys()
        # set differences of the keys, not a union of 100,000 names first
        stale = (self.entries.keys() - known - self.elsewhere) | (
            self._lock_text.outside.keys() - known - self.elsewhere
        )
        return sorted(stale)

    def forget_removed(self) -> None:
        stale = self.stale_names()
        for name in stale:
            self.entries.pop(name, None)
            self._dirty = True
        self._lock_text.drop(set(stale))

    async def writer(self) -> None:
        """Runs for the whole render, writing the lockfile in a worker thread as assets finish."""
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            if not self._urgent:
                await anyio.sleep(max(0.0, self._written_at + self._interval - self.clock()))
            self._urgent = False
            if self._dirty and self.writes_lock:
                with anyio.CancelScope(shield=True):  # once the changes are taken, they are written
                    self._dirty = False
                    entries = dict(self.entries)
                    began = self.clock()
                    self.lock_bytes = await anyio.to_thread.run_sync(
                        write_lock, self.lock_file, self.project.path.name, entries, self._lock_text, self.lock_bytes
                    )
                    self._written_at = self.clock()
                    # a big lockfile (100,000 entries: 25 MB) is written less often, so that writing it
                    # never takes more than a small share of the run
                    self._interval = max(LOCK_WRITE_INTERVAL, WRITE_SHARE * (self._written_at - began))

    def flush(self) -> None:
        if self._dirty and self.writes_lock:
            self.lock_bytes = write_lock(
                self.lock_file, self.project.path.name, self.entries, self._lock_text, self.lock_bytes
            )
            self._dirty = False
            self._written_at = self.clock()

    def read_only(self) -> None:
        """A plan writes no lockfile: the text read is let go (55 MB at 100,000 assets); the entries and
        the names outside a part of a spec stay."""
        if self.writes_lock:
            raise RuntimeError("read_only: this run writes the lockfile")
        self.lock_bytes = b""
        self._lock_text = LockText(self.project.path.name, outside=self._lock_text.outside)

    def close(self) -> None:
        """The last write; then only the lockfile's digest is kept, not its text nor its entries (at
        100,000 assets the file read and the file written are 55 MB each, and the entries 110 MB, which
        the manifest and the snapshot can use)."""
        self.flush()
        if self.lock_bytes or not self.lock_file.exists():
            self.lock_sha = file_digest(self.lock_bytes)
        else:  # as it was read, not written this run
            self.lock_sha = sha256_file(self.lock_file)[0]
        self.lock_stamp = stat_pair(str(self.lock_file)) or (-1, -1)
        self.lock_bytes = b""
        self._lock_text = LockText(self.project.path.name)
        self.entries.clear()
        self._read.clear()  # emptied in place: the run's collaborators hold the same mapping

    def clean_stale_temporaries(self) -> None:
        """Remove what an interrupted run (kill -9) left half-written: partial output copies and unfinished
        lockfile or manifest writes. Safe: this process holds the project lock."""
        out = str(self.project.output_dir)
        for folder, _, names in os.walk(out):  # os.walk: a tenth of pathlib's "**" glob over 10,000 outputs
            for name in names:
                if name[:1] == "." and (
                    name.endswith(".render-tmp") or (folder == out and fnmatch(name, ".manifest.json.*.tmp"))
                ):
                    os.unlink(os.path.join(folder, name))
        if self.lock_file.parent.is_dir():
            for stale in self.lock_file.parent.glob(f".{self.lock_file.name}.*.tmp"):
                stale.unlink(missing_ok=True)

    def write_manifest(
        self, entries: Mapping[str, ManifestEntry], kept: Mapping[str, StateAsset] | None = None
    ) -> tuple[Path, dict[str, str]]:
        """Write the manifest of these outputs (by asset name), and of those ``kept`` as the last snapshot
        has them, in its order (a part of a spec); return its path and each of ``entries``' lines."""
        lines = {name: manifest_line(entry) for name, entry in entries.items()}
        # ``kept`` in the snapshot's order (by path): with a few more, sorting it again is one merge
        by_path = [(asset.output, asset.manifest_line) for asset in (kept or {}).values()]
        by_path += [(entry.path, lines[name]) for name, entry in entries.items()]
        by_path.sort()  # by path: outputs are unique, so the lines are never compared
        pieces = manifest_pieces(self.project.name, self.project.path.name, (line for _, line in by_path))
        return write_manifest(self.project.output_dir, pieces), lines

    def save_snapshot(
        self,
        state_file: Path,
        version: str,
        spec_bytes: bytes,
        files: Mapping[str, FileStamp],
        outputs: Mapping[str, tuple[ManifestEntry, str, tuple[int, int]]],
        *,
        complete: bool = True,
        before: Snapshot | None = None,
        premade: Iterable[str] = (),
        providers: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """Save the snapshot of a run that decided every asset: ``outputs`` has each finished asset's
        manifest entry, its line in this run's manifest, and the (size, mtime_ns) of its output file. A run
        that is not ``complete`` (an asset failed, waits, is held) saves one the no-op never takes (no spec
        digest) and whose entries with an unfinished asset always count as changed, so only they and what
        depends on them are decided again. A part of a spec takes the assets it did not decide
        (``self.elsewhere``, and ``premade``, those it took as made) from ``before``, the snapshot it was
        decided against. ``providers``: the stamps of the third-party providers' files the run used (a
        part of a spec adds the snapshot's). After ``close``: the snapshot names the lockfile it wrote."""
        if not self.lock_sha:
            raise RuntimeError("save_snapshot before close: the lockfile may still change")
        deps = self.project.deps()
        by_entry: dict[str, list[str]] = {}
        files_of: dict[str, set[str]] = {}
        root = self.project.root
        for name, asset in self.project.assets.items():
            entry_name = asset.entry or name
            by_entry.setdefault(entry_name, []).append(name)
            used = files_of.setdefault(entry_name, set())
            used.update(str(root / ref.target) for ref in asset.inputs if ref.kind == "file")
        mine: dict[str, StateAsset] = {}
        for name in outputs:
            entry, written, (size, mtime_ns) = outputs[name]
            # a no-op run takes everything from the cache: only lines that say "generated" change
            line = written if entry.status == AssetStatus.CACHED else manifest_line(_cached(entry))
            provider = self.project.assets[name].provider
            mine[name] = StateAsset(
                entry.path, size, mtime_ns, tuple(deps[name]), entry.sha256, line, provider, entry.cost_usd
            )
        assets = mine
        all_files = dict(files)
        kept_chunks = {}
        if before is not None:
            kept_chunks = {e: chunk for e, chunk in before.chunks.items() if chunk[1] and chunk[1][0] in self.elsewhere}
            taken = self.elsewhere.union(premade)
            # in the snapshot's order (its outputs'), this run's assets in their places and new ones last
            assets = {n: mine.get(n, entry) for n, entry in before.assets.items() if n in taken or n in mine}
            assets.update(mine)
            # the files some entry still reads: hashed by this run, or as the snapshot had them
            known = {**before.files, **files}
            read = {path for used in files_of.values() for path in used}
            read.update(path for chunk in kept_chunks.values() for path in chunk[2])
            all_files = {path: known[path] for path in read if path in known}
        unfinished = {entry for entry, names in by_entry.items() if not all(n in outputs or n in assets for n in names)}
        head_sha, chunks = snapshot_chunks(spec_bytes, by_entry, files_of, kept_chunks, unfinished)
        save_state(
            state_file,
            version,
            Snapshot(
                spec_sha=file_digest(spec_bytes) if complete else "",
                lock_sha=self.lock_sha,
                lock_stamp=self.lock_stamp,
                out_dir=str(self.project.output_dir),
                project=self.project.name,
                spec_name=self.project.path.name,
                files=all_files,
                assets=_by_output(assets),
                head_sha=head_sha,
                chunks=chunks,
                providers={**(before.providers if before is not None else {}), **(providers or {})},
            ),
        )


def _by_output(assets: dict[str, StateAsset]) -> dict[str, StateAsset]:
    """The assets in the order of their outputs, which is the order of a no-op's manifest (fastpath.py); a
    part of a spec that moved no output is in order already, and is not sorted again (100,000 of them)."""
    outputs = [asset.output for asset in assets.values()]
    if all(a < b for a, b in pairwise(outputs)):
        return assets
    return dict(sorted(assets.items(), key=lambda item: item[1].output))


def _cached(entry: ManifestEntry) -> ManifestEntry:
    return entry._replace(status=str(AssetStatus.CACHED))
