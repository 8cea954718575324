"""Read a project file's bytes, refusing what is not one. Standard library only: the no-op path reads
the spec through this, before (and usually instead of) loading the YAML parser, and loads the error
classes (and with them dataclasses) only when there is something to refuse."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

MAX_BYTES = 50 * 1024 * 1024


def read_spec_bytes(path: Path, display: str) -> bytes:
    try:
        if path.is_dir():
            _refuse(display, "this is a directory; give the project's YAML file")
        size = path.stat().st_size
        if size > MAX_BYTES:
            _refuse(display, f"the file is {size:,} bytes; a project file may be at most {MAX_BYTES:,}")
        return path.read_bytes()
    except FileNotFoundError:
        _refuse(display, "no such file; check the path")
    except PermissionError:
        _refuse(display, "permission denied reading this file")


def _refuse(display: str, message: str) -> NoReturn:
    from renderer.errors import Problem, SpecError

    raise SpecError([Problem(display, 1, 1, message)]) from None
