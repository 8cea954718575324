"""The project's own state, beside the spec in ``.render/``: the journal of paid jobs and the lock that
lets one render at a time work in a project directory. It lives with the project, not in the cache, so
that deleting the cache (or pointing two runs at two caches) can neither forget a paid job nor let two
renders submit the same job. It is not for git: the directory ignores itself (``.render/.gitignore``).
``RENDER_STATE_DIR`` moves it, for a project in a folder render may not write to.
"""

from __future__ import annotations

import fcntl
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

STATE_DIR_NAME = ".render"


def state_dir_for(spec: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("RENDER_STATE_DIR"):
        return Path(env["RENDER_STATE_DIR"]).expanduser().resolve()
    return Path(os.path.abspath(spec)).parent / STATE_DIR_NAME


def prepare_state_dir(path: Path) -> Path:
    """Make the state directory (ignored by git) or say clearly why it cannot be made."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        ignore = path / ".gitignore"
        if not ignore.exists():
            ignore.write_text("# render's own state (journal of paid jobs, lock): not for git\n*\n")
    except OSError as exc:
        from renderer.errors import SetupError  # not at the top: the no-op path loads no dataclasses

        raise SetupError(
            f"cannot write render's project state at {path} ({exc.strerror or exc}); render keeps the journal "
            "of paid jobs there. Make the folder writable, or set RENDER_STATE_DIR to a folder that is"
        ) from None
    return path


def remove_unused_state_dir(path: Path) -> None:
    """Take away a state directory that holds nothing but its lock (a run that was refused made it)."""
    try:
        if {p.name for p in path.iterdir()} <= {".gitignore", "lock", "journal"} and not any(
            (path / "journal").glob("*.json")
        ):
            for name in (".gitignore", "lock"):
                (path / name).unlink(missing_ok=True)
            if (path / "journal").exists():
                (path / "journal").rmdir()
            path.rmdir()
    except OSError:
        pass


class ProjectLock:
    """One render at a time per project directory: a second one waits, and says why."""

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
                f"render: another render of {self.display} (or of a spec beside it) is running (pid {holder}); "
                "waiting for it to finish",
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
