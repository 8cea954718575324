from __future__ import annotations

import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import SMALL_PROJECT, write

# Hypothesis on a slow, loaded machine: no per-example deadline, no health check for slow data generation.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

E2E = Path(__file__).parent / "e2e"

# Tests send Ctrl-C to render. Started in the background of a shell without job control, or by a runner that
# ignores SIGINT, the suite would pass the ignoring on to every render it starts, which would then, as it
# should, ignore Ctrl-C (and run to its end). Render's own children get the default disposition back.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Everything under tests/e2e runs the real command or real servers: marked e2e, so that
    ``pytest -m "not e2e"`` is the fast unit run. Full-size sweeps (the fault campaign's, the 500-asset
    soak) run only when asked for: ``pytest -m full``."""
    expression = config.getoption("markexpr") or ""
    full = "full" in expression and "not full" not in expression
    for item in items:
        if item.path.is_relative_to(E2E):
            item.add_marker(pytest.mark.e2e)
        if item.get_closest_marker("full") is not None and not full:
            item.add_marker(pytest.mark.skip(reason="a full-size sweep: runs with pytest -m full"))


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A small project (image -> video -> compose with music) in its own directory."""
    return write(tmp_path / "proj" / "project.yaml", SMALL_PROJECT)


@pytest.fixture
def sandbox():  # type: ignore[no-untyped-def]
    """Start sandbox servers on free loopback ports: ``sandbox(latency=0.3, fault_rate=...)``."""
    from renderer.sandbox.server import SandboxConfig, serve

    servers = []

    def start(**config):  # type: ignore[no-untyped-def]
        server = serve("127.0.0.1", 0, SandboxConfig(**{"latency": 0.3, **config}))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def s3_server():  # type: ignore[no-untyped-def]
    """A real S3-compatible server (moto's server mode) on 127.0.0.1 with an empty bucket; yields the
    environment a render needs to use ``s3://render-test/<prefix>``, and a boto3 client to look inside."""
    import threading
    import uuid

    import boto3
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    # S3 applies If-None-Match / If-Match atomically; moto checks, then writes, in one of many threads. One
    # lock around its PUT makes the test server as atomic as the real one (the claim race test needs it).
    if not getattr(S3Response.put_object, "_render_atomic", False):
        unlocked, lock = S3Response.put_object, threading.Lock()

        def put_object(self):  # type: ignore[no-untyped-def]
            with lock:
                return unlocked(self)

        put_object._render_atomic = True  # type: ignore[attr-defined]
        S3Response.put_object = put_object  # type: ignore[method-assign]

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "render-test-key",
        "AWS_SECRET_ACCESS_KEY": "render-test-secret",
        "AWS_REGION": "us-east-1",
    }
    bucket = f"render-test-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    yield {"env": env, "url": f"s3://{bucket}/cache", "bucket": bucket, "client": client, "server": server}
    server.stop()
