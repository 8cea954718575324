"""Tests lead to the code: every module of the records, the store and the engine has its own test file at
the same place under tests/ (tests/engine/test_key.py for renderer/engine/key.py)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MIRRORED = ["renderer/records.py", "renderer/errors.py", "renderer/dag.py", "renderer/engine", "renderer/store"]


def test_every_core_module_has_its_test_file() -> None:
    modules = []
    for place in MIRRORED:
        path = ROOT / place
        modules += sorted(path.glob("*.py")) if path.is_dir() else [path]
    missing = []
    for module in modules:
        if module.name == "__init__.py":
            continue
        relative = module.relative_to(ROOT / "renderer")
        expected = ROOT / "tests" / relative.parent / f"test_{relative.name}"
        if not expected.is_file():
            missing.append(str(expected.relative_to(ROOT)))
    assert not missing, f"write these test files: {missing}"
    assert len(modules) > 15
