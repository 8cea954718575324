"""The command line as a newcomer meets it: options anywhere, mistyped commands, quiet and verbose no-ops,
file modes, quotas in people's units, sandbox settings checked."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.helpers import render, write

PROJECT = """
version: 1
assets:
  a: {type: image, prompt: harbour, width: 32}
  b: {type: image, prompt: forest, width: 32}
"""


def test_assets_may_follow_options(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    result = render(spec, "-q", "a", "-j", "2", cwd=tmp_path, cache=cache)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out" / "a.png").exists() and not (tmp_path / "out" / "b.png").exists()


def test_a_mistyped_command_is_not_taken_for_a_file(tmp_path: Path, cache: Path) -> None:
    result = render("valdate", "p.yaml", cwd=tmp_path, cache=cache)
    assert result.returncode == 2 and "did you mean 'render validate'" in result.stderr
    assert "no such file" not in result.stderr


def test_help_names_every_command_and_the_version(tmp_path: Path, cache: Path) -> None:
    shown = " ".join(render("--help", cwd=tmp_path, cache=cache).stdout.split())
    for command in ("validate", "plan", "cancel", "usage", "resolve", "merge-lock", "sandbox", "--version"):
        assert command in shown


def test_a_verbose_no_op_lists_the_assets_and_files_are_0644(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    old = os.umask(0o022)
    try:
        assert render(spec, cwd=tmp_path, cache=cache).returncode == 0
    finally:
        os.umask(old)
    again = render(spec, "-v", cwd=tmp_path, cache=cache)
    assert "cached    a: a.png" in again.stdout and "cached    b: b.png" in again.stdout
    for path in (tmp_path / "p.lock", tmp_path / "out" / "manifest.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_the_cache_flag_beats_the_environment(tmp_path: Path, cache: Path) -> None:
    spec = write(tmp_path / "p.yaml", PROJECT)
    flag = tmp_path / "flag-cache"
    assert render(spec, "--cache-dir", flag, cwd=tmp_path, cache=cache).returncode == 0
    assert (flag / "blobs").exists() and not (cache / "blobs").exists()


def test_sandbox_settings_are_checked(tmp_path: Path, cache: Path) -> None:
    result = render("sandbox", "--port", "0", "--fault-rate", "3", cwd=tmp_path, cache=cache, timeout=30)
    assert result.returncode == 2 and "from 0 to 1" in result.stderr
    (tmp_path / "s.yaml").write_text("latency: 1\nfault_rte: 0.5\n")
    result = render("sandbox", "--port", "0", "--config", tmp_path / "s.yaml", cwd=tmp_path, cache=cache, timeout=30)
    assert (
        result.returncode == 2 and "unknown setting 'fault_rte'" in result.stderr and "Traceback" not in result.stderr
    )


def test_usage_is_in_peoples_units() -> None:
    from renderer.cli import human_usage

    shown = human_usage(
        {"tier": "pro", "daily_limit_ms": 3_600_000, "usage_today_ms": 15_000, "total_cost_usd": 0.00225}
    )
    assert shown == "tier pro; daily limit 60.0 min; usage today 15 s; total cost $0.0022"


def test_plan_and_verbose_say_why_an_asset_is_made_again(tmp_path: Path, cache: Path) -> None:
    spec = write(
        tmp_path / "p.yaml",
        """
        version: 1
        assets:
          still: {type: image, prompt: a harbour, width: 32}
          v: {type: video, prompt: boats, duration: 1, fps: 12, width: 32, inputs: [still]}
        """,
    )
    assert "still [local] free: new asset" in render("plan", spec, cwd=tmp_path, cache=cache).stdout
    assert render(spec, cwd=tmp_path, cache=cache).returncode == 0
    spec.write_text(spec.read_text().replace("a harbour", "a quiet harbour"))
    assert "still [local] free: prompt changed" in render("plan", spec, cwd=tmp_path, cache=cache).stdout
    shown = render(spec, "-v", cwd=tmp_path, cache=cache).stdout
    assert "still: still.png (prompt changed)" in shown and "v: v.mp4 (input 'still' changed)" in shown


def test_schema_is_printed_or_written_for_editors(tmp_path: Path, cache: Path) -> None:
    import json

    printed = json.loads(render("schema", cwd=tmp_path, cache=cache).stdout)
    assert render("schema", "-o", tmp_path / "s.json", cwd=tmp_path, cache=cache).returncode == 0
    written = json.loads((tmp_path / "s.json").read_text())
    assert printed == written and "assets" in written["properties"]
    image_defaults = written["definitions"]["defaults"]["properties"]["image"]["propertyNames"]["enum"]
    assert "width" in image_defaults and "clips" not in image_defaults  # typos in defaults blocks are flagged
