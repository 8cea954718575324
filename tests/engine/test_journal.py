"""The journal of submitted paid jobs."""

from __future__ import annotations

import json
from pathlib import Path

from renderer.engine.journal import Journal


def test_entries_are_durable_files_named_by_the_bare_key(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    journal.record("a" * 64, {"provider": "varg", "job_id": "j1", "asset": "clip"})
    written = json.loads((tmp_path / "j" / ("a" * 64 + ".json")).read_text())
    assert written["key"] == "sha256:" + "a" * 64  # prefixed where written out
    assert Journal(tmp_path / "j").get("a" * 64)["job_id"] == "j1"  # another run sees it
    (tmp_path / "j" / ("b" * 64 + ".json")).write_text("{not json")
    assert [e["job_id"] for e in journal.pending()] == ["j1"]  # a damaged entry is passed over
    journal.remove("a" * 64)
    assert journal.get("a" * 64) is None and journal.pending() == []
