"""The records render passes around and writes down, each declared once. Standard library only.

    RunMode        render | plan | check | locked: what a run may do
    AssetStatus    what became of one asset in a run
    MediaInfo      what probing an output found (duration, size, codecs)
    OutputRecord   one output in the cache, by cache key: its bytes and how it was made
    LockEntry      one asset in the lockfile (``LOCK_FIELDS`` is the file's field order)
    ManifestEntry  one output in manifest.json (``MANIFEST_FIELDS`` is the file's field order)
    StateAsset     one asset in the no-op snapshot
    Snapshot       the no-op snapshot of a spec's last run that decided every asset

They are NamedTuples, not dataclasses: the no-op path imports this module, and a NamedTuple is made about
ten times faster than a dataclass (15 ms of a 0.25 s budget otherwise).

Digests are bare lowercase hex everywhere inside render; ``written_digest`` adds the ``sha256:`` prefix
only where one is written out (the lockfile's ``key`` and ``inputs``, the manifest's ``key``, the cache
index and the journal), and ``read_digest`` takes it off again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

DIGEST_PREFIX = "sha256:"


def written_digest(hexdigest: str) -> str:
    return DIGEST_PREFIX + hexdigest


def read_digest(text: str) -> str:
    return text.removeprefix(DIGEST_PREFIX)


class RunMode(StrEnum):
    RENDER = "render"  # make what is missing
    PLAN = "plan"  # say what a render would make, with cost estimates (--dry-run)
    CHECK = "check"  # say whether anything would be made, asking no provider (CI)
    LOCKED = "locked"  # render from the cache only, verifying every output against the lockfile

    @property
    def plans(self) -> bool:
        """Walks the graph without making or writing anything."""
        return self in (RunMode.PLAN, RunMode.CHECK)

    @property
    def writes_lock(self) -> bool:
        return self is RunMode.RENDER

    @property
    def writes_outputs(self) -> bool:
        return self in (RunMode.RENDER, RunMode.LOCKED)


class AssetStatus(StrEnum):
    GENERATED = "generated"
    CACHED = "cached"
    FAILED = "failed"
    SKIPPED = "skipped"  # needs a failed asset, or not started after a failure
    INTERRUPTED = "interrupted"
    WAITING = "waiting"  # a paid submit may have made a job: nothing is sent until the user says (resolve)
    HELD = "held"  # an asset with takes and no pick yet, and what needs it: made once one is picked
    GENERATE = "generate"  # plan and check: would be made

    @property
    def ok(self) -> bool:
        return self in (AssetStatus.GENERATED, AssetStatus.CACHED)

    @property
    def blocks_dependents(self) -> bool:
        return self in (
            AssetStatus.FAILED,
            AssetStatus.SKIPPED,
            AssetStatus.INTERRUPTED,
            AssetStatus.WAITING,
            AssetStatus.HELD,
        )

    @property
    def stops_others(self) -> bool:
        """Without --keep-going, nothing new starts after this (a pick to make is no failure)."""
        return self.blocks_dependents and self is not AssetStatus.HELD


class MediaInfo(NamedTuple):
    media_type: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MediaInfo:
        return cls(**{k: data[k] for k in _MEDIA_FIELDS if data.get(k) is not None})


_MEDIA_FIELDS = MediaInfo._fields


class OutputRecord(NamedTuple):
    """An output in the cache. Stored in the cache index as a plain dict (``to_dict``), the format caches
    already on disk have."""

    sha256: str
    bytes: int
    media_type: str | None
    provider: str
    model: str | None = None
    resolved_model: str | None = None
    job_id: str | None = None
    cost_usd: float | None = None
    created: str | None = None
    probe: MediaInfo = MediaInfo()

    def to_dict(self) -> dict[str, Any]:
        data = self._asdict()
        data["probe"] = {k: v for k, v in self.probe._asdict().items() if v is not None}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutputRecord:
        known = {k: data.get(k) for k in _RECORD_FIELDS if k != "probe"}
        return cls(**known, probe=MediaInfo.from_dict(data.get("probe") or {}))  # type: ignore[arg-type]


_RECORD_FIELDS = OutputRecord._fields


class LockEntry(NamedTuple):
    """One asset in the lockfile. Field order is the file's; ``None`` fields and empty inputs are left out.
    ``key`` and the input digests are bare hex here and ``sha256:``-prefixed in the file."""

    key: str
    provider: str
    model: str | None = None
    resolved_model: str | None = None
    job_id: str | None = None
    output: str | None = None
    sha256: str | None = None
    bytes: int | None = None
    media_type: str | None = None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    cost_usd: float | None = None
    created: str | None = None
    pick: int | None = None  # of an asset with takes: the take it is ('render pick')
    inputs: dict[str, str] = {}  # shared by default, so never mutated: entries are made whole

    def written(self) -> dict[str, Any]:
        """The entry as the file holds it: fields in order, digests prefixed, nothing empty."""
        data: dict[str, Any] = {}
        for name in LOCK_FIELDS:
            value = getattr(self, name)
            if name == "key":
                value = written_digest(value)
            elif name == "inputs":
                value = {slot: written_digest(d) for slot, d in value.items()} or None
            if value is not None:
                data[name] = value
        return data

    @classmethod
    def from_written(cls, data: dict[str, Any]) -> LockEntry:
        """An entry as read from a file (perhaps edited by hand: unknown fields are dropped)."""
        known = {k: data[k] for k in LOCK_FIELDS if data.get(k) is not None}
        known["key"] = read_digest(str(known.get("key", "")))
        known["provider"] = str(known.get("provider", ""))
        inputs = known.get("inputs")
        known["inputs"] = {str(s): read_digest(str(d)) for s, d in inputs.items()} if isinstance(inputs, dict) else {}
        return cls(**known)


LOCK_FIELDS = LockEntry._fields


class ManifestEntry(NamedTuple):
    """One output in manifest.json; ``key`` is bare hex here and ``sha256:``-prefixed in the file."""

    path: str
    asset: str
    status: str  # "generated" or "cached"
    sha256: str
    bytes: int
    media_type: str | None
    duration: float | None = None
    width: int | None = None
    height: int | None = None
    fps: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    cost_usd: float | None = None
    key: str = ""
    pick: int | None = None  # of an asset with takes: the take it is

    def written(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in MANIFEST_FIELDS:
            value = getattr(self, name)
            if name == "key":
                value = written_digest(value)
            if value is not None:
                data[name] = value
        return data


MANIFEST_FIELDS = ManifestEntry._fields


class StateAsset(NamedTuple):
    """One finished asset as the last run left it. Kept as a plain tuple on disk (marshal)."""

    output: str  # inside the output directory
    size: int
    mtime_ns: int
    deps: tuple[str, ...]
    sha256: str
    manifest_line: str  # its manifest.json line with status "cached": a no-op run's manifest is made of these
    provider: str = ""
    cost_usd: float | None = None


class FileStamp(NamedTuple):
    """An input file's size and mtime when it was hashed, and the digest: unchanged stamp, same digest."""

    size: int
    mtime_ns: int
    sha256: str


