"""Entries taken from the entry cache make the project that reading them makes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from renderer.errors import SpecError
from renderer.spec import entrycache
from renderer.spec.entrycache import ENTRY_CACHE, entry_cache_for
from renderer.spec.resolve import load_project
from renderer.spec.schema import schema_ident
from tests.helpers import render, write


@pytest.fixture
def cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(entrycache, "MIN_ENTRIES", 3)
    monkeypatch.setattr(ENTRY_CACHE, "path", tmp_path / "entries")
    yield tmp_path / "entries"


def spec_text(n: int, head: str = "defaults: {provider: local}", edit: str = "") -> str:
    lines = ["version: 1", head, "assets:"]
    for i in range(n):
        inputs = f", inputs: [a{i - 1}]" if i else ""
        lines.append(f'  a{i}: {{type: image, prompt: "asset {i}{edit if i == 1 else ""}", seed: {i}{inputs}}}')
    lines += ["  b:", "    type: video", "    prompt: moving", "    inputs: [a0]", "    duration: 2"]
    return "\n".join(lines) + "\n"


def test_entries_taken_from_the_cache_make_the_same_project(tmp_path: Path, cache_folder: Path) -> None:
    spec = write(tmp_path / "p.yaml", spec_text(5))
    first = load_project(spec)
    [saved] = cache_folder.iterdir()
    assert saved.stat().st_size > 0
    again = load_project(spec)
    assert again.assets == first.assets and again.line_of == first.line_of
    known = entry_cache_for(spec, schema_ident())
    assert known is not None and len(known.known) == 6

    # a new head (every asset decided again) and one entry edited: the others are taken as they were
    spec.write_text(spec_text(5, head="defaults: {provider: local, seed: 9}", edit=" edited"))
    cold = entrycache.ENTRY_CACHE.path
    entrycache.ENTRY_CACHE.path = None
    fresh = load_project(spec)
    entrycache.ENTRY_CACHE.path = cold
    warm = load_project(spec)
    assert warm.assets == fresh.assets and warm.assets["a1"].params["prompt"] == "asset 1 edited"
    after = entry_cache_for(spec, schema_ident())
    assert after is not None and len(after.known) == 6  # the old a1 is no longer kept


def test_a_cached_entry_is_never_taken_for_other_text_and_problems_still_show(
    tmp_path: Path, cache_folder: Path
) -> None:
    spec = write(tmp_path / "p.yaml", spec_text(4))
    load_project(spec)
    spec.write_text(spec_text(4).replace("seed: 2,", "seed: two,"))
    with pytest.raises(SpecError, match=r"p.yaml:6:\d+: asset .a2.: .seed. must be a whole number"):
        load_project(spec)


def test_a_damaged_entry_cache_is_not_used(tmp_path: Path, cache_folder: Path) -> None:
    spec = write(tmp_path / "p.yaml", spec_text(4))
    expected = load_project(spec)
    [saved] = cache_folder.iterdir()
    data = bytearray(saved.read_bytes())
    data[-5] ^= 0xFF
    saved.write_bytes(bytes(data))
    known = entry_cache_for(spec, schema_ident())
    assert known is not None and known.known == {}
    assert load_project(spec).assets == expected.assets


def big_spec_and_cache(tmp_path: Path) -> tuple[int, Path, Path]:
    """A spec just big enough for the entry cache (n entries and one more), and an empty cache folder."""
    n = entrycache.MIN_ENTRIES
    spec = write(tmp_path / "p.yaml", spec_text(n))
    cache = tmp_path / "cache"
    cache.mkdir()
    return n, spec, cache


def test_a_head_edit_in_a_big_spec_plans_as_without_the_cache(tmp_path: Path) -> None:
    """Through the command: the full path takes the entries a run before read, and plans the same."""
    n, spec, cache = big_spec_and_cache(tmp_path)
    first = render("plan", spec, cwd=tmp_path, cache=cache)
    assert first.returncode == 0, first.stderr
    [saved] = (cache / "entries").iterdir()
    before = saved.read_bytes()
    # a new head, and one entry edited: read afresh and remembered, the others taken
    spec.write_text(spec_text(n, head="defaults: {provider: local, seed: 9}", edit=" edited"))
    cold = render("plan", spec, "--json", cwd=tmp_path, cache=cache, env={"RENDER_INCREMENTAL": "0"})
    assert saved.read_bytes() == before  # the full path without incremental state leaves it alone
    warm = render("plan", spec, "--json", cwd=tmp_path, cache=cache)
    assert warm.returncode == cold.returncode == 0
    assert saved.read_bytes() != before and len(saved.read_bytes()) > len(before) // 2
    assert _without_times(warm.stdout) == _without_times(cold.stdout)


def _without_times(report: str) -> object:
    import json

    data = json.loads(report)
    data.pop("elapsed", None)
    assert len(data["assets"]) == entrycache.MIN_ENTRIES + 1
    return data


def test_validate_takes_the_entries_read_before_and_still_finds_a_new_problem(tmp_path: Path) -> None:
    n, spec, cache = big_spec_and_cache(tmp_path)
    first = render("validate", spec, cwd=tmp_path, cache=cache)
    assert first.returncode == 0 and f"valid, {n + 1} assets" in first.stdout, first.stderr
    [saved] = (cache / "entries").iterdir()  # remembered by validate too
    text = spec.read_text()
    line = next(number for number, text_line in enumerate(text.splitlines(), 1) if text_line.startswith("  a7:"))
    spec.write_text(text.replace("a7: {type: image,", "a7: {type: imag,"))  # one entry edited: read afresh
    bad = render("validate", spec, cwd=tmp_path, cache=cache)
    assert bad.returncode == 2 and f"p.yaml:{line}:" in bad.stderr and "'imag'" in bad.stderr, bad.stderr
