"""Write files so that a reader, or a crash, sees the old version or the new one, never half of one."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path


def atomic_write_bytes(path: Path, data: bytes | Iterable[bytes], *, durable: bool = True) -> None:
    """Write ``data``, or its pieces one after another, in place of the file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o644)  # mkstemp makes 0600; lockfiles and manifests are for everyone
            if isinstance(data, bytes):
                handle.write(data)
            else:
                handle.writelines(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


class _DirectorySync:
    """Group commit for directory flushes: a flush makes every rename done before it started durable, so
    callers that arrive while one is running wait for the next one instead of each paying for their own."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.requested = 0
        self.completed = 0
        self.busy = False


_DIRECTORIES: dict[str, _DirectorySync] = {}
_DIRECTORIES_LOCK = threading.Lock()


def fsync_dir(directory: Path) -> None:
    """Make the renames already done in ``directory`` durable (shared with concurrent callers)."""
    with _DIRECTORIES_LOCK:
        state = _DIRECTORIES.setdefault(str(directory), _DirectorySync())
    with state.condition:
        state.requested += 1
        mine = state.requested
        while state.completed < mine:
            if not state.busy:
                state.busy = True
                covered = state.requested
                break
            state.condition.wait()
        else:
            return
    try:
        _fsync_path(directory)
    finally:
        with state.condition:
            state.completed = max(state.completed, covered)
            state.busy = False
            state.condition.notify_all()


def _fsync_path(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def sha256_file(path: Path, chunk: int = 1 << 20) -> tuple[str, int]:
    """(hex digest, size) of a file, read in constant memory."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
