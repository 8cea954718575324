"""The write-ahead journal of paid jobs: intent, submitted, unconfirmed; durable, readable by another run."""

from __future__ import annotations

import json
from pathlib import Path

from renderer.engine.journal import Journal, JournalEntry


def test_an_intent_is_written_before_the_job_id_and_both_survive_for_another_run(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    intent = journal.intend("a" * 64, "varg", "clip", "r" * 64)
    written = json.loads((tmp_path / "j" / ("a" * 64 + ".json")).read_text())
    assert written["key"] == "sha256:" + "a" * 64 and "job_id" not in written  # prefixed where written out
    again = Journal(tmp_path / "j").get("a" * 64)
    assert again is not None and again.waiting and again.attempt == intent.attempt and len(intent.attempt) == 16
    journal.submitted(intent, "j1", {"api": "v1"})
    entry = Journal(tmp_path / "j").get("a" * 64)
    assert entry is not None and entry.job_id == "j1" and not entry.waiting and entry.data == {"api": "v1"}


def test_an_unconfirmed_entry_says_why_and_damaged_files_are_passed_over(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    entry = journal.mark_unconfirmed(journal.intend("a" * 64, "vrex", "song", ""), "the server answered 504")
    assert entry.why() == "the server answered 504"
    assert "in flight" in journal.intend("c" * 64, "vrex", "other", "").why()
    (tmp_path / "j" / ("b" * 64 + ".json")).write_text("{not json")
    (tmp_path / "j" / ("d" * 64 + ".json")).write_text("[1, 2]")  # a list where an object belongs
    assert [e.asset for e in journal.pending()] == ["song", "other"]
    journal.remove("a" * 64)
    assert journal.get("a" * 64) is None and [e.asset for e in journal.pending()] == ["other"]


def test_entries_of_the_old_layout_are_read_and_adopted(tmp_path: Path) -> None:
    legacy = tmp_path / "cache" / "journal"
    legacy.mkdir(parents=True)
    old = {"key": "sha256:" + "e" * 64, "provider": "varg", "job_id": "job_7", "asset": "clip", "data": {}}
    (legacy / ("e" * 64 + ".json")).write_text(json.dumps(old))
    (legacy / ("f" * 64 + ".json")).write_text(json.dumps({**old, "key": "sha256:" + "f" * 64, "asset": "other"}))
    journal = Journal(tmp_path / "state")
    assert journal.adopt_legacy(legacy, {"clip"}) == 1
    assert journal.get("e" * 64) == JournalEntry("e" * 64, "varg", "clip", job_id="job_7", data={})
    assert not (legacy / ("e" * 64 + ".json")).exists() and (legacy / ("f" * 64 + ".json")).exists()


def test_keys_are_the_entries_written_and_not_a_write_half_done(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j")
    assert journal.entry_keys() == set()  # no directory yet: a plan writes nothing
    journal.intend("a" * 64, "varg", "clip", "")
    journal.intend("b" * 64, "varg", "still", "")
    (tmp_path / "j" / f".{'c' * 64}.json.x1.tmp").write_text("{")  # atomic_write_bytes' temporary name
    assert journal.entry_keys() == {"a" * 64, "b" * 64}
    assert {journal.get(key).asset for key in journal.entry_keys()} == {"clip", "still"}  # type: ignore[union-attr]