class Snapshot(NamedTuple):
    """The no-op snapshot (see ``renderer.store.state``)."""

    spec_sha: str
    lock_sha: str
    out_dir: str
    project: str
    spec_name: str
    files: dict[str, FileStamp]
    assets: dict[str, StateAsset]  # in the order of their output paths, the manifest's order
    # for deciding only what an edit touched (incremental.py): the digest of the spec outside its assets
    # block, and each entry's digest, the names it made and the input files they read (as ``files`` has
    # them); "" and {} when the spec's layout is unusual
    head_sha: str = ""
    chunks: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    # (size, mtime_ns) of the module files of the third-party providers it used: one upgraded or edited (a
    # new recipe_version, say) may make other bytes, which render's own version does not say
    providers: dict[str, tuple[int, int]] = {}
    # the lockfile's (size, mtime_ns) when ``lock_sha`` was taken: the same stamp, the same lockfile (as for
    # outputs and input files), so a no-op need not read and hash a 55 MB lockfile; another stamp: its digest
    lock_stamp: tuple[int, int] = (-1, -1)


class Decided(NamedTuple):
    """What the short way (renderer.incremental) found for an edited spec: the part to decide fully, and
    what stays as the snapshot has it."""

    part: bytes  # the spec of the head and the chunks to decide
    elsewhere: frozenset[str]  # every other name, which the part may name as an input
    premade: dict[str, str]  # unchanged names the part's assets need: sha256 of their outputs
