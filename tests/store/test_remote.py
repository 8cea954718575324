"""Remotes (a shared folder and S3): blobs by sha256 (never overwritten, never partial), records after blobs, claims."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from renderer.store.remote import DirectoryRemote, GuardedRemote, RemoteError, copy_between, open_remote


def test_blobs_and_records_round_trip_and_a_blob_is_never_overwritten(tmp_path: Path) -> None:
    remote = open_remote(f"file://{tmp_path}")
    assert isinstance(remote, DirectoryRemote)
    source = tmp_path / "out.bin"
    source.write_bytes(b"the bytes")
    digest = hashlib.sha256(b"the bytes").hexdigest()
    remote.put_blob(source, digest)
    source.write_bytes(b"other bytes")
    remote.put_blob(source, digest)  # same name: kept as it was
    assert remote.has_blob(digest, 9) and not remote.has_blob(digest, 10)
    assert copy_between(remote, digest, tmp_path / "back") == digest
    assert (tmp_path / "back").read_bytes() == b"the bytes"
    remote.put_record("k" * 64, {"sha256": digest, "bytes": 9})
    assert remote.get_record("k" * 64) == {"sha256": digest, "bytes": 9} and remote.get_record("x" * 64) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_damaged_blob_is_not_kept(tmp_path: Path) -> None:
    remote = open_remote(str(tmp_path))
    (tmp_path / "blobs" / "ab").mkdir(parents=True)
    (tmp_path / "blobs" / "ab" / ("c" * 62)).write_bytes(b"tampered")
    assert copy_between(remote, "ab" + "c" * 62, tmp_path / "got") != "ab" + "c" * 62
    assert not (tmp_path / "got").exists()


@pytest.mark.parametrize("url", ["ftp://host/x", "sftp://host/x"])
def test_remotes_render_does_not_know_are_refused_clearly(url: str) -> None:
    with pytest.raises(RemoteError) as info:
        open_remote(url)
    assert url in str(info.value)


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(RemoteError, match="does not exist"):
        open_remote(str(tmp_path / "nowhere"))


def test_only_this_machine_counts_as_loopback() -> None:
    from renderer.store.remote import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("[::1]") and is_loopback("localhost")
    assert not is_loopback("10.0.0.1") and not is_loopback("example.com")


@pytest.fixture(params=["folder", "s3"])
def any_remote(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    if request.param == "folder":
        return open_remote(str(tmp_path))
    s3 = request.getfixturevalue("s3_server")
    for name, value in s3["env"].items():
        monkeypatch.setenv(name, value)
    return open_remote(s3["url"])


def test_a_claim_is_made_once_and_changed_only_from_the_version_it_was_read_at(any_remote) -> None:  # type: ignore[no-untyped-def]
    key = "c" * 64
    assert any_remote.read_claim(key) is None
    first = any_remote.create_claim(key, b'{"owner": "a"}')
    assert first is not None
    assert any_remote.create_claim(key, b'{"owner": "b"}') is None  # create-if-absent: a's stays
    body, version = any_remote.read_claim(key)
    assert body == b'{"owner": "a"}' and version == first
    second = any_remote.replace_claim(key, b'{"owner": "a", "beat": 1}', first)
    assert second is not None and second != first
    assert any_remote.replace_claim(key, b'{"owner": "b"}', first) is None  # a stale version loses
    any_remote.delete_claim(key, first)  # not the current version: kept
    assert any_remote.read_claim(key) == (b'{"owner": "a", "beat": 1}', second)
    any_remote.delete_claim(key, second)
    assert any_remote.read_claim(key) is None
    assert any_remote.create_claim(key, b'{"owner": "b"}') is not None


def test_the_first_record_of_a_key_stays_when_only_new_is_asked(any_remote) -> None:  # type: ignore[no-untyped-def]
    key = "r" * 64
    assert any_remote.put_record(key, {"sha256": "1" * 64, "bytes": 1}, only_new=True)
    assert not any_remote.put_record(key, {"sha256": "2" * 64, "bytes": 2}, only_new=True)
    assert any_remote.get_record(key) == {"sha256": "1" * 64, "bytes": 1}
    assert any_remote.put_record(key, {"sha256": "2" * 64, "bytes": 2})  # an overwrite, when asked for
    assert any_remote.get_record(key) == {"sha256": "2" * 64, "bytes": 2}


def test_a_folder_remote_that_went_away_is_not_made_again(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    remote = DirectoryRemote(root, str(root))
    root.rmdir()  # an unmounted share: writing must fail, not re-create the mount point
    with pytest.raises(OSError):
        remote.create_claim("k" * 64, b"{}")
    with pytest.raises(OSError):
        remote.put_record("k" * 64, {})
    assert not root.exists()


def test_a_guarded_remote_is_passed_over_after_its_first_failure(tmp_path: Path) -> None:
    root = tmp_path / "share"
    root.mkdir()
    notes: list[str] = []
    remote = GuardedRemote(DirectoryRemote(root, str(root)), notes.append)
    assert remote.get_record("k" * 64) is None  # not there: no failure
    root.rmdir()
    with pytest.raises(OSError):
        remote.put_record("k" * 64, {})
    root.mkdir()
    with pytest.raises(OSError, match="stopped answering"):
        remote.put_record("k" * 64, {})  # back, but this run no longer asks it
    assert len(notes) == 1 and "went on without it" in notes[0]
