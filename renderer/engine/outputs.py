"""Finding outputs that already exist, and copying them out.

An output is found in the cache by its key, or else adopted where the lockfile vouches for that key: from
the blob store when it holds the locked sha256 (the cache index was lost), or from the output directory
when the file there still has it (the cache was cleared, say). Outputs
are copied out of the cache, never linked, so an edited output cannot corrupt the cache; a file that
already holds the right bytes is left alone.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import anyio

from renderer.errors import CacheError, SetupError
from renderer.media.probe import probe
from renderer.records import LockEntry, MediaInfo, OutputRecord, StateAsset
from renderer.spec.model import Asset, Project
from renderer.store.atomic import sha256_file
from renderer.store.cache import Cache
from renderer.store.remote import Remote, copy_between

OWNER_FILE = ".render-project"


class Outputs:
    def __init__(
        self,
        project: Project,
        cache: Cache,
        locked: Mapping[str, LockEntry],
        prior: Mapping[str, StateAsset] | None = None,
        *,
        remote: Remote | None = None,
    ) -> None:
        self.remote = remote
        self.project = project
        self.cache = cache
        self.locked = locked  # the lockfile as it was read
        self.prior = prior or {}  # the last run's finished outputs (no-op snapshot)
        self.stats: dict[str, tuple[int, int]] = {}  # (size, mtime_ns) of every output this run vouched for

    def path_of(self, asset: Asset) -> Path:
        return self.project.output_dir / asset.output

    def check_confined(self, names: Iterable[str]) -> None:
        """Raise SetupError if an output would be written outside the output directory through a symbolic
        link. Only folders can lead elsewhere: a file directly in the output directory is replaced by a
        rename, which replaces a link rather than writing through it."""
        root = self.project.output_dir.resolve()
        outputs = [(name, self.project.assets[name].output) for name in names]
        escaping = [n for n, out in outputs if "/" in out and not (root / out).parent.resolve().is_relative_to(root)]
        if escaping:
            raise SetupError(
                f"output of {', '.join(repr(n) for n in escaping)} would be written outside {root} through a "
                "symbolic link in the output directory; remove the link, or set 'confine: false' in the spec"
            )

    def claim_directory(self) -> None:
        """Raise SetupError unless outputs can be written here and the folder is this project's: checked
        before anything is paid for. The folder remembers its project (``.render-project``, the spec's path
        from the folder), so that two projects pointed at one folder cannot overwrite each other's files."""
        root = self.project.output_dir
        spec = os.path.relpath(self.project.path, root)
        marker = root / OWNER_FILE
        try:
            root.mkdir(parents=True, exist_ok=True)
            owner = marker.read_text(encoding="utf-8").strip() if marker.exists() else None
            if owner and owner != spec and (root / owner).is_file():
                raise SetupError(
                    f"the output directory {root} belongs to {os.path.normpath(root / owner)}, and "
                    f"{self.project.path} would overwrite its files; give this project its own (--out or "
                    f"'output_dir'), or delete {marker} if that project is gone"
                )
            if owner != spec:
                marker.write_text(spec + "\n", encoding="utf-8")
            probe = root / f".render-probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SetupError(
                f"cannot write to the output directory {root} ({exc.strerror or exc}), so nothing was made; "
                "make it writable, or choose another with --out"
            ) from None

    async def find(self, asset: Asset, key: str, *, adopt: bool) -> OutputRecord | None:
        """The record of an output with this key that exists already: in the cache, or in the output
        directory as the lockfile names it (taken into the cache when ``adopt``)."""
        record = self.cache.get(key)
        if record is not None:
            return record
        if self.remote is not None:
            record = await self._from_remote(asset, key, adopt=adopt)
            if record is not None:
                return record
        entry = self.locked.get(asset.name)
        if entry is None or entry.key != key or not entry.sha256 or entry.bytes is None:
            return None
        if self.cache.store.has(entry.sha256, entry.bytes):
            found = await self._adopt_blob(entry, key, adopt=adopt)
            if found is not None:
                return found
        dest = self.path_of(asset)
        try:
            if dest.stat().st_size != entry.bytes:
                return None
        except OSError:
            return None
        digest, _ = await anyio.to_thread.run_sync(sha256_file, dest)
        if digest != entry.sha256:
            return None
        record = await anyio.to_thread.run_sync(record_from_lock, entry, dest)
        if adopt:
            copy = self.cache.scratch / f"adopt-{digest}"
            await anyio.to_thread.run_sync(shutil.copyfile, dest, copy)
            await anyio.to_thread.run_sync(self.cache.put, key, copy, record)
        return record

    async def _from_remote(self, asset: Asset, key: str, *, adopt: bool) -> OutputRecord | None:
        """The output of ``key`` from the shared cache: its record, then its blob, verified by sha256 and
        taken into the local cache (a plan only looks)."""
        assert self.remote is not None
        remote = self.remote
        try:
            raw = await anyio.to_thread.run_sync(remote.get_record, key)
            record = OutputRecord.from_dict(raw) if raw is not None else None
        except (OSError, ValueError, TypeError, KeyError):
            return None
        if record is None:
            return None
        if not adopt:
            return record if await anyio.to_thread.run_sync(remote.has_blob, record.sha256, record.bytes) else None
        copy = self.cache.scratch / f"remote-{record.sha256}{Path(asset.output).suffix}"
        try:
            written = await anyio.to_thread.run_sync(copy_between, remote, record.sha256, copy)
        except OSError:
            return None  # a record without its blob: made again, or --locked says what is missing
        if written != record.sha256:
            self.cache.notes.append(
                f"note: the remote {remote.url} holds a damaged blob for '{asset.name}' "
                f"(it hashes to {written[:12]}..., not {record.sha256[:12]}...); it was refused"
            )
            return None
        try:
            await anyio.to_thread.run_sync(self.cache.put, key, copy, record)
        finally:
            copy.unlink(missing_ok=True)
        return record

    async def _adopt_blob(self, entry: LockEntry, key: str, *, adopt: bool) -> OutputRecord | None:
        """The record of a blob the index lost, verified by its sha256 and taken back into the index."""
        assert entry.sha256 is not None
        copy = self.cache.scratch / f"adopt-{entry.sha256}{Path(entry.output or '').suffix}"
        try:
            digest = await anyio.to_thread.run_sync(self.cache.store.copy_to, entry.sha256, copy)
            if digest != entry.sha256:
                self.cache.store.remove(entry.sha256)  # damaged bytes: made again, never served
                return None
            record = await anyio.to_thread.run_sync(record_from_lock, entry, copy)
            if adopt:
                await anyio.to_thread.run_sync(self.cache.put, key, copy, record)
            return record
        finally:
            copy.unlink(missing_ok=True)

    async def copy_out(self, asset: Asset, key: str, record: OutputRecord) -> None:
        """Make the output file hold the record's bytes, copying from the cache only when it does not.
        Raises CacheError (after forgetting the entry) when the cached bytes do not match their hash."""
        dest = self.path_of(asset)
        prior = self.prior.get(asset.name)
        try:
            st = dest.stat()
            current: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            current = None
        if current and prior and (prior.size, prior.mtime_ns) == current and prior.sha256 == record.sha256:
            self.stats[asset.name] = current
            return
        if current and current[0] == record.bytes:
            digest, _ = await anyio.to_thread.run_sync(sha256_file, dest)
            if digest == record.sha256:
                self.stats[asset.name] = current
                return
        written = await anyio.to_thread.run_sync(self.cache.store.copy_to, record.sha256, dest)
        if written != record.sha256:
            dest.unlink(missing_ok=True)
            self.cache.forget(key)
            raise CacheError(
                "the cached output does not match its hash (the cache was damaged); "
                "it was removed, so the next run makes it again"
            )
        st = dest.stat()
        self.stats[asset.name] = (st.st_size, st.st_mtime_ns)


def record_from_lock(entry: LockEntry, dest: Path) -> OutputRecord:
    assert entry.sha256 is not None and entry.bytes is not None
    return OutputRecord(
        sha256=entry.sha256,
        bytes=entry.bytes,
        media_type=entry.media_type,
        provider=entry.provider,
        model=entry.model,
        resolved_model=entry.resolved_model,
        job_id=entry.job_id,
        cost_usd=entry.cost_usd,
        created=entry.created,
        probe=MediaInfo.from_dict(probe(dest)),
    )
