"""The journal of submitted paid jobs: one small file per cache key, written and fsynced the moment a
submit answers, removed once the output is safely in the cache. Files are named by the bare cache key. A later run that finds an entry resumes
that job instead of paying for it again, also after kill -9 or Ctrl-C."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from renderer.records import written_digest
from renderer.store.atomic import atomic_write_bytes


class Journal:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / (key + ".json")

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            entry: dict[str, Any] = json.loads(self._path(key).read_text(encoding="utf-8"))
            return entry
        except (OSError, ValueError):
            return None

    def record(self, key: str, entry: dict[str, Any]) -> None:
        atomic_write_bytes(self._path(key), json.dumps({"key": written_digest(key), **entry}, sort_keys=True).encode())

    def remove(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def pending(self) -> list[dict[str, Any]]:
        entries = []
        for name in sorted(os.listdir(self.directory)):
            if name.endswith(".json"):
                try:
                    entries.append(json.loads((self.directory / name).read_text(encoding="utf-8")))
                except (OSError, ValueError):
                    continue
        return entries
