"""Incremental decisions: after random edits of a random project, the short way decides exactly as the full
path does (RENDER_INCREMENTAL=0), every time; and the spec splitter refuses layouts it does not know."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from renderer.incremental import split_spec
from tests.helpers import render


def project_text(assets: dict[str, dict[str, Any]], *, comment: str = "") -> str:
    lines = ["version: 1", "name: inc", "defaults: {provider: local}", "assets:"]
    for name, body in assets.items():
        inputs = f", inputs: [{', '.join(body['inputs'])}]" if body["inputs"] else ""
        lines.append(f'  {name}: {{type: image, prompt: "{body["prompt"]}", width: 16, height: 16{inputs}}}')
        if comment and name.endswith("3"):
            lines.append(f"    # {comment}")
    return "\n".join(lines) + "\n"


SHORT: list[int] = []  # how many assets each plan that took the short way decided


def decisions(spec: Path, cache: Path, *, full: bool) -> tuple[int, dict[str, Any]]:
    env = {"RENDER_INCREMENTAL": "0"} if full else {}
    result = render("plan", spec, "--json", cwd=spec.parent, cache=cache, env=env)
    if result.returncode == 2:
        return 2, {"error": result.stderr.splitlines()[0] if result.stderr else ""}
    made = json.loads(result.stdout)
    if not full and "decided_again" in made:
        SHORT.append(made["decided_again"])
    assets = {n: (a["status"], a.get("key"), a["sha256"], a["path"]) for n, a in made["assets"].items()}
    return result.returncode, {
        "assets": assets,
        "totals": made.get("totals"),
        "lock_current": made.get("lock_current"),
        "lock_problems": sorted(made.get("lock_problems", [])),
    }


def edit(rng: random.Random, assets: dict[str, dict[str, Any]], counter: list[int]) -> str:
    names = list(assets)
    kind = rng.choice(["prompt", "prompt", "add", "remove-leaf", "remove-any", "inputs", "noop-comment", "bad"])
    if kind == "prompt":
        name = rng.choice(names)
        assets[name]["prompt"] += " again"
    elif kind == "add":
        counter[0] += 1
        deps = rng.sample(names, min(len(names), rng.randint(0, 2)))
        assets[f"n{counter[0]}"] = {"prompt": f"new {counter[0]}", "inputs": deps}
    elif kind in ("remove-leaf", "remove-any"):
        used = {d for body in assets.values() for d in body["inputs"]}
        choices = [n for n in names if n not in used] if kind == "remove-leaf" else names
        if len(names) > 3 and choices:
            del assets[rng.choice(choices)]
    elif kind == "inputs":
        name = rng.choice(names)
        earlier = names[: names.index(name)]
        assets[name]["inputs"] = rng.sample(earlier, min(len(earlier), rng.randint(0, 2)))
    elif kind == "bad":
        assets[rng.choice(names)]["inputs"] = ["no-such-asset-or-file"]
    return kind


@pytest.mark.parametrize("seed", [1234, 99])
def test_random_edits_are_decided_as_the_full_path_decides(tmp_path: Path, seed: int) -> None:
    SHORT.clear()
    rng = random.Random(seed)
    assets: dict[str, dict[str, Any]] = {}
    for n in range(24):
        earlier = list(assets)
        assets[f"a{n}"] = {"prompt": f"asset {n}", "inputs": rng.sample(earlier, min(len(earlier), rng.randint(0, 2)))}
    spec = tmp_path / "p.yaml"
    cache = tmp_path / "cache"
    spec.write_text(project_text(assets))
    assert render(spec, "-q", cwd=tmp_path, cache=cache).returncode == 0
    counter = [0]
    compared = 0
    for step in range(14):
        before = {name: dict(body, inputs=list(body["inputs"])) for name, body in assets.items()}
        kind = edit(rng, assets, counter)
        spec.write_text(project_text(assets, comment=f"step {step}" if kind == "noop-comment" else ""))
        short, full = decisions(spec, cache, full=False), decisions(spec, cache, full=True)
        assert short == full, f"step {step} ({kind}) decided differently"
        compared += 1
        if full[0] == 2:  # a bad edit: take it back, as a user would
            assets.clear()
            assets.update(before)
            spec.write_text(project_text(assets))
        elif rng.random() < 0.4:  # sometimes render, so the snapshot moves on
            assert render(spec, "-q", cwd=tmp_path, cache=cache).returncode == 0
    assert compared == 14
    assert len(SHORT) >= 5 and min(SHORT) < 24  # the short way was taken, and decided only a part


def test_only_plain_block_layouts_are_split() -> None:
    plain = "version: 1\nassets:\n  a: {type: image, prompt: x}\n  b:\n    type: image\n    prompt: y\n# end\n"
    split = split_spec(plain)
    assert split is not None and list(split.chunks) == ["a", "b"]
    assert split.part({"b"}) == "version: 1\nassets:\n  b:\n    type: image\n    prompt: y\n# end\n"
    for unusual in (
        "assets:\n  a: &base {type: image, prompt: x}\n  b: *base\n",  # anchors and aliases
        "assets: {a: {type: image, prompt: x}}\n",  # flow style
        "assets:\n\ta: {}\n",  # tabs
        "x: 1\n",  # no assets
        "assets:\n  a: {}\n  a: {}\n",  # a name twice
    ):
        assert split_spec(unusual) is None, unusual
    assert re.search("assets", plain)
