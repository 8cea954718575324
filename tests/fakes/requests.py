"""Builders of what the engine hands a provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from renderer.providers.base import InputFile, JobRequest


def request(kind: str = "image", *, key: str = "0" * 64, output_format: str = ".png", **params: Any) -> JobRequest:
    return JobRequest(
        asset="a",
        type=kind,
        model=params.pop("model", None),
        seed=params.pop("seed", None),
        params=params,
        inputs=params.pop("inputs", []),
        key=key,
        output_format=output_format,
    )


def input_file(
    slot: str, path: str | Path, media_type: str, url: str | None = None, sha256: str = "ab" * 32
) -> InputFile:
    return InputFile(slot, Path(path), sha256, media_type, url=url)
