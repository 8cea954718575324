"""One render at a time per project: a second one waits, and says why."""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path
from typing import IO


class ProjectLock:
    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display
        self.handle: IO[str] | None = None

    def __enter__(self) -> ProjectLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handle = open(self.path, "a+")
        try:
            fcntl.flock(self.handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.handle.seek(0)
            holder = self.handle.read().strip() or "unknown"
            print(
                f"render: another render of {self.display} is running (pid {holder}); waiting for it to finish",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(self.handle, fcntl.LOCK_EX)
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(str(os.getpid()))
        self.handle.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.handle is not None:
            self.handle.close()
