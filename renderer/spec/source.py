"""Read a project file's bytes, refusing what is not one. Standard library only: the no-op path reads
the spec through this, before (and usually instead of) loading the YAML parser."""

from __future__ import annotations

from pathlib import Path

from renderer.errors import Problem, SpecError

MAX_BYTES = 50 * 1024 * 1024


def read_spec_bytes(path: Path, display: str) -> bytes:
    try:
        if path.is_dir():
            raise SpecError([Problem(display, 1, 1, "this is a directory; give the project's YAML file")])
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise SpecError(
                [Problem(display, 1, 1, f"the file is {size:,} bytes; a project file may be at most {MAX_BYTES:,}")]
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise SpecError([Problem(display, 1, 1, "no such file; check the path")]) from None
    except PermissionError:
        raise SpecError([Problem(display, 1, 1, "permission denied reading this file")]) from None
