"""The JSON Schemas shipped with render: the project file, the lockfile and the manifest."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent


@cache
def load_schema(name: str) -> dict[str, Any]:
    """``name`` is one of ``project``, ``lockfile``, ``manifest``."""
    return json.loads((HERE / f"{name}.schema.json").read_text(encoding="utf-8"))
