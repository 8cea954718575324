"""A shared remote cache: teammates and CI reuse every output, by content (issue 11, first part).

Layout, content addressed as Bazel's remote cache is (the blob store and the action cache apart):

    blobs/ab/cdef...          output bytes, named by their sha256; never overwritten
    records/<key>.json        the OutputRecord of a cache key, written only after its blob

This version speaks to a shared directory (``file:///path`` or a plain path: an NFS mount, say). Object
stores (``s3://``, ``gs://``, ``az://``) and the claim protocol come next; a URL of theirs is refused with
a clear message rather than half supported.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from renderer.store.atomic import atomic_write_bytes, fsync_dir
from renderer.store.blobs import copy_hashing


class RemoteError(Exception):
    """The remote cannot be used: unreachable, refused, or not a remote render knows."""


class Remote(Protocol):
    url: str
    push: bool

    def get_record(self, key: str) -> dict[str, Any] | None: ...

    def put_record(self, key: str, record: dict[str, Any]) -> None: ...

    def has_blob(self, digest: str, size: int) -> bool: ...

    def fetch_blob(self, digest: str, dest: Path) -> str:
        """Write the blob to ``dest`` and return the sha256 of what was written (the caller checks it)."""
        ...

    def put_blob(self, source: Path, digest: str) -> None:
        """Store ``source`` under ``digest`` unless a blob is there already; never a partial one."""
        ...


class DirectoryRemote:
    def __init__(self, root: Path, url: str, *, push: bool = True) -> None:
        self.root = root
        self.url = url
        self.push = push
        if not root.is_dir():
            raise RemoteError(f"the remote {url} is not a folder render can reach ({root} does not exist)")

    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest[2:]

    def _record(self, key: str) -> Path:
        return self.root / "records" / f"{key}.json"

    def get_record(self, key: str) -> dict[str, Any] | None:
        try:
            found = json.loads(self._record(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put_record(self, key: str, record: dict[str, Any]) -> None:
        atomic_write_bytes(self._record(key), json.dumps(record, sort_keys=True).encode())

    def has_blob(self, digest: str, size: int) -> bool:
        try:
            return self._blob(digest).stat().st_size == size
        except OSError:
            return False

    def fetch_blob(self, digest: str, dest: Path) -> str:
        return copy_hashing(self._blob(digest), dest)

    def put_blob(self, source: Path, digest: str) -> None:
        target = self._blob(digest)
        if target.exists():
            return  # content addressed: the same name is the same bytes
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            copy_hashing(source, tmp, durable=True)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)


def open_remote(url: str, *, push: bool = True) -> Remote:
    """The remote at ``url``: ``file:///path`` or a path (a shared folder)."""
    parts = urlsplit(url)
    if parts.scheme in ("s3", "gs", "az", "abfs", "http", "https"):
        raise RemoteError(
            f"the remote {url}: {parts.scheme}:// remotes are not supported by this version of render yet; "
            "use a shared folder (file:///path or a path) for now"
        )
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme == "":
        path = Path(url).expanduser()
    else:
        raise RemoteError(f"the remote {url}: '{parts.scheme}://' is not a remote render knows")
    return DirectoryRemote(path.resolve(), url, push=push)


def copy_between(remote: Remote, digest: str, dest: Path) -> str:
    """Fetch a blob, keeping nothing that does not hash to its name."""
    written = remote.fetch_blob(digest, dest)
    if written != digest:
        dest.unlink(missing_ok=True)
    return written


__all__ = ["DirectoryRemote", "Remote", "RemoteError", "copy_between", "open_remote"]
