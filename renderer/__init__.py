"""render: a declarative, spec-driven batch renderer for AI-generated media.

The public API is re-exported here lazily, so `import renderer` stays cheap on the no-op path.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_project": "renderer.spec.resolve",
    "Project": "renderer.spec.model",
    "Asset": "renderer.spec.model",
    "RenderOptions": "renderer.engine.run",
    "run_project": "renderer.engine.run",
    "Provider": "renderer.providers.base",
    "RenderError": "renderer.errors",
    "SpecError": "renderer.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'renderer' has no attribute {name!r}")
