"""The shared remote cache (a shared folder): one machine pays, the others restore by content."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.helpers import KEYS, LONG_CAPTION, RENDER, remote_spec, render, render_json, requests_of

ASSETS = f"""
still: {{type: image, model: nano-banana, prompt: a harbour at dawn}}
theme: {{type: music, provider: vrex, prompt: "{LONG_CAPTION}", duration: 5}}
cut: {{type: compose, provider: local, clips: [still], audio: theme}}
"""


def machine(tmp_path: Path, name: str, url: str) -> Path:
    return remote_spec(tmp_path / name / "p.yaml", url, ASSETS)


def test_a_second_machine_restores_everything_from_the_remote_and_asks_no_provider(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    shared = tmp_path / "shared"
    shared.mkdir()
    a = machine(tmp_path, "a", server.url)
    code, made = render_json(a, "--remote", shared, cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS)
    assert code == 0 and made["totals"]["generated"] == 3, made
    assert len(list((shared / "records").iterdir())) == 3
    seen = len(requests_of(server))
    b = machine(tmp_path, "b", server.url)
    shutil.copyfile(a.parent / "p.lock", b.parent / "p.lock")  # the lockfile is committed; the media are not
    result = render(b, "--locked", "--remote", shared, cwd=b.parent, cache=tmp_path / "cache-b", env=KEYS)
    assert result.returncode == 0, result.stderr
    assert len(requests_of(server)) == seen  # not one request: every output came from the remote
    for name in ("still.png", "theme.mp3", "cut.mp4"):
        assert (a.parent / "out" / name).read_bytes() == (b.parent / "out" / name).read_bytes()
    assert (a.parent / "p.lock").read_bytes() == (b.parent / "p.lock").read_bytes()
    for path in shared.rglob("*"):
        for secret in KEYS.values():
            assert not path.is_file() or secret.encode() not in path.read_bytes()  # no key reaches the remote


def test_a_damaged_blob_is_refused_and_an_unreachable_remote_is_passed_over(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    shared = tmp_path / "shared"
    shared.mkdir()
    a = machine(tmp_path, "a", server.url)
    assert render(a, "--remote", shared, cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS).returncode == 0
    for blob in (shared / "blobs").glob("*/*"):
        blob.chmod(0o644)
        blob.write_bytes(b"tampered")
    b = machine(tmp_path, "b", server.url)
    shutil.copyfile(a.parent / "p.lock", b.parent / "p.lock")
    result = render(b, "--locked", "--remote", shared, cwd=b.parent, cache=tmp_path / "cache-b", env=KEYS)
    assert result.returncode == 1 and "damaged blob" in result.stderr and "Traceback" not in result.stderr
    assert not (b.parent / "out" / "theme.mp3").exists()  # never copied out
    gone = tmp_path / "no-such-remote"
    result = render(a, "--remote", gone, "--locked", cwd=a.parent, cache=tmp_path / "cache-c", env=KEYS)
    assert result.returncode == 1 and str(gone) in result.stderr
    (a.parent / "out" / "cut.mp4").unlink()  # some work to do, so the remote is asked for
    result = render(a, "--remote", gone, "-q", cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS)
    assert result.returncode == 0 and "rendering without the remote" in result.stderr


def test_a_read_only_remote_is_never_written(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    shared = tmp_path / "shared"
    shared.mkdir()
    a = machine(tmp_path, "a", server.url)
    a.write_text(a.read_text().replace("version: 1\n", f"version: 1\nremote: {{url: '{shared}', push: false}}\n", 1))
    assert render(a, cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS).returncode == 0
    assert list(shared.iterdir()) == []
    assert render(a, "--no-remote", "--check", cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS).returncode == 0


def test_an_s3_remote_serves_a_second_machine_and_holds_no_secret(tmp_path: Path, sandbox, s3_server) -> None:
    server = sandbox(vrex_limit=1000)
    env = {**KEYS, **s3_server["env"]}
    a = machine(tmp_path, "a", server.url)
    code, made = render_json(a, "--remote", s3_server["url"], cwd=a.parent, cache=tmp_path / "cache-a", env=env)
    assert code == 0 and made["totals"]["generated"] == 3, made
    seen = len(requests_of(server))
    b = machine(tmp_path, "b", server.url)
    shutil.copyfile(a.parent / "p.lock", b.parent / "p.lock")
    result = render(b, "--locked", "--remote", s3_server["url"], cwd=b.parent, cache=tmp_path / "cache-b", env=env)
    assert result.returncode == 0, result.stderr
    assert len(requests_of(server)) == seen
    for name in ("still.png", "theme.mp3", "cut.mp4"):
        assert (a.parent / "out" / name).read_bytes() == (b.parent / "out" / name).read_bytes()
    client = s3_server["client"]
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_server["bucket"])["Contents"]]
    assert (
        sum(k.startswith("cache/records/") for k in keys) == 3 and sum(k.startswith("cache/blobs/") for k in keys) == 3
    )
    for key in keys:  # no API key (of a provider or of the bucket) reaches the remote
        body = client.get_object(Bucket=s3_server["bucket"], Key=key)["Body"].read()
        for secret in [*KEYS.values(), env["AWS_SECRET_ACCESS_KEY"]]:
            assert secret.encode() not in body, key


def test_an_unreachable_s3_endpoint_is_one_clear_message(tmp_path: Path, sandbox, s3_server) -> None:
    server = sandbox(vrex_limit=1000)
    a = machine(tmp_path, "a", server.url)
    env = {**KEYS, **s3_server["env"], "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}  # nothing listens there
    result = render(
        a, "--locked", "--remote", s3_server["url"], cwd=a.parent, cache=tmp_path / "c", env=env, timeout=300
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert s3_server["url"] in result.stderr and "AWS_ENDPOINT_URL" in result.stderr


def test_push_and_pull_move_every_locked_output_once(tmp_path: Path, sandbox, s3_server) -> None:
    server = sandbox(vrex_limit=1000)
    env = {**KEYS, **s3_server["env"]}
    a = machine(tmp_path, "a", server.url)
    assert render(a, cwd=a.parent, cache=tmp_path / "cache-a", env=env).returncode == 0  # no remote yet
    pushed = render("push", a, "--remote", s3_server["url"], cwd=a.parent, cache=tmp_path / "cache-a", env=env)
    assert pushed.returncode == 0 and "pushed 3, 0 already in the remote, 0 missing" in pushed.stdout, pushed.stderr
    assert "[1/3] pushed" in pushed.stdout and "[3/3] pushed" in pushed.stdout  # progress, counted as they end
    again = render("push", a, "--remote", s3_server["url"], cwd=a.parent, cache=tmp_path / "cache-a", env=env)
    assert "pushed 0, 3 already in the remote" in again.stdout  # idempotent
    b = machine(tmp_path, "b", server.url)
    shutil.copyfile(a.parent / "p.lock", b.parent / "p.lock")
    pulled = render("pull", b, "--remote", s3_server["url"], cwd=b.parent, cache=tmp_path / "cache-b", env=env)
    assert pulled.returncode == 0 and "pulled 3, 0 already here, 0 missing" in pulled.stdout, pulled.stderr
    for name in ("still.png", "theme.mp3", "cut.mp4"):
        assert (a.parent / "out" / name).read_bytes() == (b.parent / "out" / name).read_bytes()
    assert (
        "pulled 0, 3 already here"
        in render("pull", b, "--remote", s3_server["url"], cwd=b.parent, cache=tmp_path / "cache-b", env=env).stdout
    )
    assert render(b, "--check", cwd=b.parent, cache=tmp_path / "cache-b", env=env).returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = render("pull", b, "--remote", empty, cwd=b.parent, cache=tmp_path / "cache-c", env=env)
    assert missing.returncode == 1 and "3 missing" in missing.stdout


def test_a_record_without_its_blob_fails_locked_naming_the_asset_and_the_remote(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    shared = tmp_path / "shared"
    shared.mkdir()
    a = machine(tmp_path, "a", server.url)
    assert render(a, "--remote", shared, cwd=a.parent, cache=tmp_path / "cache-a", env=KEYS).returncode == 0
    shutil.rmtree(shared / "blobs")
    b = machine(tmp_path, "b", server.url)
    shutil.copyfile(a.parent / "p.lock", b.parent / "p.lock")
    result = render(b, "--locked", "-k", "--remote", shared, cwd=b.parent, cache=tmp_path / "cache-b", env=KEYS)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"asset 'theme' failed: the output is not in the cache or the remote {shared}" in result.stderr


def test_wrong_s3_credentials_are_one_clear_message_and_a_render_goes_on(tmp_path: Path, sandbox) -> None:
    server = sandbox(vrex_limit=1000)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # moto checks credentials only when told to: from the first request on, here
    strict = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env={**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "moto's server did not start"
                time.sleep(0.1)
        env = {
            **KEYS,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "AKIANOTAREALKEY00000",
            "AWS_SECRET_ACCESS_KEY": "not-the-secret-of-anyone",
            "AWS_REGION": "us-east-1",
        }
        a = machine(tmp_path, "a", server.url)
        url = "s3://render-team/cache"
        result = render(a, "--locked", "--remote", url, cwd=a.parent, cache=tmp_path / "c", env=env, timeout=300)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert url in result.stderr and "AWS_ACCESS_KEY_ID" in result.stderr and "refused" in result.stderr
        assert env["AWS_SECRET_ACCESS_KEY"] not in result.stderr
        result = render(a, "--remote", url, "-q", cwd=a.parent, cache=tmp_path / "c", env=env, timeout=300)
        assert result.returncode == 0 and "rendering without the remote" in result.stderr, result.stderr
    finally:
        strict.terminate()
        strict.wait(timeout=30)


def test_a_remote_that_goes_away_mid_run_is_passed_over_and_nothing_is_lost(tmp_path: Path, sandbox, s3_server) -> None:
    server = sandbox(vrex_limit=1000, latency=0.5)
    env = {**KEYS, **s3_server["env"]}
    stills = "\n".join(f"still{n}: {{type: image, model: nano-banana, prompt: harbour number {n}}}" for n in range(4))
    a = remote_spec(tmp_path / "a" / "p.yaml", server.url, stills)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    environ.update({"RENDER_CACHE_DIR": str(tmp_path / "cache-a"), **env})
    process = subprocess.Popen(
        [RENDER, str(a), "--remote", s3_server["url"], "--jobs", "1", "--json"],
        cwd=a.parent,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client, bucket = s3_server["client"], s3_server["bucket"]
    deadline = time.monotonic() + 90
    while not client.list_objects_v2(Bucket=bucket, Prefix="cache/records/").get("Contents"):
        assert time.monotonic() < deadline and process.poll() is None, "no record was pushed"
        time.sleep(0.05)
    s3_server["server"].stop()  # the first output is in; the remote goes away for the rest
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "stopped answering" in err and "Traceback" not in err
    made = json.loads(out)
    assert made["totals"]["generated"] == 4
    for n in range(4):
        assert (a.parent / "out" / f"still{n}.png").stat().st_size > 0
    assert len(requests_of(server, "created")) == 4  # nothing paid twice for the remote's sake
