"""Input hashing: the content hash of every input of an asset, file inputs remembered by size and mtime.

A file whose size and mtime are what they were when it was last hashed (in this run, or in the last
complete run, from the no-op snapshot) is not read again; files over 1 MiB are hashed in a worker thread.

Before a job runs, ``snapshot`` copies its inputs into scratch space, hashing as it copies: the job reads
exactly the bytes its key was computed from, whatever happens to the project's files meanwhile, and a
file that changed since it was hashed fails the asset instead of caching an output under the wrong key.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import anyio

from renderer.errors import AssetError
from renderer.media.types import media_type_of
from renderer.providers.base import InputFile
from renderer.records import FileStamp
from renderer.spec.model import Asset, Project
from renderer.store.atomic import sha256_file
from renderer.store.blobs import Store, copy_hashing

BIG_FILE = 1 << 20


@dataclass(frozen=True)
class Inputs:
    hashes: dict[str, str]  # slot -> bare hex digest
    where: Callable[[], list[InputFile]] = list  # the files, worked out when asked: a plan seldom asks

    @property
    def files(self) -> list[InputFile]:
        return self.where()


class InputHasher:
    def __init__(self, project: Project, known: Mapping[str, FileStamp] | None = None) -> None:
        self.project = project
        self.known = known or {}
        self.stamps: dict[str, FileStamp] = {}  # what this run hashed, for the next no-op snapshot

    async def file_digest(self, relative: str) -> str:
        path = str(self.project.root / relative)
        st = os.stat(path)
        known = self.stamps.get(path) or self.known.get(path)
        if known and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
            digest = known.sha256
        elif st.st_size > BIG_FILE:
            digest = (await anyio.to_thread.run_sync(sha256_file, Path(path)))[0]
        else:
            digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        self.stamps[path] = FileStamp(st.st_size, st.st_mtime_ns, digest)
        return digest

    async def inputs_of(self, asset: Asset, made: Callable[[str], str | None]) -> Inputs | None:
        """The input files and their hashes; ``made`` gives the sha256 of an upstream asset's output, or
        None when it is not known (a plan, before it is made), and then so are the inputs."""
        hashes: dict[str, str] = {}
        for ref in asset.inputs:
            if ref.kind == "file":
                digest = await self.file_digest(ref.target)
            else:
                upstream = made(ref.target)
                if upstream is None:
                    return None
                digest = upstream
            hashes[ref.slot] = digest
        return Inputs(hashes, lambda: self.files_of(asset, hashes)) if hashes else Inputs(hashes)

    def files_of(self, asset: Asset, hashes: dict[str, str]) -> list[InputFile]:
        """The input files whose digests are ``hashes`` (as ``inputs_of`` found them)."""
        files = []
        for ref in asset.inputs:
            if ref.kind == "file":
                relative, path = ref.target, self.project.root / ref.target
            else:
                relative = self.project.assets[ref.target].output
                path = self.project.output_dir / relative
            # the type from the name as written: the same suffix, and no text made of the whole path
            files.append(InputFile(ref.slot, path, hashes[ref.slot], media_type_of(relative)))
        return files


class InputCopies:
    """The inputs of one job, copied into scratch space as they were hashed; removed when the job is done."""

    def __init__(self, scratch: Path, store: Store, project_root: Path) -> None:
        self.directory = scratch / f"inputs-{uuid.uuid4().hex}"
        self.store = store
        self.project_root = project_root

    async def take(self, files: list[InputFile], upstream: set[str]) -> list[InputFile]:
        """Copies of ``files``; those in ``upstream`` (slots fed by other assets) come from the blob store,
        whose bytes cannot change under us."""
        taken = []
        for index, item in enumerate(files):
            copy = self.directory / str(index) / item.path.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if item.slot in upstream:
                digest = await anyio.to_thread.run_sync(self.store.copy_to, item.sha256, copy)
            else:
                digest = await anyio.to_thread.run_sync(_copy_file, item.path, copy)
            if digest != item.sha256:
                shown = os.path.relpath(item.path, self.project_root) if item.slot not in upstream else item.slot
                raise AssetError(
                    f"input '{shown}' changed while render ran: its bytes are no longer those the cache key was "
                    "made from, so nothing was made from it; render again"
                )
            taken.append(replace(item, path=copy))
        return taken

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _copy_file(source: Path, dest: Path) -> str:
    mode = os.stat(source).st_mode
    if not stat.S_ISREG(mode):
        raise AssetError(f"input '{source}' is not a regular file")
    return copy_hashing(source, dest)
