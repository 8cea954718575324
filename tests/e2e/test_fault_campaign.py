"""The fault campaign: every fault of issue 9's table, injected against the real command and the sandbox.

Each test asserts the three promises: no paid job is submitted twice (the sandbox logs every job it
creates, with the prompt it was made from), no wrong output is served, and no traceback. The default sweep
is small enough for CI; ``pytest -m full`` runs the full one.
"""

from __future__ import annotations

import collections
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import KEYS, LONG_CAPTION, RENDER, remote_spec, render, render_json, requests_of


def created_jobs(server: Any) -> list[dict[str, Any]]:
    return requests_of(server, "created")


def assert_no_duplicates(server: Any) -> None:
    counts = collections.Counter(entry["fingerprint"] for entry in created_jobs(server))
    duplicates = {f: n for f, n in counts.items() if n > 1}
    assert not duplicates, f"paid jobs submitted twice: {duplicates}"


def assert_clean(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def job_for(server: Any, prompt_part: str) -> str:
    (entry,) = [e for e in created_jobs(server) if prompt_part in e["prompt"]]
    return str(entry["job"])


def env_with(cache: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    return {**environ, **KEYS, "RENDER_CACHE_DIR": str(cache)}


def two_paid_songs(path: Path, url: str, tag: str = "") -> Path:
    return remote_spec(
        path,
        url,
        f"""
        v1song: {{type: music, prompt: "calm piano {tag}", duration: 5}}
        vrexsong: {{type: music, provider: vrex, prompt: "{LONG_CAPTION} {tag}", duration: 5}}
    """,
    )


@pytest.mark.parametrize("fault", ["created-504", "created-502", "created-500", "created-drop", "created-malformed"])
def test_a_job_created_and_then_answered_badly_is_paid_once_and_collected_after_resolve(
    tmp_path: Path, cache: Path, sandbox, fault: str
) -> None:
    server = sandbox(fault_rate=1.0, fault_kinds=[fault], fault_on=["submit"], vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    for _ in range(2):  # a plain second run must not send it again either
        code, summary = render_json(spec, "-k", cwd=tmp_path, cache=cache, env=KEYS)
        assert code == 1 and summary["totals"]["waiting"] == 2, summary
        assert len(created_jobs(server)) == 2
    server.sandbox.config.fault_rate = 0.0
    for asset, prompt in (("v1song", "calm piano"), ("vrexsong", LONG_CAPTION)):
        result = render("resolve", spec, asset, "--job-id", job_for(server, prompt), cwd=tmp_path, cache=cache)
        assert result.returncode == 0 and "the next render collects it" in result.stdout
    result = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert_clean(result)
    assert result.returncode == 0 and "2 generated" in result.stdout, result.stderr
    assert len(created_jobs(server)) == 2
    assert_no_duplicates(server)


def test_varg_v2_finds_a_job_whose_answer_was_lost_by_its_idempotency_key(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(fault_rate=1.0, fault_kinds=["created-504"], fault_on=["submit"])
    spec = remote_spec(
        tmp_path / "p.yaml", server.url, "big: {type: music, provider: varg2, prompt: calm, duration: 5}"
    )
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    # every retry with the same key answers with the job the first one made (or a 504 again): one job
    assert len(created_jobs(server)) == 1
    if code != 0:  # all retries met the fault: the job waits, and the next run finds it by itself
        assert summary["assets"]["big"]["status"] == "waiting"
        server.sandbox.config.fault_rate = 0.0
        code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and summary["assets"]["big"]["status"] == "generated"
    assert_no_duplicates(server)


def kill_right_after_a_job_is_created(trials: int, tmp_path: Path, sandbox) -> None:  # type: ignore[no-untyped-def]
    server = sandbox(latency=0.6, vrex_limit=1000)
    rng = random.Random(11)
    for trial in range(trials):
        root = tmp_path / f"t{trial}"
        cache = root / "cache"
        spec = two_paid_songs(root / "p.yaml", server.url, tag=f"take {trial}")
        before = len(created_jobs(server))
        process = subprocess.Popen(
            [RENDER, str(spec), "-q"], cwd=root, env=env_with(cache), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + 30
        while len(created_jobs(server)) == before and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.3))
        process.kill()
        process.wait(timeout=10)
        result = render(spec, cwd=root, cache=cache, env=KEYS)
        assert_clean(result)
        assert_no_duplicates(server)
        if result.returncode != 0:  # killed with a request in flight: it waits; the user settles it
            assert "waits" in result.stderr, result.stderr
            for asset, prompt in (("v1song", f"calm piano take {trial}"), ("vrexsong", f"take {trial}")):
                made = [e for e in created_jobs(server) if e["prompt"].endswith(prompt)]
                if made:
                    render("resolve", spec, asset, "--job-id", made[0]["job"], cwd=root, cache=cache)
                else:
                    render("resolve", spec, asset, "--resubmit", cwd=root, cache=cache)
            result = render(spec, cwd=root, cache=cache, env=KEYS)
            assert result.returncode == 0, result.stderr
        assert_no_duplicates(server)


def test_kill_9_just_after_a_job_is_created_never_pays_twice(tmp_path: Path, sandbox) -> None:
    kill_right_after_a_job_is_created(3, tmp_path, sandbox)


@pytest.mark.full
def test_kill_9_just_after_a_job_is_created_full_sweep(tmp_path: Path, sandbox) -> None:
    kill_right_after_a_job_is_created(10, tmp_path, sandbox)


def test_sigterm_stops_like_ctrl_c_and_the_next_run_pays_nothing_again(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=2.0, vrex_limit=1000)
    spec = remote_spec(
        tmp_path / "p.yaml",
        server.url,
        f"""
        v1song: {{type: music, prompt: calm piano, duration: 5}}
        vrexsong: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
        slow: {{type: video, provider: local, prompt: a long slow pan, duration: 20, fps: 24, width: 640}}
    """,
    )
    process = subprocess.Popen(
        [RENDER, str(spec)],
        cwd=tmp_path,
        env=env_with(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    journal = tmp_path / ".render" / "journal"
    deadline = time.monotonic() + 60
    while sum("job_id" in p.read_text() for p in journal.glob("*.json")) < 2:
        assert time.monotonic() < deadline and process.poll() is None, "the jobs were never journaled"
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143 and "terminated" in stderr and "Traceback" not in stderr
    orphans = subprocess.run(["pgrep", "-f", str(cache)], capture_output=True, text=True).stdout.split()
    assert orphans == []  # no ffmpeg child left running on its own
    code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS, timeout=300)
    assert code == 0 and summary["totals"]["generated"] == 3, summary
    assert len(created_jobs(server)) == 2
    assert_no_duplicates(server)


def test_deleting_the_cache_during_a_render_forgets_no_paid_job(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(latency=1.5, vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    process = subprocess.Popen(
        [RENDER, str(spec), "-q"], cwd=tmp_path, env=env_with(cache), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 30
    while len(created_jobs(server)) < 2:
        assert time.monotonic() < deadline, "no jobs were created"
        time.sleep(0.02)
    shutil.rmtree(cache, ignore_errors=True)
    process.communicate(timeout=120)
    shutil.rmtree(cache, ignore_errors=True)  # and once more after it ended
    for _ in range(2):
        result = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
        assert_clean(result)
        assert result.returncode == 0, result.stderr
    assert len(created_jobs(server)) == 2
    assert_no_duplicates(server)


def test_a_lost_or_damaged_cache_index_is_rebuilt_from_the_blobs(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    assert render(spec, cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    for damage in ("lost", "damaged"):
        shutil.rmtree(cache / "state", ignore_errors=True)  # no no-op shortcut: the full path must cope
        shutil.rmtree(tmp_path / "out")
        if damage == "lost":
            shutil.rmtree(cache / "index")
        else:
            (cache / "index" / "cache.db").write_bytes(b"this is not a database" * 100)
        for args in (["--dry-run"], ["--check"]):
            result = render(spec, *args, cwd=tmp_path, cache=cache, env=KEYS)
            assert_clean(result)
            assert result.returncode == 0, result.stdout + result.stderr
        code, summary = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
        assert code == 0 and summary["totals"] == {"generated": 0, "cached": 2, "failed": 0, "skipped": 0}
    assert len(created_jobs(server)) == 2


def test_two_cache_directories_for_one_project_take_turns(tmp_path: Path, sandbox) -> None:
    server = sandbox(latency=1.0, vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    processes = [
        subprocess.Popen(
            [RENDER, str(spec), "-q"],
            cwd=tmp_path,
            env=env_with(tmp_path / name),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("cache-a", "cache-b")
    ]
    results = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], results
    assert any("another render of" in err for _, err in results)
    assert len(created_jobs(server)) == 2
    assert_no_duplicates(server)


def test_a_journal_that_cannot_be_written_sends_nothing(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    (tmp_path / ".render").mkdir()
    (tmp_path / ".render" / "journal").write_text("a file where the journal's folder belongs")
    code, summary = render_json(spec, "-k", cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 1
    for name in ("v1song", "vrexsong"):
        assert "cannot write the journal" in summary["assets"][name]["error"]
        assert "nothing was sent" in summary["assets"][name]["error"]
    assert created_jobs(server) == []


def test_an_input_replaced_during_the_render_never_caches_a_wrong_output(tmp_path: Path, cache: Path, sandbox) -> None:
    import numpy as np
    from PIL import Image

    server = sandbox(latency=8.0)  # `slow` holds the one slot for 8 s, using no CPU
    root = tmp_path / "proj"
    (root / "refs").mkdir(parents=True)
    Image.fromarray(np.full((48, 64, 3), 40, np.uint8)).save(root / "refs" / "a.png")
    old = (root / "refs" / "a.png").read_bytes()
    Image.fromarray(np.full((48, 64, 3), 220, np.uint8)).save(root / "new.png")
    spec = remote_spec(
        root / "p.yaml",
        server.url,
        """
        slow: {type: music, prompt: a long slow theme, duration: 5}
        after: {type: music, prompt: then, duration: 5, provider: local, inputs: [slow]}
        big: {type: upscale, provider: local, inputs: [refs/a.png], scale: 2}
        """,
    )
    process = subprocess.Popen(
        [RENDER, str(spec), "-v", "-j", "1", "-k"],
        cwd=root,
        env=env_with(cache),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:  # `big` hashes its input at the start, then waits for the one slot
        if "start" in line and "slow" in line:
            break
    time.sleep(2.0)  # margins both ways: hashing one small file takes milliseconds; `slow` has 6 s more
    shutil.copyfile(root / "new.png", root / "refs" / "a.png")  # replaced while `slow` runs
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 1 and "changed while render ran" in stderr and "Traceback" not in stderr
    (root / "refs" / "a.png").write_bytes(old)  # put back: the key is the old one's again
    assert render(spec, "--check", cwd=root, cache=cache, env=KEYS).returncode == 1  # `big` is not made yet
    assert render(spec, cwd=root, cache=cache, env=KEYS).returncode == 0
    made_from_old = (root / "out" / "big.png").read_bytes()
    shutil.copyfile(root / "new.png", root / "refs" / "a.png")
    assert render(spec, cwd=root, cache=cache, env=KEYS).returncode == 0
    assert (root / "out" / "big.png").read_bytes() != made_from_old  # each file its own output
    (root / "refs" / "a.png").write_bytes(old)
    assert render(spec, cwd=root, cache=cache, env=KEYS).returncode == 0
    assert (root / "out" / "big.png").read_bytes() == made_from_old


def test_an_error_that_echoes_the_key_never_shows_it(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(fault_rate=1.0, fault_kinds=["echo"], fault_on=["submit"], vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    result = render(spec, "-k", "--json", cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 1 and "rejected request with Authorization" in result.stdout
    for secret in KEYS.values():
        assert secret not in result.stdout + result.stderr
        for path in tmp_path.rglob("*"):
            assert not path.is_file() or secret.encode() not in path.read_bytes(), path
    assert created_jobs(server) == []


def test_resubmit_and_forget_let_the_next_render_send_again(tmp_path: Path, cache: Path, sandbox) -> None:
    server = sandbox(fault_rate=1.0, fault_kinds=["created-504"], fault_on=["submit"], vrex_limit=1000)
    spec = two_paid_songs(tmp_path / "p.yaml", server.url)
    assert render(spec, "-k", cwd=tmp_path, cache=cache, env=KEYS).returncode == 1
    plan = render(spec, "--dry-run", cwd=tmp_path, cache=cache, env=KEYS)
    assert plan.stdout.count("waits:") == 2  # a plan says so too
    server.sandbox.config.fault_rate = 0.0
    assert render("resolve", spec, "v1song", "--resubmit", cwd=tmp_path, cache=cache).returncode == 0
    assert render("resolve", spec, "vrexsong", "--forget", cwd=tmp_path, cache=cache).returncode == 0
    assert "no paid jobs" in render("resolve", spec, cwd=tmp_path, cache=cache).stdout
    result = render(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert result.returncode == 0 and "2 generated" in result.stdout
    assert len(created_jobs(server)) == 4  # sent again on the user's word: the lost ones are theirs to cancel
