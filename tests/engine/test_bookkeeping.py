"""Bookkeeping: lockfile entries, the background writer, the manifest and the no-op snapshot."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import anyio
import pytest

from renderer.engine.bookkeeping import Books, lock_entry, manifest_entry
from renderer.records import AssetStatus, FileStamp, MediaInfo, OutputRecord
from renderer.spec.resolve import load_project
from renderer.store.lockfile import read_lock, write_lock
from renderer.store.state import load_state
from tests.helpers import write

RECORD = OutputRecord(
    "a" * 64,
    7,
    "video/mp4",
    "local",
    None,
    "local:video",
    "local-1",
    0.0,
    "2026-01-01T00:00:00Z",
    MediaInfo(media_type="video/mp4", duration=1.0, width=64, height=36, fps=12.0, video_codec="h264"),
)


def project_at(tmp_path: Path, assets: str = "  v: {type: video, prompt: x}\n"):  # type: ignore[no-untyped-def]
    return load_project(write(tmp_path / "p.yaml", "version: 1\nassets:\n" + assets), "p.yaml")


def test_entries_say_what_the_files_say(tmp_path: Path) -> None:
    asset = project_at(tmp_path).assets["v"]
    entry = lock_entry(asset, "b" * 64, {"0": "c" * 64}, RECORD)
    assert (entry.output, entry.duration, entry.width, entry.inputs) == ("v.mp4", 1.0, 64, {"0": "c" * 64})
    shown = manifest_entry(asset, AssetStatus.GENERATED, "b" * 64, RECORD)
    assert (shown.path, shown.status, shown.fps, shown.video_codec) == ("v.mp4", "generated", 12.0, "h264")


def test_paid_results_are_written_at_once_and_locked_runs_write_nothing(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    entry = lock_entry(project.assets["v"], "b" * 64, {}, RECORD)

    async def main(books: Books) -> None:
        async with anyio.create_task_group() as group:
            group.start_soon(books.writer)
            books.record("v", entry, urgent=True)
            with anyio.fail_after(30):
                while not (tmp_path / "p.lock").exists() and books.writes_lock:
                    await anyio.sleep(0.01)
            group.cancel_scope.cancel()

    anyio.run(main, Books(project, writes_lock=True))
    assert read_lock(tmp_path / "p.lock") == {"v": entry}
    (tmp_path / "p.lock").unlink()
    locked = Books(project, writes_lock=False)
    anyio.run(main, locked)
    locked.flush()
    assert not (tmp_path / "p.lock").exists()  # --locked verifies the lockfile, never edits it


def test_removed_assets_leave_the_lockfile_only_when_asked(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    books = Books(project, writes_lock=True)
    books.record("v", lock_entry(project.assets["v"], "b" * 64, {}, RECORD), urgent=False)
    books.record("gone", lock_entry(project.assets["v"], "d" * 64, {}, RECORD), urgent=False)
    assert books.stale_names() == ["gone"]
    books.forget_removed()
    books.flush()
    assert set(read_lock(tmp_path / "p.lock")) == {"v"}


def test_the_snapshot_keeps_every_output_as_cached_with_its_manifest_line(tmp_path: Path) -> None:
    project = project_at(tmp_path, "  v: {type: video, prompt: x}\n  w: {type: video, prompt: y, inputs: [v]}\n")
    books = Books(project, writes_lock=True)
    entries = {
        "w": manifest_entry(project.assets["w"], AssetStatus.GENERATED, "b" * 64, RECORD),
        "v": manifest_entry(project.assets["v"], AssetStatus.CACHED, "b" * 64, RECORD),
    }
    path, lines_written = books.write_manifest(entries)
    written = json.loads(path.read_bytes())
    assert [(o["path"], o["status"]) for o in written["outputs"]] == [("v.mp4", "cached"), ("w.mp4", "generated")]
    outputs = {name: (entry, lines_written[name], (7, 123)) for name, entry in entries.items()}
    state_file = tmp_path / "state" / "s.marshal"
    books.record("v", lock_entry(project.assets["v"], "b" * 64, {}, RECORD), urgent=False)
    books.close()  # the last lockfile write: the snapshot names the lockfile by its digest
    books.save_snapshot(state_file, "1.0", b"spec", {"/x": FileStamp(1, 2, "e" * 64)}, outputs)
    snapshot = load_state(state_file, "1.0")
    assert snapshot is not None and snapshot.files == {"/x": FileStamp(1, 2, "e" * 64)}
    assert snapshot.lock_sha == hashlib.sha256((tmp_path / "p.lock").read_bytes()).hexdigest()
    assert snapshot.assets["w"].deps == ("v",) and snapshot.assets["v"].mtime_ns == 123
    assert list(snapshot.assets) == ["v", "w"]  # in path order, the manifest's
    lines = [json.loads(entry.manifest_line) for entry in snapshot.assets.values()]
    assert [o["path"] for o in lines] == ["v.mp4", "w.mp4"] and {o["status"] for o in lines} == {"cached"}
    assert snapshot.assets["v"].manifest_line == lines_written["v"]  # a cached line is kept as written


def test_a_plan_lets_the_lockfile_text_go_and_keeps_its_entries(tmp_path: Path) -> None:
    project = project_at(tmp_path)
    write_lock(tmp_path / "p.lock", "p.yaml", {"v": lock_entry(project.assets["v"], "b" * 64, {}, RECORD)})
    with pytest.raises(RuntimeError):
        Books(project, writes_lock=True).read_only()  # a render must keep what it rewrites
    books = Books(project, writes_lock=False)
    assert books.lock_bytes == b""  # the text read is not held (a render reads it again to rewrite it)
    books.read_only()
    assert books.lock_bytes == b"" and set(books.locked) == {"v"} and books.stale_names() == []
