"""Bad places and bad files around a project: a clear error naming the path and the fix, exit 2 (or 1 for
a disk that fails under a render), no traceback, nothing generated or lost."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import render, tree_snapshot, write

PROJECT = """
version: 1
assets:
  a: {type: image, prompt: harbour at dawn, width: 64}
"""


def clean(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    return result.stderr


def test_two_projects_cannot_share_one_output_directory(tmp_path: Path, cache: Path) -> None:
    shared = tmp_path / "shared-out"
    one = write(tmp_path / "one" / "p.yaml", PROJECT)
    two = write(tmp_path / "two" / "p.yaml", PROJECT.replace("harbour", "forest"))
    assert render(one, "--out", shared, cwd=tmp_path, cache=cache).returncode == 0
    before = tree_snapshot(shared)
    result = render(two, "--out", shared, cwd=tmp_path, cache=cache)
    assert result.returncode == 2
    error = clean(result)
    assert str(one) in error and str(two) in error and "--out" in error
    assert tree_snapshot(shared) == before  # nothing of the first project was touched
    assert render(one, "--out", shared, cwd=tmp_path, cache=cache).returncode == 0  # its owner goes on


def test_an_output_directory_that_cannot_be_written_stops_before_anything_is_made(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    (tmp_path / "taken").write_text("a file where the output folder should be")
    result = render(spec, "--out", tmp_path / "taken", cwd=tmp_path, cache=cache)
    assert result.returncode == 2 and "cannot write to the output directory" in clean(result)
    assert not (cache / "blobs").exists()  # nothing was generated


def test_a_cache_directory_that_is_a_file_is_named(tmp_path: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    (tmp_path / "cachefile").write_text("x")
    result = render(spec, cwd=tmp_path, cache=tmp_path / "cachefile")
    assert result.returncode == 2 and f"the cache directory {tmp_path / 'cachefile'} is a file" in clean(result)


def test_a_lockfile_in_the_way_is_named_without_a_traceback(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    (tmp_path / "p.lock").mkdir()  # stands in for a lockfile that cannot be read or replaced
    result = render(spec, cwd=tmp_path, cache=cache)
    assert result.returncode == 1 and str(tmp_path / "p.lock") in clean(result)


def test_a_lockfile_from_a_newer_render_says_upgrade(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    (tmp_path / "p.lock").write_text("lock-version: 7\nspec: p.yaml\nassets: {}\n")
    result = render(spec, cwd=tmp_path, cache=cache)
    assert result.returncode == 2 and "upgrade render" in clean(result) and "delete" not in result.stderr
    assert (tmp_path / "p.lock").read_text().startswith("lock-version: 7")  # left as it was


def test_junk_in_a_hand_edited_lockfile_is_refused_and_never_adopted(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    assert render(spec, cwd=tmp_path, cache=cache).returncode == 0
    lock = tmp_path / "p.lock"
    good = lock.read_text()
    lock.write_text(good.replace("    bytes: ", "    bytes: -", 1))
    for args in ([], ["--check"], ["--locked"]):
        result = render(spec, *args, "--json", cwd=tmp_path, cache=cache)
        assert result.returncode == 2 and "is not a whole number" in clean(result)
        assert json.loads(result.stdout)["status"] == "error"
    lock.write_text(good)
    assert render(spec, "--check", cwd=tmp_path, cache=cache).returncode == 0
