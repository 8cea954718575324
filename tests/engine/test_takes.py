"""Takes: which take an asset is, and recording a pick in the lockfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.engine.key import cache_key, recipe
from renderer.engine.takes import chosen_take, record_pick
from renderer.errors import UsageError
from renderer.records import LockEntry
from renderer.spec.resolve import load_project
from renderer.store.lockfile import lock_path, read_lock, write_lock

SPEC = """version: 1
defaults: {provider: local}
assets:
  a: {type: image, prompt: a cliff, width: 32, height: 32, seed: 10, takes: 3}
  b: {type: image, prompt: a sea, width: 32, height: 32, takes: 2}
  c: {type: image, prompt: a cliff, width: 32, height: 32, seed: 10}
"""


def project(tmp_path: Path, text: str = SPEC):  # type: ignore[no-untyped-def]
    spec = tmp_path / "p.yaml"
    spec.write_text(text)
    return load_project(spec, "p.yaml")


def test_takes_are_assets_of_their_own_with_their_own_seed_and_output(tmp_path: Path) -> None:
    p = project(tmp_path)
    assert [n for n in p.assets if n.startswith("a")] == ["a.take1", "a.take2", "a.take3", "a"]
    assert [p.assets[f"a.take{k}"].seed for k in (1, 2, 3)] == [10, 11, 12]
    assert p.assets["a.take2"].output == "a.take2.png" and p.assets["a"].output == "a.png"
    assert [ref.target for ref in p.assets["a"].inputs] == ["a.take1", "a.take2", "a.take3"]
    assert p.assets["b.take1"].seed is None and p.assets["b.take2"].seed is not None  # derived, not from names
    # take 1 is the asset as it would be with no takes: going from 1 take to 3 keeps the output there is
    key = cache_key(recipe(p.assets["a.take1"], "local", "x", {}))
    assert key == cache_key(recipe(p.assets["c"], "local", "x", {}))
    assert key != cache_key(recipe(p.assets["a.take2"], "local", "x", {}))


def test_a_derived_seed_does_not_change_with_the_name(tmp_path: Path) -> None:
    renamed = project(tmp_path, SPEC.replace("  b:", "  bb:"))
    assert renamed.assets["bb.take2"].seed == project(tmp_path).assets["b.take2"].seed


def test_the_spec_pick_wins_over_the_lockfile_and_a_gone_take_is_no_pick(tmp_path: Path) -> None:
    a = project(tmp_path).assets["a"]
    locked = LockEntry(key="k" * 64, provider="local", pick=2)
    assert chosen_take(a, locked) == 2 and chosen_take(a, None) is None
    assert chosen_take(a, locked._replace(pick=7)) is None  # takes went down from 7 or more
    a.pick = 3
    assert chosen_take(a, locked) == 3


def test_a_pick_is_written_into_the_lockfile_from_the_take_it_names(tmp_path: Path) -> None:
    p = project(tmp_path)
    with pytest.raises(UsageError, match="not made yet"):
        record_pick(p, "a", 2)
    take = LockEntry(key="a" * 64, provider="local", output="a.take2.png", sha256="b" * 64, bytes=5)
    write_lock(lock_path(p.path), "p.yaml", {"a.take2": take})
    entry = record_pick(p, "a", 2)
    assert entry.pick == 2 and entry.output == "a.png" and entry.sha256 == "b" * 64
    entries = read_lock(lock_path(p.path))
    assert entries["a"] == entry and entries["a.take2"] == take
    with pytest.raises(UsageError, match="takes 1 to 3"):
        record_pick(p, "a", 4)
