"""The budget: paid jobs stop before the cap (the sandbox sees no submit beyond it), a higher cap goes on
without paying twice, unknown costs are refused under a budget, and `render cost` reports the lockfile."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import KEYS, remote_spec, render, render_json, requests_of

PRICED = """
varg: {base_url: "URL/v1", poll_interval: 0.1, max_poll_interval: 0.3, prices: {nano-banana: {per_job: 0.04}}}
"""
ASSETS = (
    "\n".join(f"s{n}: {{type: image, model: nano-banana, prompt: harbour number {n}}}" for n in range(3))
    + "\ncut: {type: compose, provider: local, clips: [s0]}"
)


def priced_spec(tmp_path: Path, url: str) -> Path:
    spec = remote_spec(tmp_path / "p.yaml", url, ASSETS)
    text = spec.read_text()
    old = next(line for line in text.splitlines() if line.startswith("  varg: "))
    spec.write_text(text.replace(old, "  " + PRICED.strip().replace("URL", url)))
    return spec


def test_a_budget_stops_before_crossing_and_a_higher_one_goes_on_without_paying_twice(tmp_path: Path, sandbox) -> None:
    server = sandbox()
    spec = priced_spec(tmp_path, server.url)
    cache = tmp_path / "cache"
    plan = render("plan", spec, "--max-cost", "0.10", cwd=tmp_path, cache=cache, env=KEYS)
    assert plan.returncode == 0 and "estimated cost $0.1200" in plan.stdout and "over the budget" in plan.stdout
    result = render(spec, "--max-cost", "0.10", "--jobs", "1", cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 1, result.stderr
    assert len(requests_of(server, "created")) == 2  # the third would have crossed $0.10: never sent
    line = next(line for line in result.stderr.splitlines() if "budget $0.10" in line)
    assert "spent $0.08" in line and "about $0.0400 more" in line and "Traceback" not in result.stderr
    code, made = render_json(spec, "--max-cost", "1", cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, made
    assert len(requests_of(server, "created")) == 3  # only the one that was not made
    made_now = [n for n, a in made["assets"].items() if a["status"] == "generated" and n.startswith("s")]
    assert len(made_now) == 1  # the image the budget held back, and nothing else paid
    cost = render("cost", spec, "--json", cwd=tmp_path, cache=cache)
    assert cost.returncode == 0, cost.stderr
    report = json.loads(cost.stdout)
    # varg v1 does not say what a job cost: the lockfile keeps that unknown (the budget counted the prices)
    assert report["unknown"] == ["s0", "s1", "s2"] and report["assets"]["cut"] == 0.0 and report["not_made"] == []
    assert set(report["providers"]) == {"varg", "local"}
    text = render("cost", spec, cwd=tmp_path, cache=cache).stdout
    assert "the outputs cost $0.0000 + 3 unknown (s0, s1, s2) in all" in text


def test_a_budget_refuses_unknown_costs_unless_allowed(tmp_path: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(tmp_path / "p.yaml", server.url, "still: {type: image, model: nano-banana, prompt: a pier}")
    spec.write_text(spec.read_text().replace("version: 1\n", "version: 1\nbudget: 5\n", 1))
    cache = tmp_path / "cache"
    refused = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert refused.returncode == 1 and "cost is unknown" in refused.stderr and "--allow-unknown-cost" in refused.stderr
    assert requests_of(server, "created") == []
    allowed = render(spec, "--allow-unknown-cost", cwd=tmp_path, cache=cache, env=KEYS)
    assert allowed.returncode == 0, allowed.stderr
    assert len(requests_of(server, "created")) == 1
