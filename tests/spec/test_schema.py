from __future__ import annotations

from pathlib import Path
from typing import Any

import fastjsonschema
import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.schemas import load_schema
from renderer.spec import schema
from renderer.spec.schema import keys_for_type, validate_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["project", "lockfile", "manifest"])
def test_schemas_are_valid_and_schemas_links_to_the_packaged_ones(name: str) -> None:
    jsonschema.Draft7Validator.check_schema(load_schema(name))
    shown = ROOT / "schemas" / f"{name}.schema.json"
    # one copy: schemas/ (for editors) links to the file shipped in the wheel, so they cannot differ
    assert shown.is_symlink() and shown.resolve() == (ROOT / "renderer" / "schemas" / f"{name}.schema.json")


def test_the_committed_lockfile_follows_its_schema() -> None:
    from renderer.store.lockfile import read_lock

    document = yaml.safe_load((ROOT / "specs" / "demo.lock").read_text())
    jsonschema.Draft7Validator(load_schema("lockfile")).validate(document)
    assert read_lock(ROOT / "specs" / "demo.lock")  # and render reads it back


def test_example_specs_validate_and_name_the_schema_for_editors() -> None:
    specs = sorted((ROOT / "specs").glob("*.yaml"))
    assert specs
    for spec in specs:
        text = spec.read_text()
        assert text.startswith("# yaml-language-server: $schema=../schemas/project.schema.json")
        assert (spec.parent / "../schemas/project.schema.json").resolve().is_file()
        assert validate_data(yaml.safe_load(text), {}, spec.name) == []


def messages(document: dict) -> list[str]:
    return [p.message for p in validate_data(document, {}, "p.yaml")]


def test_unknown_key_suggests_the_close_one() -> None:
    found = messages({"version": 1, "assets": {"x": {"type": "image", "prompt": "p", "sede": 3}}})
    assert found == ["asset 'x': unknown key 'sede'; did you mean 'seed'?"]


def test_a_key_of_another_asset_type() -> None:
    found = messages({"version": 1, "assets": {"x": {"type": "image", "prompt": "p", "duration": 3}}})
    assert found == [
        "asset 'x': 'duration' is not used by image assets "
        "(image assets take: inputs, prompt, negative_prompt, caption, aspect_ratio, width, height)"
    ]


def test_wrong_types_ranges_and_required_keys_in_plain_words() -> None:
    found = messages(
        {
            "version": 1,
            "assets": {
                "a": {"type": "video", "duration": "long"},
                "b": {"type": "music"},
                "c": {"type": "image", "prompt": "p", "width": 4, "aspect_ratio": "wide"},
            },
        }
    )
    assert "asset 'a': 'duration' must be a number, not the text 'long'" in found
    assert "asset 'b': 'prompt' is required; describe what to make" in found
    assert "asset 'c': 'width' must be at least 16 (got 4)" in found
    assert "asset 'c': aspect_ratio must look like '16:9' (got the text 'wide')" in found


def test_bad_asset_names_and_top_level_problems() -> None:
    found = messages({"version": 2, "assets": {"bad name": {"type": "image", "prompt": "p"}}, "asets": {}})
    assert any("asset name 'bad name' may use only" in m for m in found)
    assert any("'version' must be one of: 1" in m for m in found)
    assert any("unknown key 'asets'; did you mean 'assets'?" in m for m in found)


def test_keys_for_type_come_from_the_schema() -> None:
    assert "clips" in keys_for_type("compose") and "clips" not in keys_for_type("image")
    assert set(keys_for_type("music")) >= {"prompt", "duration", "lyrics", "seed", "model", "provider"}


def test_an_executor_is_a_word_an_address_or_a_mapping() -> None:
    assets = {"x": {"type": "image", "prompt": "p"}}
    for good in ("local", "dask", "dask://10.0.0.5:8786", {"address": "dask", "workers": 2, "shared_cache": True}):
        assert messages({"version": 1, "executor": good, "assets": assets}) == []
    found = messages({"version": 1, "executor": "ssh://x", "assets": assets})
    assert found == [
        "executor: use local, dask (worker processes on this machine) or dask://HOST:PORT (got the text 'ssh://x')"
    ]
    found = messages({"version": 1, "executor": {"address": "dask", "workers": 0}, "assets": assets})
    assert found == ["executor: 'executor.workers' must be at least 1 (got 0)"]


