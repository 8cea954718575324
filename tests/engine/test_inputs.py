"""Input hashing: files by content, remembered by size and mtime; assets by their output's sha256."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import anyio

from renderer.engine.inputs import InputHasher
from renderer.records import FileStamp
from renderer.spec.resolve import load_project
from tests.helpers import write


def project_at(tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "refs").mkdir()
    (tmp_path / "refs" / "t.wav").write_bytes(b"theme")
    spec = write(
        tmp_path / "p.yaml",
        """
        version: 1
        assets:
          still: {type: image, prompt: x}
          clip: {type: video, prompt: y, inputs: {picture: still, sound: refs/t.wav}}
        """,
    )
    return load_project(spec, "p.yaml")


def test_inputs_are_hashed_by_content_and_upstream_output(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    hasher = InputHasher(project)
    inputs = anyio.run(hasher.inputs_of, project.assets["clip"], {"still": "a" * 64}.get)
    assert inputs is not None
    assert inputs.hashes == {"picture": "a" * 64, "sound": hashlib.sha256(b"theme").hexdigest()}
    assert [f.media_type for f in inputs.files] == ["image/png", "audio/wav"]
    assert inputs.files[0].path == project.output_dir / "still.png"


def test_an_upstream_output_not_yet_made_means_not_known(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    assert anyio.run(InputHasher(project).inputs_of, project.assets["clip"], {"still": None}.get) is None


def test_an_unchanged_stamp_is_trusted_and_a_changed_file_is_read_again(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    path = str(tmp_path / "refs" / "t.wav")
    st = os.stat(path)
    remembered = {path: FileStamp(st.st_size, st.st_mtime_ns, "remembered")}
    hasher = InputHasher(project, remembered)
    assert anyio.run(hasher.file_digest, "refs/t.wav") == "remembered"  # not read: the stamp vouches
    (tmp_path / "refs" / "t.wav").write_bytes(b"other")
    os.utime(path, ns=(1, 1))
    fresh = InputHasher(project, remembered)
    assert anyio.run(fresh.file_digest, "refs/t.wav") == hashlib.sha256(b"other").hexdigest()
    assert fresh.stamps[path] == FileStamp(5, 1, hashlib.sha256(b"other").hexdigest())
