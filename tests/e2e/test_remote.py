"""End to end: `render` as a subprocess against the sandbox server (real HTTP on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import yaml

from tests.helpers import KEYS, LONG_CAPTION, RENDER, read_manifest, remote_spec, render, render_json, requests_of

ALL_TYPES = f"""
still: {{type: image, model: nano-banana, prompt: a harbour at dawn, aspect_ratio: "16:9"}}
clip: {{type: video, model: kling-v3, prompt: boats rocking, duration: 3, inputs: [still]}}
voice: {{type: speech, model: eleven-v3, text: Welcome to the harbour., voice: rachel}}
song: {{type: music, prompt: calm piano, duration: 5}}
talk: {{type: lipsync, inputs: {{audio: voice, video: clip}}}}
big: {{type: upscale, provider: varg2, inputs: [clip]}}
theme: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5, inputs: {{ref_audio: refs/theme.wav}}}}
final: {{type: compose, provider: local, clips: [clip, talk], audio: theme}}
"""


def _reference_audio(root: Path) -> None:
    import wave

    (root / "refs").mkdir(parents=True, exist_ok=True)
    with wave.open(str(root / "refs" / "theme.wav"), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(bytes(16000))


def test_every_asset_type_once_then_not_a_single_request(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    _reference_audio(tmp_path)
    spec = remote_spec(tmp_path / "p.yaml", server.url, ALL_TYPES)
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert summary["totals"]["generated"] == 8
    submits = requests_of(server, "submit")
    assert sorted(e["path"] for e in submits) == ["image", "music", "music", "speech", "video", "video", "video"]
    uploads = requests_of(server, "upload")
    assert len(uploads) == 5  # still, clip and voice to v1; clip to v2; the reference audio to Vrex
    lock = yaml.safe_load((tmp_path / "p.lock").read_text())["assets"]
    assert lock["clip"]["resolved_model"] == "fal:kling-v3" and lock["clip"]["job_id"].startswith("job_")
    assert lock["big"]["cost_usd"] == 0.5 and lock["theme"]["cost_usd"] == 0.00075
    assert lock["theme"]["resolved_model"] == "vrex:ace-step-v1.5" and lock["theme"]["output"] == "theme.mp3"
    from renderer.media.probe import probe

    assert probe(tmp_path / "out" / "talk.mp4").get("audio_codec")  # lipsync output speaks, as the real one does
    assert probe(tmp_path / "out" / "final.mp4").get("audio_codec")
    manifest = {o["asset"]: o for o in read_manifest(tmp_path / "out")["outputs"]}
    assert manifest["theme"]["media_type"] == "audio/mpeg" and manifest["theme"]["cost_usd"] == 0.00075
    seen = len(requests_of(server))
    shutil.rmtree(tmp_path / "out")
    code, again = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and again["totals"]["generated"] == 0
    spent = summary["cost"]["spent_usd"]
    assert spent > 0 and summary["cost"]["project_usd"] == spent  # Vrex and varg v2 say what a job cost
    assert again["cost"]["spent_usd"] == 0 and again["cost"]["project_usd"] == spent  # nothing paid twice
    assert set(summary["cost"]["spent_unknown"]) <= {"still", "clip", "voice", "song", "talk"}  # v1 gives no price
    assert len(requests_of(server)) == seen  # the cache answers; the provider hears nothing


def test_request_bodies_are_as_documented(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    _reference_audio(tmp_path)
    spec = remote_spec(tmp_path / "p.yaml", server.url, ALL_TYPES)
    assert render(spec, cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    jobs = {job["body"].get("model") or job["endpoint"]: job for job in server.sandbox.jobs.values()}
    clip = jobs["kling-v3"]["body"]
    assert set(clip) == {"model", "prompt", "duration", "files"} and clip["duration"] == 3
    assert clip["files"][0]["url"].startswith(server.url + "/_files/")
    talk = jobs["sync-v2"]["body"]
    assert [f["url"].rsplit(".", 1)[-1] for f in talk["files"]] == ["mp4", "mp3"]  # picture first, then audio
    assert jobs["eleven-v3"]["body"] == {"model": "eleven-v3", "text": "Welcome to the harbour.", "voice": "rachel"}
    vrex = next(j for j in server.sandbox.jobs.values() if j["api"] == "vrex")["body"]
    assert vrex["caption"] == LONG_CAPTION and vrex["duration_ms"] == 5000 and "ref_audio_url" in vrex
    (((_, key), _),) = server.sandbox.idempotency.items()
    assert key.startswith("render-") and len(key) == len("render-") + 16  # one per journaled attempt


def test_model_constraints_are_checked_before_any_request(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        """
        a: {type: video, model: kling-v3, prompt: x, duration: 2.5}
        b: {type: video, model: seedance-2-preview, prompt: x, duration: 7}
        c: {type: video, model: kling-v9, prompt: x}
        d: {type: music, provider: vrex, prompt: too short}
        e: {type: image, prompt: x}
    """,
    )
    result = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 2
    assert "asset 'a': kling-v3 takes a whole number of seconds from 3 to 15 as duration, not 2.5" in result.stderr
    assert "asset 'b': seedance-2-preview takes duration 5, 10 or 15, not 7" in result.stderr
    assert "asset 'c': 'kling-v9' is not a varg video model" in result.stderr
    assert "asset 'd': Vrex needs a prompt (its 'caption') of 100 to 500 characters" in result.stderr
    assert "asset 'e': varg needs 'model' for image assets" in result.stderr
    assert requests_of(server) == []


def test_a_missing_key_stops_before_any_work_unless_nothing_needs_it(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(tmp_path / "p.yaml", server.url, "song: {type: music, prompt: calm, duration: 5}")
    result = render(spec, cwd=tmp_path, cache=cache)
    assert result.returncode == 2 and "needs an API key in the environment variable VARG_API_KEY" in result.stderr
    assert requests_of(server) == [] and not (tmp_path / "out").exists()
    assert render(spec, cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    (tmp_path / "out" / "song.mp3").unlink()
    result = render(spec, cwd=tmp_path, cache=cache)  # everything cached: no key needed
    assert result.returncode == 0, result.stderr


def test_plain_http_only_to_this_machine(tmp_path: Path, cache: Path) -> None:
    spec = remote_spec(tmp_path / "p.yaml", "http://example.com", "song: {type: music, prompt: calm, duration: 5}")
    result = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 2 and "plain http is allowed only to this machine" in result.stderr


def test_transient_faults_are_retried_and_every_asset_completes(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(
        fault_rate=0.35,
        fault_seed=3,
        fault_kinds=["429", "500", "502", "503", "drop", "malformed"],
        fault_on=["poll", "upload", "download"],
    )
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        """
        s1: {type: image, model: m, prompt: one}
        s2: {type: image, model: m, prompt: two}
        v1: {type: video, model: kling-v3, prompt: three, duration: 3, inputs: [s1]}
        v2: {type: video, provider: varg2, model: kling-v3, prompt: four, duration: 3, inputs: [s2]}
    """,
    )
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert len(requests_of(server, "submit")) == 4  # one per asset, faults or not
    faults_seen = len(requests_of(server)) - len(requests_of(server, "submit"))
    assert faults_seen > 8


def test_final_errors_fail_the_asset_at_once_and_keep_going_finishes_the_rest(
    tmp_path: Path, cache: Path, sandbox
) -> None:
    server = sandbox(fail_prompts=["forbidden"], vrex_daily_limit_ms=4000)
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        f"""
        ok: {{type: music, prompt: fine, duration: 5}}
        refused: {{type: music, prompt: something forbidden, duration: 5}}
        over: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
    """,
    )
    code, summary = render_json(spec, "--keep-going", cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 1
    assets = summary["assets"]
    assert assets["ok"]["status"] == "generated"
    assert assets["refused"]["error"] == "varg refused the job: JOB_FAILED: the provider refused this prompt"
    assert assets["over"]["error"].startswith("vrex refused the job: DAILY_LIMIT_EXCEEDED")
    assert len(requests_of(server, "submit", api="vrex")) == 1  # not retried


def test_a_wrong_key_is_not_retried(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(tmp_path / "p.yaml", server.url, "song: {type: music, prompt: calm, duration: 5}")
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env={"VARG_API_KEY": "not-a-varg-key"})
    assert code == 1 and "unauthorized" in summary["assets"]["song"]["error"]
    assert len(requests_of(server)) == 1


def test_a_lost_submit_answer_is_never_blindly_sent_again(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(fault_rate=1.0, fault_kinds=["drop"], fault_on=["submit"])
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        f"""
        v1song: {{type: music, prompt: calm, duration: 5}}
        vrexsong: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
    """,
    )
    for _ in range(2):  # the first run and a plain second run: each asset waits, nothing is sent again
        code, summary = render_json(spec, "-k", cwd=tmp_path, cache=cache, env=KEYS)
        assert code == 1 and summary["totals"]["waiting"] == 2
        for name in ("v1song", "vrexsong"):
            assert summary["assets"][name]["status"] == "waiting"
            assert "may have made a paid job" in summary["assets"][name]["error"]
        assert len(requests_of(server, "submit")) == 2  # one each, ever
    shown = render("resolve", spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert "v1song: unconfirmed on varg" in shown.stdout and "--job-id ID" in shown.stdout
    spec.write_text(spec.read_text().replace("max_retries: 4}", "max_retries: 2, retry_unconfirmed_submit: true}"))
    code, summary = render_json(spec, "v1song", cwd=tmp_path, cache=cache, env=KEYS)
    assert summary["assets"]["v1song"]["status"] == "waiting"  # allowed to resend; every resend dropped too
    assert len(requests_of(server, "submit", api="varg-v1")) == 1 + 3  # allowed: the first try and 2 retries


def test_a_wrong_media_type_is_refused(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(wrong_media_type=True)
    spec = remote_spec(tmp_path / "p.yaml", server.url, "song: {type: music, prompt: calm, duration: 5}")
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 1 and "WRONG_MEDIA_TYPE" in summary["assets"]["song"]["error"]
    assert not (tmp_path / "out" / "song.mp3").exists()


def test_dry_run_asks_v2_for_an_estimate_and_submits_nothing(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        f"""
        clip: {{type: video, provider: varg2, model: kling-v3, prompt: x, duration: 5}}
        theme: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 20}}
    """,
    )
    code, plan = render_json(spec, "--dry-run", cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0
    assert plan["assets"]["clip"]["cost_usd"] == 0.5 and plan["assets"]["theme"]["cost_usd"] == 0.003
    assert plan["estimated_cost_usd"] == 0.503
    assert len(requests_of(server, "estimate")) == 1 and requests_of(server, "submit") == []


def _vrex_project(tmp_path: Path, url: str, pacing: str) -> Path:
    assets = "\n".join(
        f'm{i}: {{type: music, provider: vrex, prompt: "{LONG_CAPTION} {i}", duration: 5}}' for i in range(3)
    )
    spec = remote_spec(tmp_path / "p.yaml", url, assets)
    spec.write_text(spec.read_text().replace("rate_limit: {requests: 600, seconds: 60}", pacing))
    return spec


def test_vrex_pacing_to_the_documented_limit_causes_no_429(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=0.8, vrex_limit=4, vrex_window=2.0, vrex_rate_headers=False)
    spec = _vrex_project(tmp_path, server.url, "rate_limit: {requests: 4, seconds: 2}")
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert requests_of(server, "rejected-429") == []
    assert len(requests_of(server, "poll", api="vrex")) >= 3


def test_x_ratelimit_remaining_paces_even_a_loose_setting(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=0.8, vrex_limit=4, vrex_window=2.0)
    spec = _vrex_project(tmp_path, server.url, "rate_limit: {requests: 100, seconds: 2}")
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert requests_of(server, "rejected-429") == []


def test_without_pacing_429s_come_and_retry_after_is_honoured(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=0.8, vrex_limit=4, vrex_window=2.0, vrex_rate_headers=False)
    spec = _vrex_project(tmp_path, server.url, "rate_limit: {requests: 100, seconds: 2}")
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert requests_of(server, "rejected-429")  # what the tests above would see if pacing failed
    assert len(requests_of(server, "submit", api="vrex")) == 3


def _wait_for(predicate, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_kill_9_while_polling_resumes_the_job_instead_of_paying_again(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=3.0, vrex_limit=1000)  # the server limit is not under test here (it would add 60 s)
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        f"""
        song: {{type: music, prompt: calm, duration: 5}}
        theme: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
    """,
    )
    env = {**os.environ, **KEYS, "RENDER_CACHE_DIR": str(cache)}
    process = subprocess.Popen(
        [RENDER, str(spec)], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _wait_for(lambda: len(requests_of(server, "poll")) >= 2)
    process.kill()
    process.wait(timeout=10)
    journal = tmp_path / ".render" / "journal"
    assert len(list(journal.glob("*.json"))) == 2
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and summary["totals"]["generated"] == 2
    assert len(requests_of(server, "submit")) == 2  # exactly one submit per asset, across the kill
    assert list(journal.glob("*.json")) == []


def test_ctrl_c_leaves_remote_jobs_running_and_cancel_stops_them(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=30.0)
    spec = remote_spec(tmp_path / "p.yaml", server.url, "clip: {type: video, model: kling-v3, prompt: x, duration: 5}")
    env = {**os.environ, **KEYS, "RENDER_CACHE_DIR": str(cache)}
    process = subprocess.Popen(
        [RENDER, str(spec)], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    journal = tmp_path / ".render" / "journal"
    _wait_for(lambda: any("job_id" in p.read_text() for p in journal.glob("*.json")))
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130 and "the next run picks up" in stderr
    assert requests_of(server, "cancel") == []
    result = render("cancel", spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 0 and "cancelled clip" in result.stdout
    assert len(requests_of(server, "cancel")) == 1 and list(journal.glob("*.json")) == []
    assert (
        render("cancel", spec, cwd=tmp_path, cache=cache, env=KEYS).stdout.strip().endswith("no remote jobs pending.")
    )


def test_usage_shows_the_vrex_quota(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(
        tmp_path / "p.yaml", server.url, f'm: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}'
    )
    assert render(spec, cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    result = render("usage", spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 0
    line = next(text for text in result.stdout.splitlines() if text.startswith("vrex: "))
    assert "usage today 5 s" in line and "daily limit 60.0 min" in line  # people's units, not milliseconds


def test_the_sandbox_command_serves_on_loopback(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([RENDER, "sandbox", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline().startswith(f"render sandbox on http://127.0.0.1:{port}")
        import httpx

        answer = httpx.post(f"http://127.0.0.1:{port}/api/v1/music", json={}, headers={"Authorization": "Bearer sk-x"})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "VALIDATION_ERROR"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    refused = subprocess.run([RENDER, "sandbox", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=10)
    assert refused.returncode == 2 and "this machine only" in refused.stderr


def test_a_third_party_provider_plugs_in_through_an_entry_point(tmp_path: Path, cache: Path) -> None:
    plugin = tmp_path / "plugin"
    (plugin / "shiny").mkdir(parents=True)
    (plugin / "shiny" / "__init__.py").write_text(
        "from renderer.providers.local import LocalProvider\n\n"
        "class ShinyProvider(LocalProvider):\n"
        "    name = 'shiny'\n"
        "    recipe_version = 'shiny-1'\n"
        "    options_schema = {'gloss': {'type': 'integer', 'minimum': 0, 'maximum': 10}}\n"
    )
    info = plugin / "shiny-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shiny\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[renderer.providers]\nshiny = shiny:ShinyProvider\n")
    spec = tmp_path / "p.yaml"
    body = (
        "assets:\n  s: {type: image, provider: shiny, prompt: x, width: 32}\n"
        "  t: {type: image, provider: shiny, prompt: y, width: 32}\n"
    )
    spec.write_text("version: 1\nproviders:\n  shiny: {gloss: 3, max_concurrency: 2}\n" + body)
    result = render(spec, cwd=tmp_path, cache=cache, env={"PYTHONPATH": str(plugin)})
    assert result.returncode == 0, result.stderr
    made = yaml.safe_load((tmp_path / "p.lock").read_text())["assets"]["s"]
    assert made["provider"] == "shiny"
    again = render(spec, cwd=tmp_path, cache=cache, env={"PYTHONPATH": str(plugin)})
    assert "nothing to generate" in again.stdout + again.stderr  # the no-op
    # the plugin upgraded: a new recipe version (its bytes may differ), which no version of render's says
    code = plugin / "shiny" / "__init__.py"
    code.write_text(code.read_text().replace("'shiny-1'", "'shiny-10'"))
    upgraded = render(spec, cwd=tmp_path, cache=cache, env={"PYTHONPATH": str(plugin)})
    assert upgraded.returncode == 0 and "nothing to generate" not in upgraded.stdout + upgraded.stderr
    assert yaml.safe_load((tmp_path / "p.lock").read_text())["assets"]["s"]["key"] != made["key"]
    # upgraded again, and t edited: the short way, which would decide t alone, steps aside
    code.write_text(code.read_text().replace("'shiny-10'", "'shiny-100'"))
    spec.write_text(spec.read_text().replace("prompt: y", "prompt: z"))
    code_, report = render_json(spec, cwd=tmp_path, cache=cache, env={"PYTHONPATH": str(plugin)})
    assert code_ == 0 and report["assets"]["s"]["status"] == "generated" and "decided_again" not in report
    spec.write_text(spec.read_text().replace("prompt: z", "prompt: y"))
    # its own options are checked against the schema it declares; keys nobody declares are still refused
    spec.write_text("version: 1\nproviders:\n  shiny: {gloss: 11, shine: 1}\n" + body)
    result = render(spec, cwd=tmp_path, cache=cache, env={"PYTHONPATH": str(plugin)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "p.yaml:3:" in result.stderr and "'gloss' must be at most 10" in result.stderr
    assert "unknown key 'shine'" in result.stderr
    without_plugin = render("validate", spec, cwd=tmp_path, cache=cache).stderr
    assert "provider 'shiny': 'shiny' is not a known provider" in without_plugin and "Traceback" not in without_plugin
    spec.write_text("version: 1\n" + body)
    assert "unknown provider" in render("validate", spec, cwd=tmp_path, cache=cache).stderr


def test_a_job_already_completed_in_the_create_answer_is_fetched_without_polling(
    tmp_path: Path, cache: Path, sandbox
) -> None:
    server = sandbox()
    spec = remote_spec(tmp_path / "p.yaml", server.url, "song: {type: music, prompt: calm, duration: 5}")
    assert render(spec, cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    polls = len(requests_of(server, "poll"))
    shutil.rmtree(tmp_path / "out")
    (tmp_path / "p.lock").unlink()
    code, summary = render_json(spec, cwd=tmp_path, cache=tmp_path / "new-cache", env=KEYS)
    assert code == 0 and summary["assets"]["song"]["status"] == "generated"
    assert len(requests_of(server, "submit")) == 2 and len(requests_of(server, "poll")) == polls  # a server cache hit


def test_api_keys_never_land_anywhere(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(fail_prompts=["refused"])
    _reference_audio(tmp_path)
    spec = remote_spec(
        tmp_path / "p.yaml", server.url, ALL_TYPES + "\nbad: {type: music, prompt: refused, duration: 5}\n"
    )
    result = render(spec, "--json", "--keep-going", cwd=tmp_path, cache=cache, env={**KEYS, "RENDER_DEBUG": "1"})
    assert result.returncode == 1  # 'bad' fails: its error message is searched too
    assert "render debug: -> POST" in result.stderr and "Authorization: Bearer ***" in result.stderr
    dry = render(spec, "--dry-run", "-v", cwd=tmp_path, cache=cache, env=KEYS)
    missing = render(spec, cwd=tmp_path, cache=cache, env={"VARG_API_KEY": KEYS["VARG_API_KEY"]})
    texts = [result.stdout, result.stderr, dry.stdout, dry.stderr, missing.stdout, missing.stderr]
    secrets = [value.encode() for value in KEYS.values()]
    written = [p for folder in (tmp_path, cache) for p in folder.rglob("*") if p.is_file()]
    assert any(p.name == "p.lock" for p in written) and any(
        p.parent.name == "journal" or "index" in p.parts for p in written
    )
    for path in written:
        data = path.read_bytes()
        for secret in secrets:
            assert secret not in data, f"a key leaked into {path}"
    for text in texts:
        for secret in secrets:
            assert secret.decode() not in text


def test_the_sandbox_example_spec_renders_against_the_sandbox(tmp_path: Path, cache: Path, sandbox) -> None:
    root = Path(__file__).resolve().parents[2]
    server = sandbox(latency=0.2)
    shutil.copytree(
        root / "specs", tmp_path / "specs", ignore=shutil.ignore_patterns("out", "out-*", "*.lock", ".render")
    )
    spec = tmp_path / "specs" / "sandbox.yaml"
    text = spec.read_text().replace("http://127.0.0.1:8787", server.url)
    spec.write_text(
        text.replace("poll_interval: 2, max_poll_interval: 10", "poll_interval: 0.2, max_poll_interval: 0.5")
    )
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, summary
    assert summary["totals"]["generated"] == 7
    assert (tmp_path / "specs" / "out-sandbox" / "harbour.mp4").stat().st_size > 1000
    shutil.rmtree(tmp_path / "specs" / "out-sandbox")  # else the outputs the lockfile vouches for need no provider
    code, refused = render_json(spec, cwd=tmp_path, cache=tmp_path / "fresh", env={})
    assert code == 2 and refused["status"] == "error" and "VARG_API_KEY" in refused["message"]


def test_check_asks_the_provider_nothing(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(
        tmp_path / "p.yaml", server.url, "clip: {type: video, provider: varg2, model: kling-v3, prompt: x, duration: 5}"
    )
    result = render(spec, "--check", cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 1 and requests_of(server) == []