_ASSET_KEYS = sorted(load_schema("project")["definitions"]["asset"]["properties"]) + ["bogus"]
_REFS = st.one_of(
    st.sampled_from(["a", "", "refs/x.png"]),
    st.fixed_dictionaries({}, optional={"asset": st.sampled_from(["a", ""]), "file": st.just("f.png")}),
    st.integers(0, 2),
)
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 20),
    st.floats(-1, 200, allow_nan=False),
    st.sampled_from(["", "x", "16:9", "image", "5s"]),
    st.lists(_REFS, max_size=3),
    st.dictionaries(st.sampled_from(["a", "b", "text", "from", "to"]), _REFS, max_size=2),
    _REFS,
)
_PROJECT = load_schema("project")
_TYPES = {  # asset type -> the keys it requires
    rule["if"]["properties"]["type"]["const"]: rule["then"].get("required", [])
    for rule in _PROJECT["definitions"]["asset"]["allOf"]
}


def _fitting(key: str) -> st.SearchStrategy[Any]:
    """Values of the kind the schema wants for ``key`` (often valid), or anything (often not)."""
    spec = _PROJECT["definitions"]["asset"]["properties"].get(key, {})
    kind = spec.get("type")
    if kind == "string":
        return st.one_of(st.sampled_from(["x", "a cliff at dawn"]), _VALUES)
    if kind in ("integer", "number"):
        return st.one_of(st.integers(1, 8), _VALUES)
    if "$ref" in spec or "oneOf" in spec:
        return st.one_of(_REFS, st.lists(_REFS, max_size=3), st.sampled_from([512, "16:9", "5s", 4]), _VALUES)
    return _VALUES


@st.composite
def _assets(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from([*_TYPES, "nope"]))
    allowed = list(keys_for_type(kind)) if kind != "nope" else _ASSET_KEYS
    asset: dict[str, Any] = {"type": kind}
    for key in _TYPES.get(kind, []):  # what the type requires, of a plausible kind
        asset[key] = draw(_fitting(key))
    for key in draw(st.lists(st.sampled_from([*allowed, *allowed, "bogus"]), max_size=4)):
        asset[key] = draw(_fitting(key))
    if draw(st.booleans()) and draw(st.booleans()):
        asset.pop(draw(st.sampled_from(sorted(asset))))
    return asset


@settings(max_examples=400, deadline=None)
@given(assets=st.dictionaries(st.sampled_from(["a", "b", "-bad"]), _assets(), min_size=0, max_size=3))
def test_the_split_compiled_schema_gives_the_whole_schemas_verdicts(assets: dict[str, Any]) -> None:
    """The fast path validates the head and then each asset by its type (schema.fast_schemas): it must accept
    exactly what the whole schema accepts, or a bad spec would pass unexplained."""
    document = {"version": 1, "assets": assets}
    expected = jsonschema.Draft7Validator(load_schema("project")).is_valid(document)
    try:
        schema._fast_validate(document)
        fast = True
    except fastjsonschema.JsonSchemaException:
        fast = False
    assert fast == expected, document


def test_the_split_rewrites_type_told_oneofs_only() -> None:
    told = {"oneOf": [{"type": "string"}, {"type": "object"}, {"type": "object", "required": ["x"]}]}
    assert schema.untangle(told) == {
        "if": {"type": "string"},
        "then": {"type": "string"},
        "else": {"oneOf": [{"type": "object"}, {"type": "object", "required": ["x"]}]},
    }
    overlapping = {"oneOf": [{"type": "number"}, {"type": "integer"}]}  # 3 is both: oneOf refuses it
    assert schema.untangle(overlapping) == overlapping
