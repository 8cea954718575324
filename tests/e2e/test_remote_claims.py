"""Claims on the remote: two machines that render the same new spec at once pay for each job once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import KEYS, LONG_CAPTION, RENDER, read_lock, remote_spec, render, requests_of

ASSETS = f"""
still: {{type: image, model: nano-banana, prompt: a lighthouse in fog}}
theme: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
cut: {{type: compose, provider: local, clips: [still], audio: theme}}
"""
PAID = ("a lighthouse in fog", LONG_CAPTION)


def machine(tmp_path: Path, name: str, url: str) -> Path:
    return remote_spec(tmp_path / name / "p.yaml", url, ASSETS)


def start(spec: Path, remote: str, cache: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    environ.update({"RENDER_CACHE_DIR": str(cache), **env})
    return subprocess.Popen(
        [RENDER, str(spec), "--remote", remote, "--json", *extra],
        cwd=spec.parent,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, json.loads(out) if out.strip() else {}, err


def submits(server: Any) -> dict[str, int]:
    """How many jobs the sandbox created for each paid prompt."""
    created = [e for e in requests_of(server, "created")]
    return {prompt: sum(1 for e in created if prompt[:40] in str(e.get("prompt", ""))) for prompt in PAID}


@pytest.fixture(params=["folder", "s3"])
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, dict[str, str]]:
    if request.param == "folder":
        shared = tmp_path / "shared"
        shared.mkdir()
        return str(shared), {}
    s3 = request.getfixturevalue("s3_server")
    return s3["url"], s3["env"]


def test_two_machines_starting_together_pay_for_each_job_once(tmp_path: Path, sandbox, remote) -> None:
    url, remote_env = remote
    server = sandbox(vrex_limit=1000, latency=1.5)
    env = {**KEYS, **remote_env}
    a, b = machine(tmp_path, "a", server.url), machine(tmp_path, "b", server.url)
    first = start(a, url, tmp_path / "cache-a", env)
    second = start(b, url, tmp_path / "cache-b", env)
    (code_a, made_a, err_a), (code_b, made_b, err_b) = finish(first), finish(second)
    assert code_a == 0 and code_b == 0, (err_a, err_b)
    assert submits(server) == {prompt: 1 for prompt in PAID}
    statuses = sorted(made["assets"]["still"]["status"] for made in (made_a, made_b))
    assert statuses == ["cached", "generated"]  # one made it, the other waited for it
    assert (a.parent / "p.lock").read_bytes() == (b.parent / "p.lock").read_bytes()
    for name in ("still.png", "theme.mp3", "cut.mp4"):
        assert (a.parent / "out" / name).read_bytes() == (b.parent / "out" / name).read_bytes()
    assert claims_in(url, remote_env) == []  # every claim went once its record was in


def s3_of(url: str, env: dict[str, str]) -> tuple[Any, str, str]:
    """A boto3 client for the S3 remote at ``url``, its bucket and its prefix."""
    import boto3

    bucket, prefix = url[5:].split("/", 1)
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_REGION"],
    )
    return client, bucket, prefix


def claims_in(url: str, env: dict[str, str]) -> list[str]:
    if not url.startswith("s3://"):
        folder = Path(url) / "claims"
        return sorted(p.name for p in folder.glob("*.json")) if folder.exists() else []
    client, bucket, prefix = s3_of(url, env)
    listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/claims/")
    return sorted(item["Key"] for item in listed.get("Contents", []))


def read_claims(url: str, env: dict[str, str]) -> list[dict[str, Any]]:
    if not url.startswith("s3://"):
        return [json.loads(p.read_bytes()) for p in (Path(url) / "claims").glob("*.json")]
    client, bucket, _ = s3_of(url, env)
    return [json.loads(client.get_object(Bucket=bucket, Key=key)["Body"].read()) for key in claims_in(url, env)]


def test_a_machine_killed_after_its_submit_is_taken_over_and_its_jobs_collected(
    tmp_path: Path, sandbox, remote
) -> None:
    url, remote_env = remote
    server = sandbox(vrex_limit=1000, latency=3)
    env = {**KEYS, **remote_env}
    a, b = machine(tmp_path, "a", server.url), machine(tmp_path, "b", server.url)
    first = start(a, url, tmp_path / "cache-a", env)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # until both paid jobs are submitted and their ids are in the claims
        claims = read_claims(url, remote_env)
        if len(claims) == 2 and all(c.get("job_id") for c in claims):
            break
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    else:
        pytest.fail("machine A never claimed both jobs")
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    second = start(b, url, tmp_path / "cache-b", {**env, "RENDER_CLAIM_TIMEOUT": "1"})
    code, made, err = finish(second)
    assert code == 0, err
    assert "took over the claim" in err
    assert submits(server) == {prompt: 1 for prompt in PAID}  # B collected A's jobs: nothing paid twice
    assert made["assets"]["still"]["status"] == "generated"
    job_ids = {c["job_id"] for c in claims}
    assert {entry["job_id"] for name, entry in read_lock(b.parent / "p.lock")["assets"].items() if name != "cut"} == (
        job_ids
    )
    assert claims_in(url, remote_env) == []


def test_a_claim_whose_submit_went_unanswered_makes_the_taker_wait_until_resolved(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000, fault_rate=1.0, fault_kinds=["created-drop"], fault_on=["submit"])
    shared = tmp_path / "shared"
    shared.mkdir()
    spec_text = "still: {type: image, model: nano-banana, prompt: a lighthouse in fog}"
    a = remote_spec(tmp_path / "a" / "p.yaml", server.url, spec_text)
    b = remote_spec(tmp_path / "b" / "p.yaml", server.url, spec_text)
    code, made, _ = finish(start(a, str(shared), tmp_path / "cache-a", KEYS))
    assert code == 1 and made["assets"]["still"]["status"] == "waiting"  # the job was made; its answer lost
    assert [c.get("sent") for c in read_claims(str(shared), {})] == [True]  # kept for whoever comes next
    server.sandbox.config.fault_rate = 0.0
    fast = {**KEYS, "RENDER_CLAIM_TIMEOUT": "1"}
    code, made, err = finish(start(b, str(shared), tmp_path / "cache-b", fast))
    assert code == 1 and made["assets"]["still"]["status"] == "waiting", err  # B will not pay blindly either
    assert "took over the claim" in err and len(requests_of(server, "created")) == 1
    job = requests_of(server, "created")[0]["job"]
    environ = {**fast, "RENDER_REMOTE": str(shared)}
    result = render("resolve", b, "still", "--job-id", job, cwd=b.parent, cache=tmp_path / "cache-b", env=environ)
    assert result.returncode == 0, result.stderr
    assert [c.get("job_id") for c in read_claims(str(shared), {})] == [job]  # every machine now knows the job
    code, made, err = finish(start(b, str(shared), tmp_path / "cache-b", fast))
    assert code == 0 and made["assets"]["still"]["status"] == "generated", err
    assert len(requests_of(server, "created")) == 1 and claims_in(str(shared), {}) == []
    assert read_lock(b.parent / "p.lock")["assets"]["still"]["job_id"] == job
