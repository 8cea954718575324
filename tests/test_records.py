"""The typed records and the file formats they are written as: one list of fields per format, and the
JSON Schemas in schemas/ agree with it."""

from __future__ import annotations

import json

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renderer.records import (
    LOCK_FIELDS,
    MANIFEST_FIELDS,
    AssetStatus,
    LockEntry,
    ManifestEntry,
    MediaInfo,
    OutputRecord,
    RunMode,
    read_digest,
    written_digest,
)
from renderer.schemas import load_schema
from renderer.store.manifest import render_manifest

HEX = "0123456789abcdef"


def _lock_entry_schema() -> dict:
    return load_schema("lockfile")["properties"]["assets"]["additionalProperties"]


def _manifest_entry_schema() -> dict:
    return load_schema("manifest")["properties"]["outputs"]["items"]


def test_the_lockfile_schema_lists_exactly_the_lock_fields_in_order() -> None:
    schema = _lock_entry_schema()
    assert tuple(schema["properties"]) == LOCK_FIELDS
    defaults_none = {name for name, default in LockEntry._field_defaults.items() if default is None}
    # a field the record may leave out is not required by the schema
    assert not (set(schema["required"]) & defaults_none - {"output", "sha256", "bytes", "media_type", "model"})


def test_the_manifest_schema_lists_exactly_the_manifest_fields_in_order() -> None:
    schema = _manifest_entry_schema()
    assert tuple(schema["properties"]) == MANIFEST_FIELDS
    required_in_record = set(ManifestEntry._fields) - set(ManifestEntry._field_defaults)
    assert set(schema["required"]) - {"key"} <= required_in_record
    assert set(schema["properties"]["status"]["enum"]) == {AssetStatus.GENERATED, AssetStatus.CACHED}


def test_media_fields_of_the_manifest_are_the_probe_fields() -> None:
    media = set(MediaInfo._fields) - {"media_type"}
    assert media <= set(MANIFEST_FIELDS)


digests = st.text(HEX, min_size=64, max_size=64)
texts = st.text(max_size=20)


@given(
    digests,
    st.dictionaries(st.text(min_size=1, max_size=5), digests, max_size=3),
    st.none() | texts,
    st.none() | st.floats(0, 100, allow_nan=False),
)
def test_a_lock_entry_round_trips_and_is_valid_as_written(key: str, inputs: dict, model, cost) -> None:  # type: ignore[no-untyped-def]
    entry = LockEntry(
        key=key,
        provider="local",
        model=model,
        output="a.png",
        sha256=key,
        bytes=3,
        media_type="image/png",
        cost_usd=cost,
        inputs=inputs,
    )
    written = entry.written()
    assert list(written) == [f for f in LOCK_FIELDS if f in written]
    assert written["key"] == "sha256:" + key and all(
        v.startswith("sha256:") for v in written.get("inputs", {}).values()
    )
    jsonschema.validate(written, _lock_entry_schema())
    assert LockEntry.from_written(json.loads(json.dumps(written))) == entry


def test_an_output_record_keeps_the_cache_index_format() -> None:
    record = OutputRecord(
        "a" * 64,
        10,
        "video/mp4",
        "varg",
        "kling-v3",
        "varg:kling-v3",
        "j1",
        0.5,
        "2026-01-01T00:00:00Z",
        MediaInfo(media_type="video/mp4", duration=5.0, width=64, height=36),
    )
    data = record.to_dict()
    assert data["probe"] == {"media_type": "video/mp4", "duration": 5.0, "width": 64, "height": 36}
    assert OutputRecord.from_dict(data) == record
    assert OutputRecord.from_dict({**data, "unknown": 1, "probe": {**data["probe"], "bitrate": 9}}) == record


def test_a_manifest_written_from_entries_is_valid() -> None:
    entries = [
        ManifestEntry("b.mp4", "b", "generated", "b" * 64, 9, "video/mp4", duration=1.0, fps=12.0, key="c" * 64),
        ManifestEntry("a.png", "a", "cached", "a" * 64, 3, "image/png", width=2, height=2, key="d" * 64),
    ]
    document = json.loads(render_manifest("p", "p.yaml", entries))
    jsonschema.validate(document, load_schema("manifest"))
    assert [o["path"] for o in document["outputs"]] == ["a.png", "b.mp4"]
    assert document["outputs"][0]["key"] == "sha256:" + "d" * 64


def test_digests_are_prefixed_only_where_written() -> None:
    assert written_digest("ab") == "sha256:ab" and read_digest("sha256:ab") == "ab" and read_digest("ab") == "ab"


@pytest.mark.parametrize(
    ("mode", "plans", "writes_lock", "writes_outputs"),
    [
        (RunMode.RENDER, False, True, True),
        (RunMode.LOCKED, False, False, True),
        (RunMode.PLAN, True, False, False),
        (RunMode.CHECK, True, False, False),
    ],
)
def test_what_each_mode_may_do(mode: RunMode, plans: bool, writes_lock: bool, writes_outputs: bool) -> None:
    assert (mode.plans, mode.writes_lock, mode.writes_outputs) == (plans, writes_lock, writes_outputs)


def test_which_statuses_stop_what_depends_on_them() -> None:
    assert {s for s in AssetStatus if s.ok} == {AssetStatus.GENERATED, AssetStatus.CACHED}
    blocking = {s for s in AssetStatus if s.blocks_dependents}
    assert blocking == {
        AssetStatus.FAILED,
        AssetStatus.SKIPPED,
        AssetStatus.INTERRUPTED,
        AssetStatus.WAITING,
        AssetStatus.HELD,
    }
    assert not AssetStatus.GENERATE.blocks_dependents  # a plan goes on past what would be made
    stopping = {s for s in AssetStatus if s.stops_others}
    assert stopping == blocking - {AssetStatus.HELD}  # a pick to make is no failure: the rest goes on
