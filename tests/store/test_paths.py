"""Where the cache is by default."""

from __future__ import annotations

from pathlib import Path

from renderer.store.paths import default_cache_dir


def test_default_location_honours_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"RENDER_CACHE_DIR": str(tmp_path / "r")}) == tmp_path / "r"
    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "x")}) == tmp_path / "x" / "render"
    assert default_cache_dir({"HOME": str(tmp_path)}).name == "render"
