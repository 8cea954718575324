"""End to end: the installed `render` command on real projects, real files and real ffmpeg."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from tests.helpers import read_lock, read_manifest, render, render_json, tree_snapshot, write


def test_render_twice_generates_everything_then_nothing(project: Path, cache: Path) -> None:
    code, first = render_json(project, cwd=project.parent, cache=cache)
    assert code == 0, first
    assert first["totals"] == {"generated": 4, "cached": 0, "failed": 0, "skipped": 0}
    lock_before = (project.parent / "project.lock").read_bytes()

    code, second = render_json(project, cwd=project.parent, cache=cache)
    assert code == 0
    assert second["totals"] == {"generated": 0, "cached": 4, "failed": 0, "skipped": 0}
    assert {a["status"] for a in second["assets"].values()} == {"cached"}
    assert (project.parent / "project.lock").read_bytes() == lock_before
    for name, info in second["assets"].items():
        assert (
            hashlib.sha256(Path(info["path"]).read_bytes()).hexdigest()
            == info["sha256"]
            == first["assets"][name]["sha256"]
        )


def test_lockfile_records_every_asset(project: Path, cache: Path) -> None:
    assert render(project, cwd=project.parent, cache=cache).returncode == 0
    lock = read_lock(project.parent / "project.lock")
    assert lock["lock-version"] == 1
    assert set(lock["assets"]) == {"still", "motion", "tune", "cut"}
    motion = lock["assets"]["motion"]
    out = project.parent / "out" / "motion.mp4"
    assert motion["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert motion["bytes"] == out.stat().st_size
    assert motion["key"].startswith("sha256:")
    assert motion["inputs"]["0"] == "sha256:" + lock["assets"]["still"]["sha256"]
    assert motion["provider"] == "local" and motion["resolved_model"] == "local:video"
    assert motion["media_type"] == "video/mp4" and motion["width"] == 64
    assert "created" in motion and "job_id" in motion


def test_manifest_describes_outputs_and_their_origin(project: Path, cache: Path) -> None:
    render(project, cwd=project.parent, cache=cache)
    manifest = read_manifest(project.parent / "out")
    by_asset = {o["asset"]: o for o in manifest["outputs"]}
    assert by_asset["cut"]["status"] == "generated"
    assert by_asset["cut"]["video_codec"] == "h264" and by_asset["cut"]["audio_codec"] == "aac"
    assert abs(by_asset["motion"]["duration"] - 1.0) < 1 / 12 + 1e-6
    assert by_asset["still"]["width"] == 64 and by_asset["still"]["height"] == 36
    assert abs(by_asset["tune"]["duration"] - 1.0) < 0.01
    render(project, cwd=project.parent, cache=cache)
    again = read_manifest(project.parent / "out")
    assert {o["status"] for o in again["outputs"]} == {"cached"}


def test_changed_upstream_rerenders_everything_below_it(project: Path, cache: Path) -> None:
    render(project, cwd=project.parent, cache=cache)
    text = project.read_text().replace("seed: 1", "seed: 2")
    project.write_text(text)
    code, summary = render_json(project, cwd=project.parent, cache=cache)
    assert code == 0
    statuses = {n: a["status"] for n, a in summary["assets"].items()}
    assert statuses == {"still": "generated", "motion": "generated", "tune": "cached", "cut": "generated"}


def _png(path: Path, colour: tuple[int, int, int]) -> None:
    from PIL import Image

    Image.new("RGB", (32, 18), colour).save(path)


def test_a_changed_input_file_changes_the_key(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "p"
    (root / "refs").mkdir(parents=True)
    _png(root / "refs" / "start.png", (200, 40, 40))
    spec = write(
        root / "p.yaml",
        """
        version: 1
        assets:
          clip: {type: video, prompt: x, duration: 1, fps: 8, width: 64, inputs: [refs/start.png]}
          other: {type: image, prompt: y, width: 64}
    """,
    )
    code, first = render_json(spec, cwd=root, cache=cache)
    assert code == 0 and first["assets"]["clip"]["status"] == "generated"
    code, second = render_json(spec, cwd=root, cache=cache)
    assert second["assets"]["clip"]["status"] == "cached"
    _png(root / "refs" / "start.png", (40, 200, 40))
    code, third = render_json(spec, cwd=root, cache=cache)
    assert code == 0
    assert third["assets"]["clip"]["status"] == "generated"
    assert third["assets"]["other"]["status"] == "cached"
    assert third["assets"]["clip"]["sha256"] != first["assets"]["clip"]["sha256"]


def test_deleted_output_is_restored_from_the_cache(project: Path, cache: Path) -> None:
    render(project, cwd=project.parent, cache=cache)
    out = project.parent / "out" / "motion.mp4"
    original = out.read_bytes()
    out.unlink()
    code, summary = render_json(project, cwd=project.parent, cache=cache)
    assert code == 0 and summary["totals"]["generated"] == 0
    assert out.read_bytes() == original


def test_edited_output_is_replaced_by_the_cached_one(project: Path, cache: Path) -> None:
    render(project, cwd=project.parent, cache=cache)
    out = project.parent / "out" / "still.png"
    original = out.read_bytes()
    out.write_bytes(b"scribbled over")
    code, summary = render_json(project, cwd=project.parent, cache=cache)
    assert code == 0 and summary["totals"]["generated"] == 0
    assert out.read_bytes() == original


def test_cleared_cache_keeps_outputs_the_lockfile_vouches_for(project: Path, cache: Path, tmp_path: Path) -> None:
    render(project, cwd=project.parent, cache=cache)
    code, summary = render_json(project, cwd=project.parent, cache=tmp_path / "empty-cache")
    assert code == 0
    assert summary["totals"] == {"generated": 0, "cached": 4, "failed": 0, "skipped": 0}


def test_selection_renders_only_what_is_needed(project: Path, cache: Path) -> None:
    code, summary = render_json(project, "motion", cwd=project.parent, cache=cache)
    assert code == 0
    assert set(summary["assets"]) == {"still", "motion"}
    assert not (project.parent / "out" / "cut.mp4").exists()
    result = render(project, "nope", cwd=project.parent, cache=cache)
    assert result.returncode == 2 and "no asset named 'nope'" in result.stderr
    render(project, cwd=project.parent, cache=cache)
    code, summary = render_json(project, "motion", cwd=project.parent, cache=cache)  # the no-op path
    assert code == 0 and set(summary["assets"]) == {"still", "motion"}
    manifest = read_manifest(project.parent / "out")["outputs"]
    assert sorted((o["asset"], o["status"]) for o in manifest) == [("motion", "cached"), ("still", "cached")]


def test_dry_run_and_plan_call_no_provider_and_write_nothing(project: Path, cache: Path) -> None:
    before = tree_snapshot(project.parent)
    code, plan = render_json(project, "--dry-run", cwd=project.parent, cache=cache)
    assert code == 0
    assert plan["totals"] == {"generate": 4, "cached": 0}
    assert plan["estimated_cost_usd"] == 0
    assert tree_snapshot(project.parent) == before
    result = render("plan", project, cwd=project.parent, cache=cache)
    assert result.returncode == 0 and "4 to generate, 0 cached" in result.stdout
    render(project, cwd=project.parent, cache=cache)
    project.write_text(project.read_text().replace("80bpm", "81bpm"))
    code, plan = render_json(project, "-n", cwd=project.parent, cache=cache)
    assert {n: a["status"] for n, a in plan["assets"].items()} == {
        "still": "cached",
        "motion": "cached",
        "tune": "generate",
        "cut": "generate",
    }


def test_check_exits_1_when_work_is_due_and_0_when_up_to_date(project: Path, cache: Path) -> None:
    result = render(project, "--check", cwd=project.parent, cache=cache)
    assert result.returncode == 1 and "not up to date" in result.stderr
    assert not (project.parent / "out").exists()
    assert render(project, cwd=project.parent, cache=cache).returncode == 0
    assert render(project, "--check", cwd=project.parent, cache=cache).returncode == 0
    # a hand-edited lockfile is out of date even when every output is cached
    lock = project.parent / "project.lock"
    lock.write_text(lock.read_text().replace("cost_usd: 0.0", "cost_usd: 1.0", 1))
    result = render(project, "--check", cwd=project.parent, cache=cache)
    assert result.returncode == 1 and "lockfile" in result.stdout


def test_locked_verifies_against_the_lockfile(project: Path, cache: Path, tmp_path: Path) -> None:
    result = render(project, "--locked", cwd=project.parent, cache=cache)
    assert result.returncode == 1 and "lockfile has no entry" in result.stderr
    render(project, cwd=project.parent, cache=cache)
    lock_bytes = (project.parent / "project.lock").read_bytes()
    (project.parent / "out" / "cut.mp4").unlink()
    code, summary = render_json(project, "--locked", cwd=project.parent, cache=cache)
    assert code == 0 and summary["totals"]["cached"] == 4
    # an empty cache: the free, deterministic local provider makes the same bytes the lockfile names
    import shutil

    shutil.rmtree(project.parent / "out")
    code, summary = render_json(project, "--locked", cwd=project.parent, cache=tmp_path / "fresh")
    assert code == 0, summary
    assert (project.parent / "project.lock").read_bytes() == lock_bytes
    # a spec change the lockfile does not know is an error naming the asset
    project.write_text(project.read_text().replace("boats rocking", "boats drifting"))
    code, summary = render_json(project, "--locked", cwd=project.parent, cache=cache)
    assert code == 1 and summary["assets"]["motion"]["status"] == "failed"
    assert "lockfile has no entry" in summary["assets"]["motion"]["error"]


def test_keep_going_skips_only_dependents(tmp_path: Path, cache: Path) -> None:
    root = tmp_path / "kg"
    root.mkdir()
    (root / "broken.mp4").write_bytes(b"this is not a video")
    spec = write(
        root / "kg.yaml",
        """
        version: 1
        assets:
          ok1: {type: image, prompt: fine, width: 64}
          bad: {type: compose, clips: [broken.mp4]}
          after_bad: {type: upscale, inputs: [bad], scale: 2}
          ok2: {type: music, prompt: fine, duration: 1}
    """,
    )
    code, summary = render_json(spec, "--keep-going", cwd=root, cache=cache)
    assert code == 1
    statuses = {n: a["status"] for n, a in summary["assets"].items()}
    assert statuses == {"ok1": "generated", "bad": "failed", "after_bad": "skipped", "ok2": "generated"}
    assert "ffmpeg" in summary["assets"]["bad"]["error"]
    assert summary["totals"] == {"generated": 2, "cached": 0, "failed": 1, "skipped": 1}
    result = render(spec, "--keep-going", cwd=root, cache=cache)
    assert "asset 'bad' failed" in result.stderr and "skipped: after_bad" in result.stderr
    lock = read_lock(root / "kg.lock")
    assert set(lock["assets"]) == {"ok1", "ok2"}


def test_two_assets_with_the_same_recipe_are_generated_once(tmp_path: Path, cache: Path) -> None:
    spec = write(
        tmp_path / "twins.yaml",
        """
        version: 1
        assets:
          left: {type: image, prompt: same, width: 64, seed: 4}
          right: {type: image, prompt: same, width: 64, seed: 4, output: other.png}
    """,
    )
    code, summary = render_json(spec, cwd=tmp_path, cache=cache)
    assert code == 0
    assert sorted(a["status"] for a in summary["assets"].values()) == ["cached", "generated"]
    assert (tmp_path / "out" / "left.png").read_bytes() == (tmp_path / "out" / "other.png").read_bytes()


def test_cache_location_from_environment_and_flag(project: Path, tmp_path: Path) -> None:
    env = {"XDG_CACHE_HOME": str(tmp_path / "xdg")}
    result = render(project, "tune", cwd=project.parent, cache=tmp_path / "unused", env={**env, "RENDER_CACHE_DIR": ""})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "render" / "index").is_dir()
    result = render(project, "tune", "--cache-dir", tmp_path / "flag", cwd=project.parent, cache=tmp_path / "env")
    assert (tmp_path / "flag" / "blobs").is_dir() and not (tmp_path / "env").exists()


def test_out_option_and_output_names(project: Path, cache: Path, tmp_path: Path) -> None:
    project.write_text(project.read_text().replace("    audio: tune", "    audio: tune\n    output: films/final.mp4"))
    code, summary = render_json(project, "--out", tmp_path / "elsewhere", cwd=project.parent, cache=cache)
    assert code == 0
    assert (tmp_path / "elsewhere" / "films" / "final.mp4").is_file()
    assert (tmp_path / "elsewhere" / "manifest.json").is_file()


def test_bad_spec_exits_2_with_every_problem_and_writes_nothing(tmp_path: Path, cache: Path) -> None:
    spec = write(
        tmp_path / "proj" / "bad.yaml",
        """
        version: 1
        assets:
          cliff: {type: image, promt: rocks}
          waves: {type: video, inputs: [clif]}
          a: {type: image, prompt: a, inputs: [b]}
          b: {type: image, prompt: b, inputs: [a]}
    """,
    )
    before = tree_snapshot(spec.parent)
    result = render(spec, cwd=spec.parent, cache=cache)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "bad.yaml:3:24: asset 'cliff': unknown key 'promt'; did you mean 'prompt'?" in result.stderr
    assert "bad.yaml:4:33: asset 'waves': unknown asset 'clif'; did you mean 'cliff'?" in result.stderr
    assert "cycle: a -> b -> a" in result.stderr
    assert tree_snapshot(spec.parent) == before
    validate = render("validate", spec, cwd=spec.parent, cache=cache)
    assert validate.returncode == 2 and validate.stderr.count("error:") == 4


def test_validate_accepts_a_good_spec(project: Path, cache: Path) -> None:
    result = render("validate", project, cwd=project.parent, cache=cache)
    assert result.returncode == 0 and "valid, 4 assets" in result.stdout
    assert not (project.parent / "out").exists()


def test_usage_errors_exit_2(project: Path, cache: Path) -> None:
    assert render("--no-such-flag", project, cwd=project.parent, cache=cache).returncode == 2
    assert render(project, "-j", "0", cwd=project.parent, cache=cache).returncode == 2
    assert render(cwd=project.parent, cache=cache).returncode == 2
    assert render("--version", cwd=project.parent, cache=cache).stdout.startswith("render ")


def test_python_dash_m_runs_the_same_command(project: Path, cache: Path) -> None:
    import subprocess
    import sys

    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    result = subprocess.run(
        [sys.executable, "-m", "renderer", "validate", str(project)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and "valid" in result.stdout


def test_json_summary_goes_to_stdout_alone(project: Path, cache: Path) -> None:
    result = render(project, "--json", cwd=project.parent, cache=cache)
    document = json.loads(result.stdout)
    assert document["status"] == "ok" and document["totals"]["generated"] == 4
    assert all({"status", "path", "sha256"} <= set(a) for a in document["assets"].values())


def test_ctrl_c_stops_at_once_keeps_what_finished_and_the_next_run_goes_on(tmp_path: Path, cache: Path) -> None:
    import signal
    import subprocess
    import time

    from tests.helpers import RENDER

    spec = write(
        tmp_path / "long.yaml",
        """
        version: 1
        assets:
          quick: {type: image, prompt: x, width: 64}
          slow: {type: video, prompt: y, duration: 120, fps: 30, width: 1280, inputs: [quick]}
    """,
    )
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    process = subprocess.Popen(
        [RENDER, str(spec), "--json"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock = tmp_path / "long.lock"
    deadline = time.monotonic() + 30
    while not (lock.exists() and "quick" in lock.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert time.monotonic() - started < 5
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert set(read_lock(lock)["assets"]) == {"quick"}
    assert not (tmp_path / "out" / "slow.mp4").exists()
    assert not [p for p in (cache / "tmp").iterdir()]
    spec.write_text(spec.read_text().replace("duration: 120, fps: 30, width: 1280", "duration: 1, fps: 8, width: 64"))
    code, summary = render_json(spec, cwd=tmp_path, cache=cache)
    assert code == 0 and summary["assets"]["quick"]["status"] == "cached"


def test_a_terminal_gets_the_live_display(project: Path, cache: Path) -> None:
    import pty
    import subprocess

    from tests.helpers import RENDER

    leader, follower = pty.openpty()
    env = {**os.environ, "RENDER_CACHE_DIR": str(cache), "COLUMNS": "100", "TERM": "xterm"}
    process = subprocess.Popen([RENDER, str(project)], cwd=project.parent, env=env, stdout=follower, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert process.wait(timeout=60) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "\x1b[" in screen  # drawn with terminal control sequences
    assert "made" in screen and "4 generated, 0 cached" in screen


def test_a_fresh_machine_reproduces_the_committed_lockfile_byte_for_byte(
    project: Path, cache: Path, tmp_path: Path
) -> None:
    import shutil

    render(project, cwd=project.parent, cache=cache)
    committed = (project.parent / "project.lock").read_bytes()
    shutil.rmtree(project.parent / "out")
    code, summary = render_json(project, cwd=project.parent, cache=tmp_path / "another-machine")
    assert code == 0 and summary["totals"]["generated"] == 4
    assert (project.parent / "project.lock").read_bytes() == committed


def test_the_demo_renders_a_finished_video_and_then_nothing(tmp_path: Path, cache: Path) -> None:
    import shutil

    from renderer.media.probe import probe
    from tests.helpers import decode_audio

    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns("out", "*.lock"))
    spec = tmp_path / "specs" / "demo.yaml"
    result = render(spec, cwd=tmp_path, cache=cache, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "final: specs/out/ocean-promo.mp4" in result.stdout
    # the same outputs as the committed lockfile's, natively on this CPU (test_reproducible: as an old one)
    made, committed = read_lock(tmp_path / "specs" / "demo.lock"), read_lock(root / "specs" / "demo.lock")
    assert {n: (e["key"], e["sha256"]) for n, e in made["assets"].items()} == {
        n: (e["key"], e["sha256"]) for n, e in committed["assets"].items()
    }
    final = tmp_path / "specs" / "out" / "ocean-promo.mp4"
    info = probe(final)
    assert (info["width"], info["height"], info["video_codec"], info["audio_codec"]) == (1280, 720, "h264", "aac")
    assert abs(info["duration"] - (4 + 4 + 3 - 2 * 0.75)) <= 1 / 24 + 0.03
    audio = decode_audio(final)
    assert float(abs(audio).mean()) > 0.02 and float(abs(audio).max()) < 1.0
    again = render(spec, "--json", cwd=tmp_path, cache=cache)
    assert json.loads(again.stdout)["totals"]["generated"] == 0


def test_confinement_follows_symlinks_and_can_be_lifted(tmp_path: Path, cache: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    from PIL import Image

    Image.new("RGB", (32, 18), (9, 9, 9)).save(outside / "secret.png")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "link.png").symlink_to(outside / "secret.png")
    spec = write(
        root / "p.yaml",
        """
        version: 1
        assets:
          clip: {type: video, prompt: x, duration: 1, fps: 8, width: 64, inputs: [link.png]}
    """,
    )
    result = render(spec, cwd=root, cache=cache)
    assert result.returncode == 2 and "input 'link.png' is outside the project directory" in result.stderr
    spec.write_text("confine: false\n" + spec.read_text())
    assert render(spec, cwd=root, cache=cache).returncode == 0

    (root / "out").mkdir(exist_ok=True)
    (root / "out" / ".render-project").unlink()  # q.yaml takes over the folder p.yaml rendered into
    (root / "out" / "films").symlink_to(outside, target_is_directory=True)
    escape = write(
        root / "q.yaml",
        """
        version: 1
        assets:
          still: {type: image, prompt: x, width: 32, output: films/still.png}
    """,
    )
    result = render(escape, cwd=root, cache=cache)
    assert result.returncode == 2 and "outside" in result.stderr and "symbolic link" in result.stderr
    assert not (outside / "still.png").exists()


UPGRADED = """
import sys
from renderer import recipe_versions
from renderer.providers.local import LocalProvider
recipe_versions.LOCAL = LocalProvider.recipe_version = "local-upgraded"
recipe_versions.ALL = ",".join((recipe_versions.LOCAL, recipe_versions.VARG, recipe_versions.VREX))
from renderer.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_after_an_upgrade_that_changes_a_providers_bytes_nothing_is_taken_as_a_no_op(
    tmp_path: Path, cache: Path
) -> None:
    """The last run's no-op snapshot was made by providers that made other bytes: not a no-op, as the full
    path would say too (render as upgraded: the same command, with the local provider's recipe bumped)."""
    import subprocess
    import sys

    spec = write(tmp_path / "p.yaml", "version: 1\nassets:\n  still: {type: image, prompt: x, width: 16, height: 16}\n")
    assert render(spec, cwd=tmp_path, cache=cache).returncode == 0
    environ = {**os.environ, "RENDER_CACHE_DIR": str(cache)}
    for args in (["plan", str(spec), "--json"], ["plan", str(spec), "--json"], [str(spec), "--json"]):
        upgraded = subprocess.run(
            [sys.executable, "-c", UPGRADED, *args],
            cwd=tmp_path,
            env=environ,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert upgraded.stdout, upgraded.stderr
        still = json.loads(upgraded.stdout)["assets"]["still"]
        if args[0] == "plan":
            assert still["status"] == "generate", still
            assert still["reason"] == "the provider's recipe changed (local-7 -> local-upgraded)"
        else:
            assert still["status"] == "generated", still
