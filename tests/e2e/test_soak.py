"""Soak: assets against the sandbox with 20% of requests faulted (429, 5xx, dropped connections). Every
asset completes, no job is created twice, and it prints the request count and the wall time. 150 assets
by default; the full 500 with ``pytest -m full``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.helpers import KEYS, remote_spec, render_json, requests_of


def test_150_assets_through_20_percent_faults(tmp_path: Path, cache: Path, sandbox) -> None:
    soak(150, tmp_path, cache, sandbox)


@pytest.mark.full
def test_500_assets_through_20_percent_faults(tmp_path: Path, cache: Path, sandbox) -> None:
    soak(500, tmp_path, cache, sandbox)


def soak(assets: int, tmp_path: Path, cache: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(
        latency=0.05,
        fault_rate=0.2,
        fault_seed=11,
        fault_kinds=["429", "500", "502", "503", "drop"],
        fault_on=["submit", "poll", "upload", "download"],
    )
    # v2: submits carry idempotency keys, so a dropped submit answer can be sent again safely
    lines = [f"i{n}: {{type: image, provider: varg2, model: m, prompt: soak picture {n}}}" for n in range(assets)]
    spec = remote_spec(tmp_path / "p.yaml", server.url, "\n".join(lines))
    spec.write_text(spec.read_text().replace("max_retries: 4}", "max_retries: 8, max_concurrency: 32}"))
    started = time.monotonic()
    # 500 assets: about 45 s alone; the margin survives a loaded 2-core machine ten times slower
    code, summary = render_json(spec, "-j", "32", cwd=tmp_path, cache=cache, env=KEYS, timeout=600)
    elapsed = time.monotonic() - started
    assert code == 0, {n: a for n, a in summary["assets"].items() if a["status"] != "generated"}
    assert summary["totals"]["generated"] == assets
    assert len(server.sandbox.jobs) == assets  # zero duplicate jobs, retried submits included
    requests = requests_of(server)
    submits = len(requests_of(server, "submit"))
    print(
        f"\nsoak: {assets} assets, {len(requests)} requests ({submits} submits for {assets} jobs), {elapsed:.1f} s wall"
    )
    assert submits > assets  # faults really hit submits, and were retried without paying twice
