"""Which provider names exist, and their classes. Third-party providers plug in through the
``renderer.providers`` entry-point group: ``name = "package.module:ProviderClass"``.

The spec loader reaches providers only through this module: their classes (for ``check``), the output
formats they deliver by default, and the provider-block options a third-party provider declares.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

    from renderer.providers.base import Provider

ENTRY_POINT_GROUP = "renderer.providers"

BUILTIN = {
    "local": "renderer.providers.local:LocalProvider",
    "varg": "renderer.providers.varg:VargProvider",
    "vrex": "renderer.providers.vrex:VrexProvider",
}


@cache
def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def provider_names() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


@cache
def provider_class(name: str) -> type[Provider]:
    """The class of provider implementation ``name``; KeyError when there is none."""
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        cls: type[Provider] = getattr(importlib.import_module(module), attr)
        return cls
    if name in _entry_points():
        loaded: type[Provider] = _entry_points()[name].load()
        return loaded
    raise KeyError(name)


def plugin_files(names: Iterable[str]) -> list[str]:
    """The module files of the third-party implementations among ``names`` (those that load): a no-op
    snapshot keeps their stamps, so that a plugin upgraded or edited is noticed without importing it."""
    files = []
    for name in sorted(set(names) - BUILTIN.keys()):
        try:
            path = getattr(sys.modules[provider_class(name).__module__], "__file__", None)
        except (KeyError, ImportError):
            continue
        if path:
            files.append(os.path.abspath(path))
    return files


@cache  # asked once per asset while a spec loads; a Protocol isinstance check costs ~10 us
def default_formats(name: str) -> Mapping[str, str]:
    """The output format (extension) implementation ``name`` delivers per asset type, where it says."""
    from renderer.providers.base import DefaultFormats  # base loads anyio; `render validate` needs none

    try:
        cls = provider_class(name)
    except (KeyError, ImportError):
        return MappingProxyType({})
    return MappingProxyType(dict(cls.default_formats) if isinstance(cls, DefaultFormats) else {})


def declared_options(name: str) -> dict[str, Any] | None:
    """JSON Schema properties of the provider-block options a third-party implementation adds, or None.
    The built-in providers' options are in the project schema itself."""
    if name in BUILTIN:
        return None
    from renderer.providers.base import DeclaresOptions  # base loads anyio; `render validate` needs none

    try:
        cls = provider_class(name)
    except (KeyError, ImportError):
        return None
    return dict(cls.options_schema) if isinstance(cls, DeclaresOptions) else None
