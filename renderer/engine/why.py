"""Why an asset is made again: what changed since the lockfile's entry, in words.

The cache remembers the recipe of every output it made (``Cache.remember_recipe``), so a changed asset is
compared field by field with the recipe its locked output came from: "prompt changed", "input 'still'
changed", "the local provider's recipe changed (local-3 -> local-4)". Without that recipe (another
machine's cache) the lockfile's own fields still tell inputs, provider and model apart.
"""

from __future__ import annotations

from typing import Any

from renderer.records import LockEntry, read_digest

NAMES = {"type": "type", "model": "model", "seed": "seed", "format": "output format", "provider": "provider"}


def why_made(
    recipe: dict[str, Any],
    key: str,
    locked: LockEntry | None,
    old: dict[str, Any] | None,
    sources: dict[str, str] | None = None,
) -> str:
    """``sources`` names what feeds each input slot (slot "0" is the asset or file 'still')."""
    said = _why(recipe, key, locked, old)
    for slot, source in (sources or {}).items():
        if slot != source:
            said = said.replace(f"input '{slot}'", f"input '{source}'")
    return said


def _why(recipe: dict[str, Any], key: str, locked: LockEntry | None, old: dict[str, Any] | None) -> str:
    if locked is None:
        return "new asset (not in the lockfile)"
    if locked.key == key:
        return "its output is in neither the cache nor the output directory"
    if old is not None:
        return _difference(old, recipe) or "its recipe changed"
    inputs = dict((slot, read_digest(d)) for slot, d in recipe["inputs"])
    changed = sorted(slot for slot in {*inputs, *locked.inputs} if inputs.get(slot) != locked.inputs.get(slot))
    if changed:
        return ", ".join(f"input '{slot}' changed" for slot in changed)
    if locked.model != recipe["model"]:
        return f"model changed ({locked.model} -> {recipe['model']})"
    return "a field of the asset or the provider's recipe changed"


def _difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    said = []
    if old.get("provider_version") != new.get("provider_version"):
        said.append(f"the provider's recipe changed ({old.get('provider_version')} -> {new.get('provider_version')})")
    for field, name in NAMES.items():
        if old.get(field) != new.get(field):
            said.append(f"{name} changed")
    before, after = old.get("params") or {}, new.get("params") or {}
    said += [f"{field} changed" for field in sorted({*before, *after}) if before.get(field) != after.get(field)]
    old_inputs, new_inputs = dict(map(tuple, old.get("inputs") or [])), dict(map(tuple, new.get("inputs") or []))
    for slot in sorted({*old_inputs, *new_inputs}):
        if slot not in old_inputs:
            said.append(f"input '{slot}' added")
        elif slot not in new_inputs:
            said.append(f"input '{slot}' removed")
        elif old_inputs[slot] != new_inputs[slot]:
            said.append(f"input '{slot}' changed")
    return ", ".join(said)
