from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.helpers import SMALL_PROJECT, write

# Hypothesis on a slow, loaded machine: no per-example deadline, no health check for slow data generation.
settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("ci")

E2E = Path(__file__).parent / "e2e"


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
