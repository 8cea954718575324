"""The cache key: the whole rule of what can change an output, in one place.

The key is the sha256 of a canonical, versioned recipe:

    in   the asset type; the provider implementation (``use``, not the block's name) and its
         ``recipe_version``; the model; the seed; every other field that can change the result (prompt,
         duration, size, provider_options, ...); the output *format* (its extension); and the content
         hash of every input, by slot
    out  the asset's name and the spec entry it came from; the output file's name and folder; the
         provider block's name; concurrency, retries, timeouts, poll intervals and pacing; API keys,
         key variables and base URLs

So renaming an asset, moving its output or tuning a provider costs nothing, and changing anything that
can change the bytes makes the output again. The recipe writes input digests as the lockfile writes
them (``written_digest``), so keys and lockfiles cannot drift apart. Keys are bare hex inside render.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from renderer.records import written_digest
from renderer.spec.model import Asset

RECIPE_VERSION = 1


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(v) for v in value]
    return value


def recipe(asset: Asset, implementation: str, provider_version: str, input_hashes: dict[str, str]) -> dict[str, Any]:
    """Everything that can change ``asset``'s output; ``input_hashes`` are bare hex digests by slot."""
    return {
        "recipe": RECIPE_VERSION,
        "type": asset.type,
        "provider": implementation,
        "provider_version": provider_version,
        "model": asset.model,
        "seed": asset.seed,
        "params": _normal(asset.params),
        "format": asset.output_format,
        "inputs": [[slot, written_digest(digest)] for slot, digest in input_hashes.items()],
    }


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def cache_key(recipe_value: dict[str, Any]) -> str:
    """The bare hex sha256 of the canonical recipe."""
    return hashlib.sha256(canonical_json(recipe_value)).hexdigest()


def asset_key(asset: Asset, implementation: str, provider_version: str, input_hashes: dict[str, str]) -> str:
    return cache_key(recipe(asset, implementation, provider_version, input_hashes))
