"""The engine in process, with a fake paid provider plugged into the provider registry."""

from __future__ import annotations

import io
from pathlib import Path

import anyio
import pytest

from renderer.engine.run import RenderOptions, Run, run_project
from renderer.providers import registry
from renderer.report import PlainReporter
from renderer.spec.resolve import load_project
from tests.fakes.providers import FakePaidProvider
from tests.helpers import write


@pytest.fixture(autouse=True)
def fake_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BUILTIN, "fake", "tests.fakes.providers:FakePaidProvider")
    registry.provider_class.cache_clear()
    FakePaidProvider.reset()
    yield
    registry.provider_class.cache_clear()


def spec_with(tmp_path: Path, n: int, provider_block: str = "{poll_interval: 0.01}") -> Path:
    assets = "\n".join(f"  a{i}: {{type: image, prompt: picture {i}, provider: fake}}" for i in range(n))
    return write(tmp_path / "p.yaml", f"version: 1\nproviders:\n  fake: {provider_block}\nassets:\n{assets}\n")


def render(spec: Path, cache: Path, **options: object):
    project = load_project(spec, spec.name)
    reporter = PlainReporter(io.StringIO(), quiet=True)
    return run_project(project, RenderOptions(cache_dir=cache, **options), reporter, spec.read_bytes())


def test_per_provider_max_concurrency_bounds_running_jobs(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, 8, "{poll_interval: 0.01, max_concurrency: 2}")
    result = render(spec, tmp_path / "c", jobs=8)
    assert result.count("generated") == 8
    assert FakePaidProvider.peak == 2


def test_jobs_option_bounds_all_providers(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, 9, "{poll_interval: 0.01, max_concurrency: 50}")
    render(spec, tmp_path / "c", jobs=3)
    assert FakePaidProvider.peak == 3


def test_a_rerun_sends_no_request(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, 3)
    render(spec, tmp_path / "c")
    calls = len(FakePaidProvider.calls)
    result = render(spec, tmp_path / "c")
    assert result.count("cached") == 3 and len(FakePaidProvider.calls) == calls


def test_cost_and_resolved_model_reach_lockfile_and_plan(tmp_path: Path) -> None:
    import yaml

    spec = spec_with(tmp_path, 1)
    plan = render(spec, tmp_path / "c", mode="plan")
    assert plan.outcomes["a0"].cost_usd == 0.25 and FakePaidProvider.count("submit") == 0
    render(spec, tmp_path / "c")
    entry = yaml.safe_load((tmp_path / "p.lock").read_text())["assets"]["a0"]
    assert entry["cost_usd"] == 0.25 and entry["resolved_model"] == "fake:m1" and entry["job_id"].startswith("job")


def test_an_interrupted_run_resumes_the_submitted_job_instead_of_paying_again(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, 1)
    FakePaidProvider.latency = 0.5
    try:
        project = load_project(spec, spec.name)
        reporter = PlainReporter(io.StringIO(), quiet=True)
        run = Run(project, RenderOptions(cache_dir=tmp_path / "c"), reporter, spec.read_bytes())

        async def interrupted() -> None:
            with anyio.move_on_after(0.1):  # stands in for Ctrl-C while the job is being polled
                await run.render()

        anyio.run(interrupted)
        assert FakePaidProvider.count("submit") == 1
        assert len(list((tmp_path / ".render" / "journal").iterdir())) == 1
        result = render(spec, tmp_path / "c")
        assert result.count("generated") == 1
        assert FakePaidProvider.count("submit") == 1  # resumed, not paid for twice
        assert not list((tmp_path / ".render" / "journal").iterdir())
    finally:
        FakePaidProvider.latency = 0.05


def test_a_failed_job_names_the_provider_code_and_clears_the_journal(tmp_path: Path) -> None:
    spec = spec_with(tmp_path, 2)
    FakePaidProvider.fail_prompts = {"picture 1"}
    result = render(spec, tmp_path / "c", keep_going=True)
    assert result.outcomes["a1"].status == "failed"
    assert result.outcomes["a1"].error == "fake refused the job: PROMPT_FILTER_REJECTED: not allowed"
    assert result.outcomes["a0"].status == "generated"
    assert not list((tmp_path / ".render" / "journal").iterdir())


def test_longest_chain_starts_first(tmp_path: Path) -> None:
    chain = "\n".join(
        f"  c{i}: {{type: image, prompt: c{i}, provider: fake{f', inputs: [c{i - 1}]' if i else ''}}}" for i in range(4)
    )
    singles = "\n".join(f"  s{i}: {{type: image, prompt: s{i}, provider: fake}}" for i in range(4))
    spec = write(
        tmp_path / "p.yaml",
        f"version: 1\nproviders:\n  fake: {{poll_interval: 0.01, max_concurrency: 1}}\nassets:\n{singles}\n{chain}\n",
    )
    render(spec, tmp_path / "c")
    submits = [asset for call, asset in FakePaidProvider.calls if call == "submit"]
    assert submits[0] == "c0"


def test_the_executor_is_a_seam_the_engine_does_not_see_past(tmp_path: Path) -> None:
    from tests.fakes.executors import RecordingExecutor

    spec = spec_with(tmp_path, 3)
    project = load_project(spec, spec.name)
    executor = RecordingExecutor(tmp_path)
    result = run_project(
        project,
        RenderOptions(cache_dir=tmp_path / "c"),
        PlainReporter(io.StringIO(), quiet=True),
        spec.read_bytes(),
        executor=executor,
    )
    assert result.count("generated") == 3 and FakePaidProvider.count("submit") == 0
    assert sorted(task.request.asset for task in executor.tasks) == ["a0", "a1", "a2"]
    assert (tmp_path / "out" / "a0.png").read_bytes().startswith(b"\x89PNG")


def test_plan_and_check_share_the_walk_and_see_what_is_cached(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "p.yaml",
        "version: 1\nproviders:\n  fake: {poll_interval: 0.01}\nassets:\n"
        "  a: {type: image, prompt: one, provider: fake}\n"
        "  b: {type: image, prompt: two, provider: fake, inputs: [a]}\n",
    )
    plan = render(spec, tmp_path / "c", mode="plan")
    assert [(o.name, o.status, o.cost_usd) for o in plan.outcomes.values()] == [
        ("a", "generate", 0.25),
        ("b", "generate", None),
    ]
    assert plan.outcomes["b"].error == "after its inputs are made"
    render(spec, tmp_path / "c")
    check = render(spec, tmp_path / "c", mode="check")
    assert {o.status for o in check.outcomes.values()} == {"cached"} and check.lock_current
    assert FakePaidProvider.count("submit") == 2
