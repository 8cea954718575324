"""Incremental decisions: after random edits of a random project, the short way decides exactly as the full
path does (RENDER_INCREMENTAL=0), every time; and the spec splitter refuses layouts it does not know."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Any

import pytest

from renderer.spec.split import split_spec
from tests.helpers import render

FRAIL = "refs/frail.png"  # an upscale reads it: junk written there fails that asset (and what needs it)


def project_text(assets: dict[str, dict[str, Any]], *, comment: str = "") -> str:
    lines = ["version: 1", "name: inc", "defaults: {provider: local}", "assets:"]
    for name, body in assets.items():
        inputs = f", inputs: [{', '.join(body['inputs'])}]" if body["inputs"] else ""
        lines.append(f'  {name}: {{type: image, prompt: "{body["prompt"]}", width: 16, height: 16{inputs}}}')
        if comment and name.endswith("3"):
            lines.append(f"    # {comment}")
    lines.append(f"  frail: {{type: upscale, scale: 2, inputs: [{FRAIL}]}}")
    lines.append('  after_frail: {type: image, prompt: "after", width: 16, height: 16, inputs: [frail]}')
    return "\n".join(lines) + "\n"


SHORT: list[int] = []  # how many assets each plan that took the short way decided
SHORT_RENDERS: list[int] = []  # and each render
FAILED_RENDERS: list[int] = []  # the steps that rendered with an asset failing


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


REFS = ["refs/r0.png", "refs/r1.png", "refs/r2.png"]


def write_ref(folder: Path, ref: str, shade: int) -> None:
    from PIL import Image

    path = folder / ref
    path.parent.mkdir(exist_ok=True)
    Image.new("RGB", (8, 8), (shade % 256, 40, 90)).save(path)


def edit(
    rng: random.Random, assets: dict[str, dict[str, Any]], counter: list[int], folder: Path, kind: str | None = None
) -> str:
    names = list(assets)
    kinds = ["prompt", "prompt", "add", "remove-leaf", "remove-any", "inputs", "file", "file", "noop-comment", "bad"]
    kind = kind or rng.choice([*kinds, "break", "mend"])
    if kind == "break":  # the next render fails an asset: its snapshot must still decide the rest rightly
        (folder / FRAIL).write_bytes(b"not a picture %d" % rng.randrange(1 << 16))
    elif kind == "mend":
        write_ref(folder, FRAIL, rng.randrange(1 << 16))
    elif kind == "file":  # an input file changes: what reads it, and what depends on that, is made again
        write_ref(folder, rng.choice(REFS), rng.randrange(1 << 16))
    elif kind == "prompt":
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
        assets[name]["inputs"] = rng.sample(earlier + REFS, min(len(earlier), rng.randint(0, 2)))
    elif kind == "bad":
        assets[rng.choice(names)]["inputs"] = ["no-such-asset-or-file"]
    return kind


def outcome_of_render(spec: Path, cache: Path) -> dict[str, Any]:
    """What a render left: the lockfile, the manifest (statuses aside) and the no-op snapshot."""
    from renderer.cli import snapshot_version
    from renderer.store.state import load_state, state_path

    manifest = json.loads((spec.parent / "out" / "manifest.json").read_text())
    for output in manifest["outputs"]:
        output.pop("status")
    snapshot = load_state(state_path(cache, spec), snapshot_version())
    return {"lock": spec.with_suffix(".lock").read_bytes(), "manifest": manifest, "snapshot": snapshot}


def render_both_ways(spec: Path, cache: Path, full_plan: dict[str, Any]) -> None:
    """Render the short way, then check the full path would have made the same: the same assets made, and
    (re-rendered the full way with the snapshot removed) the same lockfile, manifest and snapshot."""
    result = render(spec, "--json", "-k", "--out", "out", cwd=spec.parent, cache=cache)
    broken = not (spec.parent / FRAIL).read_bytes().startswith(b"\x89PNG")
    assert result.returncode == (1 if broken else 0), result.stderr
    document = json.loads(result.stdout)
    if "decided_again" in document:
        SHORT_RENDERS.append(document["decided_again"])
    statuses = {n: a["status"] for n, a in document["assets"].items()}
    assert statuses.keys() == full_plan["assets"].keys()
    # a plan cannot know an output before it is made: what it would make may come out as it was (cached)
    made = {n for n, status in statuses.items() if status == "generated"}
    assert made <= {n for n, a in full_plan["assets"].items() if a[0] == "generate"}
    short = outcome_of_render(spec, cache)
    assert short["snapshot"] is not None, "the short way's render left no snapshot"
    for state in (cache / "state").iterdir():
        state.unlink()
    again = render(spec, "-q", "-k", "--out", "out", cwd=spec.parent, cache=cache, env={"RENDER_INCREMENTAL": "0"})
    assert again.returncode == result.returncode, again.stderr
    assert short == outcome_of_render(spec, cache)
    if broken:  # the snapshot of a run with a failure: never a no-op, and the failed entry is always changed
        FAILED_RENDERS.append(len(statuses))
        assert short["snapshot"].spec_sha == "" and short["snapshot"].chunks["frail"][0] == ""
        assert "frail" not in short["snapshot"].assets and "after_frail" not in short["snapshot"].assets


@pytest.mark.parametrize("seed", [1234, 99])
def test_random_edits_are_decided_as_the_full_path_decides(tmp_path: Path, seed: int) -> None:
    SHORT.clear()
    SHORT_RENDERS.clear()
    FAILED_RENDERS.clear()
    rng = random.Random(seed)
    for shade, ref in enumerate([*REFS, FRAIL]):
        write_ref(tmp_path, ref, shade)
    assets: dict[str, dict[str, Any]] = {}
    for n in range(24):
        earlier = list(assets) + (REFS if n % 5 == 0 else [])
        assets[f"a{n}"] = {"prompt": f"asset {n}", "inputs": rng.sample(earlier, min(len(earlier), rng.randint(0, 2)))}
    spec = tmp_path / "p.yaml"
    cache = tmp_path / "cache"
    spec.write_text(project_text(assets))
    assert render(spec, "-q", "--out", "out", cwd=tmp_path, cache=cache).returncode == 0
    counter = [0]
    compared = rendered = 0
    for step in range(16):
        before = {name: dict(body, inputs=list(body["inputs"])) for name, body in assets.items()}
        kind = edit(rng, assets, counter, tmp_path, "break" if step == 4 else None)
        spec.write_text(project_text(assets, comment=f"step {step}" if kind == "noop-comment" else ""))
        short, full = decisions(spec, cache, full=False), decisions(spec, cache, full=True)
        assert short == full, f"step {step} ({kind}) decided differently"
        compared += 1
        if full[0] == 2:  # a bad edit: take it back, as a user would
            assets.clear()
            assets.update(before)
            spec.write_text(project_text(assets))
        elif rng.random() < 0.5 or step == 4:  # sometimes render, so the snapshot moves on (once with a failure)
            render_both_ways(spec, cache, full[1])
            rendered += 1
    assert compared == 16 and rendered >= 4 and FAILED_RENDERS
    assert len(SHORT) >= 5 and min(SHORT) < 26  # the short way was taken, and decided only a part
    assert len(SHORT_RENDERS) >= 2 and min(SHORT_RENDERS) < 26


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


def test_after_a_failure_only_the_failed_asset_and_what_needs_it_are_decided_again(tmp_path: Path) -> None:
    assets = {f"a{n}": {"prompt": f"asset {n}", "inputs": [f"a{n - 1}"] if n else []} for n in range(12)}
    spec = tmp_path / "p.yaml"
    cache = tmp_path / "cache"
    spec.write_text(project_text(assets))
    write_ref(tmp_path, REFS[0], 1)
    (tmp_path / FRAIL).write_bytes(b"not a picture")
    first = render(spec, "-k", "--json", cwd=tmp_path, cache=cache)
    assert first.returncode == 1 and json.loads(first.stdout)["assets"]["frail"]["status"] == "failed"

    again = render(spec, "-k", "--json", cwd=tmp_path, cache=cache)  # nothing changed: not a no-op
    document = json.loads(again.stdout)
    assert again.returncode == 1 and document["decided_again"] == 2  # frail and after_frail, not all 14
    assert document["totals"]["cached"] == 12 and document["assets"]["after_frail"]["status"] == "skipped"

    write_ref(tmp_path, FRAIL, 2)  # mended
    mended = render(spec, "--json", cwd=tmp_path, cache=cache)
    document = json.loads(mended.stdout)
    assert mended.returncode == 0 and document["decided_again"] == 2
    assert {name for name, a in document["assets"].items() if a["status"] == "generated"} == {"frail", "after_frail"}
    noop = render(spec, "--json", cwd=tmp_path, cache=cache)
    assert noop.returncode == 0 and "decided_again" not in json.loads(noop.stdout)


def test_a_plain_report_after_an_edit_says_what_the_full_path_says(tmp_path: Path) -> None:
    """Without --json the short way keeps the unchanged assets as the snapshot has them (no outcome each):
    its counts, costs and finished products must still be the full path's."""
    assets = {f"a{n}": {"prompt": f"asset {n}", "inputs": [f"a{n - 1}"] if n else []} for n in range(6)}
    assets["lone"] = {"prompt": "lone", "inputs": []}
    edited = {**assets, "a3": {"prompt": "asset 3 edited", "inputs": ["a2"]}}
    reports = {}
    for way, env in (("short", {}), ("full", {"RENDER_INCREMENTAL": "0"})):
        folder = tmp_path / way
        folder.mkdir()
        spec, cache = folder / "p.yaml", folder / "cache"
        spec.write_text(project_text(assets))
        write_ref(folder, FRAIL, 1)
        assert render(spec, cwd=folder, cache=cache).returncode == 0
        spec.write_text(project_text(edited))
        probe = json.loads(render("plan", spec, "--json", cwd=folder, cache=cache, env=env).stdout)
        assert ("decided_again" in probe) == (way == "short")
        plan = render("plan", spec, "-v", cwd=folder, cache=cache, env=env)
        made = render(spec, cwd=folder, cache=cache, env=env)
        # elapsed times differ, and the order of lines, and progress counts only what is decided
        timeless = re.sub(r"[0-9]+\.[0-9]+s\b", "Ts", re.sub(r"\[[0-9]+/[0-9]+ ", "[N/N ", made.stdout))
        lines = [*plan.stdout.splitlines(), *timeless.splitlines()]
        reports[way] = (plan.returncode, made.returncode, sorted(lines))
    assert reports["short"] == reports["full"]
    plan_text = render_text = "\n".join(reports["short"][2])
    assert "3 to generate, 6 cached" in plan_text and "  cached    lone" in plan_text
    totals = re.search(r"([0-9]+) generated, ([0-9]+) cached", render_text)
    assert totals is not None and int(totals[1]) >= 1 and int(totals[1]) + int(totals[2]) == 9
    assert "the outputs cost $0.0000 in all" in render_text
    assert {"  a5: out/a5.png", "  lone: out/lone.png", "  after_frail: out/after_frail.png"} <= set(
        render_text.splitlines()
    )


def test_an_edit_that_decides_every_asset_again_takes_the_full_path(tmp_path: Path) -> None:
    """A matrix entry edited changes all its variants: nothing is left to take as it was, so the short way
    steps aside (it would load the snapshot and then do the full path's work anyway)."""
    spec, cache = tmp_path / "m.yaml", tmp_path / "cache"
    body = 'v: {{type: image, prompt: "{} ${{matrix.n}}", width: 16, height: 16, matrix: {{n: [1, 2, 3]}}}}'
    head = "version: 1\ndefaults: {provider: local}\nassets:\n  "
    spec.write_text(head + body.format("look") + "\n")
    assert render(spec, cwd=tmp_path, cache=cache).returncode == 0
    spec.write_text(head + body.format("look again") + "\n")
    plan = render("plan", spec, "--json", cwd=tmp_path, cache=cache)
    assert plan.returncode == 0 and "decided_again" not in json.loads(plan.stdout)
    assert decisions(spec, cache, full=False) == decisions(spec, cache, full=True)
    assert decisions(spec, cache, full=True)[1]["totals"]["generate"] == 3
