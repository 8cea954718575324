"""Where render keeps its cache by default. Its own module, standard library only: the no-op path needs
this and nothing else of the cache."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir(environ: dict[str, str] | os._Environ[str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("RENDER_CACHE_DIR"):
        return Path(env["RENDER_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "render"
