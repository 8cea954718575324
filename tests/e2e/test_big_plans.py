"""Plans that look for more new keys than the cache's snapshot threshold (store/cache.py: once a plan has
missed that many, it reads the index's keys in one scan) and explain more changed assets than one batch of
old recipes: the answers are the ones asked one by one would give."""

from __future__ import annotations

import json
from pathlib import Path

from renderer.store import cache as cache_module
from tests.helpers import render, write

N = cache_module.MISSES_BEFORE_SNAPSHOT + 100  # the last misses are answered by the snapshot


def matrix_spec(path: Path, values: list[int], prompt: str = "p") -> Path:
    listed = ", ".join(map(str, values))
    return write(
        path,
        f"""
        version: 1
        defaults: {{provider: local}}
        assets:
          v: {{type: image, prompt: "{prompt} ${{matrix.n}}", width: 16, height: 16, matrix: {{n: [{listed}]}}}}
        """,
    )


def plan(spec: Path, cwd: Path, cache: Path) -> dict[str, dict[str, object]]:
    result = render("plan", spec, "--json", cwd=cwd, cache=cache, timeout=300)
    assert result.returncode == 0, result.stderr
    assets: dict[str, dict[str, object]] = json.loads(result.stdout)["assets"]
    return assets


def test_a_plan_with_many_new_variants_among_made_ones_finds_exactly_the_made_ones(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    made = list(range(0, 2 * N, 2))
    spec = matrix_spec(tmp_path / "m.yaml", made)
    first = render(spec, cwd=tmp_path, cache=cache, timeout=600)
    assert first.returncode == 0, first.stderr

    # every other variant new, so made and new ones alternate in the walk, before and after the snapshot
    matrix_spec(spec, list(range(2 * N)))
    assets = plan(spec, tmp_path, cache)
    cached = {name for name, asset in assets.items() if asset["status"] == "cached"}
    new = {name for name, asset in assets.items() if asset["status"] == "generate"}
    assert cached == {f"v-{n}" for n in made}
    assert new == {f"v-{n}" for n in range(1, 2 * N, 2)}
    assert {assets[name]["reason"] for name in new} == {"new asset (not in the lockfile)"}

    # every variant's prompt changed: each says so, from the recipes its locked output was made from
    matrix_spec(spec, made, prompt="q")
    assets = plan(spec, tmp_path, cache)
    assert len(assets) == N
    assert {(asset["status"], asset["reason"]) for asset in assets.values()} == {("generate", "prompt changed")}
