"""A shared remote cache: teammates and CI reuse every output, by content (issue 11, first part).

Layout, content addressed as Bazel's remote cache is (the blob store and the action cache apart):

    blobs/ab/cdef...          output bytes, named by their sha256; never overwritten
    records/<key>.json        the OutputRecord of a cache key, written only after its blob
    claims/<key>.json         who is making the output of a key right now (engine/claims.py): made
                              create-if-absent, changed only by compare-and-swap on its version

Two kinds: a shared directory (``file:///path`` or a plain path: an NFS mount, say), and object stores
through obstore (``s3://``; ``gs://`` and ``az://`` as obstore configures them from the environment).
obstore because it is async-capable, streams in constant memory and has create-if-absent puts (S3's
conditional writes), which the claim protocol builds on; it is imported only when a remote is named.
S3 takes credentials, region and endpoint from the standard AWS variables; plain http only on loopback.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from renderer.store.atomic import atomic_write_bytes, fsync_dir
from renderer.store.blobs import copy_hashing


class RemoteError(Exception):
    """The remote cannot be used: unreachable, refused, or not a remote render knows."""


T = TypeVar("T")
Versioned = tuple[bytes, str]  # a claim's bytes and its version (an ETag; a digest in a folder)


class Remote(Protocol):
    url: str
    push: bool

    def get_record(self, key: str) -> dict[str, Any] | None: ...

    def put_record(self, key: str, record: dict[str, Any], *, only_new: bool = False) -> bool:
        """Write the record of ``key``; with ``only_new``, only if there is none (False when there was)."""
        ...

    def has_blob(self, digest: str, size: int) -> bool: ...

    def fetch_blob(self, digest: str, dest: Path) -> str:
        """Write the blob to ``dest`` and return the sha256 of what was written (the caller checks it)."""
        ...

    def put_blob(self, source: Path, digest: str) -> None:
        """Store ``source`` under ``digest`` unless a blob is there already; never a partial one."""
        ...

    def create_claim(self, key: str, body: bytes) -> str | None:
        """Write the claim only if there is none: its version, or None when another exists."""
        ...

    def read_claim(self, key: str) -> Versioned | None: ...

    def replace_claim(self, key: str, body: bytes, version: str) -> str | None:
        """Replace the claim only if it is still at ``version``: the new version, or None."""
        ...

    def delete_claim(self, key: str, version: str) -> None:
        """Remove the claim if it is still at ``version``."""
        ...


class DirectoryRemote:
    def __init__(self, root: Path, url: str, *, push: bool = True) -> None:
        self.root = root
        self.url = url
        self.push = push
        if not root.is_dir():
            raise RemoteError(f"the remote {url} is not a folder render can reach ({root} does not exist)")

    def _blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest[2:]

    def _record(self, key: str) -> Path:
        return self.root / "records" / f"{key}.json"

    def _claim(self, key: str) -> Path:
        return self.root / "claims" / f"{key}.json"

    def get_record(self, key: str) -> dict[str, Any] | None:
        try:
            found = json.loads(self._record(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return found if isinstance(found, dict) else None

    def put_record(self, key: str, record: dict[str, Any], *, only_new: bool = False) -> bool:
        body = json.dumps(record, sort_keys=True).encode()
        if only_new:
            return _link_new(self._here(self._record(key)), body)
        atomic_write_bytes(self._here(self._record(key)), body)
        return True

    def _here(self, path: Path) -> Path:
        """``path``, once its folder exists; never re-creating the remote itself (an unmounted share, say)."""
        if not self.root.is_dir():
            raise OSError(f"{self.root} is not there any more")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def has_blob(self, digest: str, size: int) -> bool:
        try:
            return self._blob(digest).stat().st_size == size
        except OSError:
            return False

    def fetch_blob(self, digest: str, dest: Path) -> str:
        return copy_hashing(self._blob(digest), dest)

    def put_blob(self, source: Path, digest: str) -> None:
        target = self._blob(digest)
        if target.exists():
            return  # content addressed: the same name is the same bytes
        self._here(target)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            copy_hashing(source, tmp, durable=True)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(target.parent)

    # Claims: made with a hard link (_link_new); a replace or delete compares and swaps under an advisory
    # lock on the claims folder.

    def create_claim(self, key: str, body: bytes) -> str | None:
        return _version(body) if _link_new(self._here(self._claim(key)), body) else None

    def read_claim(self, key: str) -> Versioned | None:
        try:
            body = self._claim(key).read_bytes()
        except FileNotFoundError:
            return None
        return body, _version(body)

    def replace_claim(self, key: str, body: bytes, version: str) -> str | None:
        with self._claims_locked():
            found = self.read_claim(key)
            if found is None or found[1] != version:
                return None
            atomic_write_bytes(self._claim(key), body)
        return _version(body)

    def delete_claim(self, key: str, version: str) -> None:
        with self._claims_locked():
            found = self.read_claim(key)
            if found is not None and found[1] == version:
                self._claim(key).unlink(missing_ok=True)

    @contextlib.contextmanager
    def _claims_locked(self) -> Iterator[None]:
        with open(self._here(self.root / "claims" / ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield


class ObjectRemote:
    """A bucket (and prefix) of an object store, through obstore."""

    def __init__(self, store: Any, url: str, *, push: bool = True) -> None:
        import obstore

        self.obstore = obstore
        self.store = store
        self.url = url
        self.push = push
        try:
            obstore.head(store, "records/.render-probe")
        except FileNotFoundError:
            pass  # reachable, and the credentials were taken
        except Exception as exc:
            raise RemoteError(
                f"the remote {url} cannot be reached or refused the credentials ({_short(exc)}); check "
                "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and AWS_ENDPOINT_URL"
            ) from None

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(self.store, *args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:  # obstore's own errors: OSError for the engine, which reports and goes on
            if type(exc).__name__ == "AlreadyExistsError":
                raise FileExistsError(str(exc)) from None
            if type(exc).__name__ == "PreconditionError":
                raise _Superseded from None
            raise OSError(f"the remote {self.url}: {_short(exc)}") from None

    def get_record(self, key: str) -> dict[str, Any] | None:
        try:
            data = bytes(self._call(self.obstore.get, f"records/{key}.json").bytes())
        except FileNotFoundError:
            return None
        try:
            found = json.loads(data)
        except ValueError:
            return None
        return found if isinstance(found, dict) else None

    def put_record(self, key: str, record: dict[str, Any], *, only_new: bool = False) -> bool:
        body = json.dumps(record, sort_keys=True).encode()
        try:
            self._call(
                self.obstore.put,
                f"records/{key}.json",
                body,
                mode="create" if only_new else "overwrite",
                use_multipart=False,
            )
        except (FileExistsError, _Superseded):
            return False
        return True

    def has_blob(self, digest: str, size: int) -> bool:
        try:
            return bool(self._call(self.obstore.head, _blob_path(digest))["size"] == size)
        except FileNotFoundError:
            return False

    def fetch_blob(self, digest: str, dest: Path) -> str:
        hasher = hashlib.sha256()
        result = self._call(self.obstore.get, _blob_path(digest))
        with open(dest, "wb") as handle:
            for chunk in result.stream(min_chunk_size=1 << 20):  # constant memory, whatever the size
                hasher.update(chunk)
                handle.write(chunk)
        return hasher.hexdigest()

    def put_blob(self, source: Path, digest: str) -> None:
        size = source.stat().st_size
        if self.has_blob(digest, size):
            return
        with open(source, "rb") as handle:
            if size <= SINGLE_PUT_BYTES:
                try:  # create-if-absent: a blob is never overwritten, and an upload is whole or absent
                    self._call(self.obstore.put, _blob_path(digest), handle, mode="create", use_multipart=False)
                except FileExistsError:
                    pass
            else:
                # Big blobs go up in parts, a few at a time, in constant memory. A multipart upload is
                # whole or absent too; it cannot be conditional, but two machines uploading one name
                # upload the same bytes (the name is their sha256).
                self._call(
                    self.obstore.put,
                    _blob_path(digest),
                    handle,
                    use_multipart=True,
                    chunk_size=PART_BYTES,
                    max_concurrency=4,
                )

    def create_claim(self, key: str, body: bytes) -> str | None:
        try:
            put = self._call(self.obstore.put, f"claims/{key}.json", body, mode="create", use_multipart=False)
        except (FileExistsError, _Superseded):
            return None
        return str(put.get("e_tag") or _version(body))

    def read_claim(self, key: str) -> Versioned | None:
        try:
            result = self._call(self.obstore.get, f"claims/{key}.json")
        except FileNotFoundError:
            return None
        body = bytes(result.bytes())
        return body, str(result.meta.get("e_tag") or _version(body))

    def replace_claim(self, key: str, body: bytes, version: str) -> str | None:
        try:
            put = self._call(self.obstore.put, f"claims/{key}.json", body, mode={"e_tag": version}, use_multipart=False)
        except (FileNotFoundError, _Superseded):
            return None
        return str(put.get("e_tag") or _version(body))

    def delete_claim(self, key: str, version: str) -> None:
        # S3 has no conditional delete everywhere; a claim taken over between the read and the delete
        # loses its record of a job, which the taker's own journal still holds.
        found = self.read_claim(key)
        if found is not None and found[1] == version:
            try:
                self._call(self.obstore.delete, f"claims/{key}.json")
            except FileNotFoundError:
                pass


class GuardedRemote:
    """A remote that, once it fails in the middle of a run, is passed over for the rest of it: one note,
    and no retries per asset against a server that has gone. "Not there" answers are not failures."""

    def __init__(self, inner: Remote, on_down: Callable[[str], None]) -> None:
        self.inner = inner
        self.url = inner.url
        self.push = inner.push
        self.on_down = on_down
        self.down = False

    def _guard(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.down:
            raise OSError(f"the remote {self.url} stopped answering earlier in this run")
        try:
            return function(*args, **kwargs)
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError as exc:
            self.down = True
            self.on_down(f"note: the remote {self.url} stopped answering ({exc}); this run went on without it")
            raise

    def get_record(self, key: str) -> dict[str, Any] | None:
        return self._guard(self.inner.get_record, key)

    def put_record(self, key: str, record: dict[str, Any], *, only_new: bool = False) -> bool:
        return self._guard(self.inner.put_record, key, record, only_new=only_new)

    def has_blob(self, digest: str, size: int) -> bool:
        return self._guard(self.inner.has_blob, digest, size)

    def fetch_blob(self, digest: str, dest: Path) -> str:
        return self._guard(self.inner.fetch_blob, digest, dest)

    def put_blob(self, source: Path, digest: str) -> None:
        self._guard(self.inner.put_blob, source, digest)

    def create_claim(self, key: str, body: bytes) -> str | None:
        return self._guard(self.inner.create_claim, key, body)

    def read_claim(self, key: str) -> Versioned | None:
        return self._guard(self.inner.read_claim, key)

    def replace_claim(self, key: str, body: bytes, version: str) -> str | None:
        return self._guard(self.inner.replace_claim, key, body, version)

    def delete_claim(self, key: str, version: str) -> None:
        self._guard(self.inner.delete_claim, key, version)


def _link_new(target: Path, body: bytes) -> bool:
    """Write ``target`` whole, only if it does not exist: a hard link is an atomic create-if-absent (NFS too)."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        atomic_write_bytes(tmp, body)
        os.link(tmp, target)
    except FileExistsError:
        return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


