"""Cache keys: sha256 over a canonical, versioned recipe of everything that can change a result.

Left out on purpose: the output file name (but not its format), the asset's name, concurrency, retry
settings, API keys and base URLs. So renaming an asset or moving it to another output costs nothing.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

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
    return {
        "recipe": RECIPE_VERSION,
        "type": asset.type,
        "provider": implementation,
        "provider_version": provider_version,
        "model": asset.model,
        "seed": asset.seed,
        "params": _normal(asset.params),
        "format": asset.output_format,
        "inputs": [[slot, digest] for slot, digest in input_hashes.items()],
    }


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def cache_key(recipe_value: dict[str, Any]) -> str:
    return "sha256:" + hashlib.sha256(canonical_json(recipe_value)).hexdigest()
