from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import SMALL_PROJECT, write


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project (image -> video -> compose with music) in its own directory."""
    return write(tmp_path / "proj" / "project.yaml", SMALL_PROJECT)
