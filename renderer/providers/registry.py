"""Which provider names exist, and their classes. Third-party providers plug in through the
``renderer.providers`` entry-point group: ``name = "package.module:ProviderClass"``."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

ENTRY_POINT_GROUP = "renderer.providers"

BUILTIN = {
    "local": "renderer.providers.local:LocalProvider",
    "varg": "renderer.providers.varg:VargProvider",
    "vrex": "renderer.providers.vrex:VrexProvider",
}


@cache
def _entry_points() -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_names() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


@cache
def provider_class(name: str) -> Any:
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        return getattr(importlib.import_module(module), attr)
    if name in _entry_points():
        return _entry_points()[name].load()
    raise KeyError(name)
