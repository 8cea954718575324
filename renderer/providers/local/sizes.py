"""Output sizes from width / height / aspect_ratio."""

from __future__ import annotations

import hashlib
from typing import Any


def frame_size(params: dict[str, Any], long_edge: int) -> tuple[int, int]:
    """(width, height), both even, from the request; the long edge defaults to ``long_edge``."""
    width: float | None = params.get("width")
    height: float | None = params.get("height")
    ratio = params.get("aspect_ratio", "16:9")
    rw, rh = (int(x) for x in ratio.split(":"))
    rw, rh = max(rw, 1), max(rh, 1)
    if width and not height:
        height = width * rh / rw
    elif height and not width:
        width = height * rw / rh
    elif not width and not height:
        if rw >= rh:
            width, height = long_edge, long_edge * rh / rw
        else:
            width, height = long_edge * rw / rh, long_edge
    assert width is not None and height is not None
    return even(width), even(height)


def even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def seed_of(request_seed: int | None, *words: str) -> int:
    text = "\x00".join([str(request_seed or 0), *words])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
