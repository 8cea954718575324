"""The shared-folder remote: blobs by sha256 (never overwritten, never partial), records after blobs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from renderer.store.remote import DirectoryRemote, RemoteError, copy_between, open_remote


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
