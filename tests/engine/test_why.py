"""Why an asset is made again, in words."""

from __future__ import annotations

from renderer.engine.why import why_made
from renderer.records import LockEntry


def recipe(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "type": "image",
        "provider": "local",
        "provider_version": "local-3",
        "model": None,
        "seed": 1,
        "params": {"prompt": "harbour", "width": 64},
        "format": ".png",
        "inputs": [["0", "sha256:" + "a" * 64]],
    }
    return {**base, **changes}


def test_a_new_asset_and_a_missing_output() -> None:
    assert why_made(recipe(), "k", None, None) == "new asset (not in the lockfile)"
    assert "neither the cache nor" in why_made(recipe(), "k", LockEntry("k", "local"), None)


def test_fields_inputs_and_the_recipe_version_are_named() -> None:
    old = recipe()
    new = recipe(params={"prompt": "harbour at dusk", "width": 64}, provider_version="local-4")
    new["inputs"] = [["0", "sha256:" + "b" * 64], ["audio", "sha256:" + "c" * 64]]
    said = why_made(new, "k2", LockEntry("k1", "local"), old, {"0": "still", "audio": "tune"})
    assert said == (
        "the provider's recipe changed (local-3 -> local-4), prompt changed, input 'still' changed, input 'tune' added"
    )


def test_without_the_old_recipe_the_lockfile_still_tells_inputs_apart() -> None:
    locked = LockEntry("k1", "local", inputs={"0": "a" * 64})
    assert why_made(recipe(inputs=[["0", "sha256:" + "f" * 64]]), "k2", locked, None, {"0": "still"}) == (
        "input 'still' changed"
    )
    assert why_made(recipe(), "k2", LockEntry("k1", "local", inputs={"0": "a" * 64}), None).startswith("a field")