class _Superseded(Exception):
    """A conditional write found another version than the one it expected."""


def _version(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


SINGLE_PUT_BYTES = 16 * 1024**2  # up to this, one conditional PUT (held in memory once)
PART_BYTES = 8 * 1024**2


def _blob_path(digest: str) -> str:
    return f"blobs/{digest[:2]}/{digest[2:]}"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _object_store(url: str) -> Any:
    from datetime import timedelta

    try:
        from obstore.store import from_url
    except ImportError:
        raise RemoteError(f"the remote {url} needs obstore: pip install obstore") from None
    parts = urlsplit(url)
    options: dict[str, Any] = {
        "retry_config": {
            "max_retries": 4,
            "backoff": {"init_backoff": timedelta(milliseconds=200), "max_backoff": timedelta(seconds=5), "base": 2},
            "retry_timeout": timedelta(seconds=30),
        },
    }
    if parts.scheme == "s3":
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("AWS_ENDPOINT_URL_S3")
        options["conditional_put"] = "etag"
        if endpoint:
            host = urlsplit(endpoint).hostname or ""
            if endpoint.startswith("http://") and not is_loopback(host):
                raise RemoteError(
                    f"the remote {url}: AWS_ENDPOINT_URL {endpoint} is plain http to another machine; use https"
                )
            options["endpoint"] = endpoint
            options["client_options"] = {"allow_http": endpoint.startswith("http://")}
    try:
        return from_url(url, **options)
    except Exception as exc:
        raise RemoteError(f"the remote {url}: {_short(exc)}") from None


def is_loopback(host: str) -> bool:
    """This machine (127.0.0.1, ::1, localhost): where plain http is allowed, for remotes and providers."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def open_remote(url: str, *, push: bool = True) -> Remote:
    """The remote at ``url``: ``s3://bucket/prefix`` (``gs://``, ``az://``), ``file:///path`` or a path."""
    parts = urlsplit(url)
    if parts.scheme in ("s3", "gs", "az", "abfs"):
        return ObjectRemote(_object_store(url), url, push=push)
    if parts.scheme == "file":
        path = Path(unquote(parts.path))
    elif parts.scheme == "":
        path = Path(url).expanduser()
    else:
        raise RemoteError(f"the remote {url}: '{parts.scheme}://' is not a remote render knows")
    return DirectoryRemote(path.resolve(), url, push=push)


def copy_between(remote: Remote, digest: str, dest: Path) -> str:
    """Fetch a blob, keeping nothing that does not hash to its name."""
    written = remote.fetch_blob(digest, dest)
    if written != digest:
        dest.unlink(missing_ok=True)
    return written


__all__ = [
    "DirectoryRemote",
    "GuardedRemote",
    "ObjectRemote",
    "Remote",
    "RemoteError",
    "copy_between",
    "is_loopback",
    "open_remote",
]
