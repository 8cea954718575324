"""Where output bytes live, by sha256. The engine sees only the ``Store`` protocol, so a shared
remote store (S3 through fsspec, say) can replace ``LocalStore`` without touching it."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol

from renderer.store.atomic import fsync_dir


class Store(Protocol):
    def has(self, digest: str, size: int) -> bool:
        """True when a blob with this digest and size is present (a cheap check, no hashing)."""
        ...

    def put(self, source: Path, digest: str) -> None:
        """Take ``source`` (already hashed to ``digest``) into the store; ``source`` is moved or copied."""
        ...

    def copy_to(self, digest: str, dest: Path) -> str:
        """Write the blob to ``dest`` atomically and return the sha256 of what was written."""
        ...

    def remove(self, digest: str) -> None: ...


class LocalStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, digest: str) -> Path:
        hexdigest = digest.removeprefix("sha256:")
        return self.root / hexdigest[:2] / hexdigest[2:]

    def has(self, digest: str, size: int) -> bool:
        hexdigest = digest.removeprefix("sha256:")
        try:  # a plain string, not a Path: a plan of 100,000 cached assets asks this 100,000 times
            return os.stat(f"{self.root}/{hexdigest[:2]}/{hexdigest[2:]}").st_size == size
        except OSError:
            return False

    def put(self, source: Path, digest: str) -> None:
        target = self.path(digest)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(source, target)
        except OSError:  # another filesystem: copy, then rename into place
            tmp = target.with_name(target.name + ".tmp")
            copy_hashing(source, tmp, durable=True)
            os.replace(tmp, target)
        os.chmod(target, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        fsync_dir(target.parent)

    def copy_to(self, digest: str, dest: Path) -> str:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.render-tmp")
        try:
            written = copy_hashing(self.path(digest), tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return written

    def remove(self, digest: str) -> None:
        self.path(digest).unlink(missing_ok=True)


def copy_hashing(source: Path, dest: Path, *, durable: bool = False) -> str:
    """Copy and hash in one pass. Only copies into the store are fsynced: an output directory's copy can
    always be made again from the store, so it need not pay for a disk flush."""
    digest = hashlib.sha256()
    with open(source, "rb") as reader, open(dest, "wb") as writer:
        while block := reader.read(1 << 20):
            digest.update(block)
            writer.write(block)
        if durable:
            writer.flush()
            os.fsync(writer.fileno())
    return digest.hexdigest()
