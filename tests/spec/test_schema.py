from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml

from renderer.schemas import load_schema
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
    assert read_lock(ROOT / "specs" / "demo.lock")[0]  # and render reads it back


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
