"""Input hashing: the content hash of every input of an asset, file inputs remembered by size and mtime.

A file whose size and mtime are what they were when it was last hashed (in this run, or in the last
complete run, from the no-op snapshot) is not read again; files over 1 MiB are hashed in a worker thread.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import anyio

from renderer.media.types import media_type_of
from renderer.providers.base import InputFile
from renderer.records import FileStamp
from renderer.spec.model import Asset, Project
from renderer.store.atomic import sha256_file

BIG_FILE = 1 << 20


@dataclass(frozen=True)
class Inputs:
    files: list[InputFile]
    hashes: dict[str, str]  # slot -> bare hex digest


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
        files: list[InputFile] = []
        hashes: dict[str, str] = {}
        for ref in asset.inputs:
            if ref.kind == "file":
                digest = await self.file_digest(ref.target)
                path = self.project.root / ref.target
            else:
                upstream = made(ref.target)
                if upstream is None:
                    return None
                digest = upstream
                path = self.project.output_dir / self.project.assets[ref.target].output
            hashes[ref.slot] = digest
            files.append(InputFile(ref.slot, path, digest, media_type_of(path)))
        return Inputs(files, hashes)
