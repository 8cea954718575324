"""The write-ahead journal of paid jobs: one small file per cache key, in the project's state directory
(``.render/journal`` beside the spec), where deleting the cache cannot reach it.

An entry goes through three states, each written and fsynced before render acts on it:

    intent       written before the create request is sent: a job may exist from here on
    submitted    the job id, written the moment the create answer comes
    unconfirmed  the request may have reached the provider but its answer did not come back (a crash, a
                 dropped connection, a 500/502/504, a timeout, a body that is not the job)

A later run resumes a submitted job instead of paying for it again. An intent or an unconfirmed entry
(a run that died with the request in flight) is not sent again unless the provider can find the job
itself (varg v2's idempotency key); otherwise the asset waits until the user says what happened:
``render resolve SPEC ASSET --job-id ID | --resubmit | --forget``. The entry goes once the output is
safely in the cache.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any, NamedTuple

from renderer.records import read_digest, written_digest
from renderer.store.atomic import atomic_write_bytes


class JournalEntry(NamedTuple):
    key: str  # bare hex
    provider: str  # the provider block's name
    asset: str
    request: str = ""  # sha256 of what was (about to be) sent, bare hex
    attempt: str = ""  # this attempt's token: idempotency keys derive from it, so a re-send finds the job
    job_id: str | None = None
    intended_at: float | None = None
    submitted_at: float | None = None
    unconfirmed: str | None = None  # why the answer is unknown
    data: dict[str, Any] = {}

    @property
    def waiting(self) -> bool:
        """Sent, or perhaps sent, with no job id to follow: nobody knows whether a job exists."""
        return self.job_id is None

    def why(self) -> str:
        return self.unconfirmed or "a run stopped while the request to create the job was in flight"

    def to_json(self) -> bytes:
        fields = {k: v for k, v in self._asdict().items() if v is not None}
        fields["key"] = written_digest(self.key)
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def from_json(cls, text: str | bytes) -> JournalEntry | None:
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict):
                return None
            known = {k: raw[k] for k in cls._fields if k in raw}
            known["key"] = read_digest(str(raw["key"]))
            known["data"] = raw.get("data") or {}
            entry = cls(**known)
        except (ValueError, KeyError, TypeError):
            return None
        if not (isinstance(entry.provider, str) and isinstance(entry.asset, str)):
            return None
        return entry


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory  # made with the first entry: plan and check write nothing

    def _path(self, key: str) -> Path:
        return self.directory / (key + ".json")

    def get(self, key: str) -> JournalEntry | None:
        try:
            return JournalEntry.from_json(self._path(key).read_bytes())
        except OSError:
            return None

    def entry_keys(self) -> set[str]:
        """The keys with an entry now: one look at the directory instead of one open per key."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return set()
        return {name[:-5] for name in names if name.endswith(".json") and not name.startswith(".")}

    def write(self, entry: JournalEntry) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(self._path(entry.key), entry.to_json())

    def intend(
        self,
        key: str,
        provider: str,
        asset: str,
        request: str,
        data: dict[str, Any] | None = None,
        attempt: str | None = None,
    ) -> JournalEntry:
        """``data``: what following the job needs before the provider has said anything (what kind of media
        it must deliver); the provider's own job data replaces it when the job id comes. ``attempt``: the
        token a claim on the remote chose, so another machine that takes the claim over can find the job."""
        entry = JournalEntry(
            key, provider, asset, request, attempt or uuid.uuid4().hex[:16], intended_at=time.time(), data=data or {}
        )
        self.write(entry)
        return entry

    def submitted(self, entry: JournalEntry, job_id: str, data: dict[str, Any]) -> JournalEntry:
        entry = entry._replace(job_id=job_id, submitted_at=time.time(), unconfirmed=None, data={**entry.data, **data})
        self.write(entry)
        return entry

    def mark_unconfirmed(self, entry: JournalEntry, reason: str) -> JournalEntry:
        entry = entry._replace(unconfirmed=reason)
        self.write(entry)
        return entry

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def pending(self) -> list[JournalEntry]:
        entries = []
        for key in sorted(self.entry_keys()):
            try:
                entry = JournalEntry.from_json(self._path(key).read_bytes())
            except OSError:
                continue
            if entry is not None:
                entries.append(entry)
        return entries

    def adopt_legacy(self, legacy: Path, assets: set[str]) -> int:
        """Move this project's entries from a journal in the old place (the cache directory) here."""
        moved = 0
        try:
            names = os.listdir(legacy)
        except OSError:
            return 0
        for name in names:
            source = legacy / name
            if not name.endswith(".json") or name.startswith("."):
                continue
            try:
                entry = JournalEntry.from_json(source.read_bytes())
            except OSError:
                continue
            if entry is not None and entry.asset in assets and self.get(entry.key) is None:
                self.write(entry)
                source.unlink(missing_ok=True)
                moved += 1
        return moved
