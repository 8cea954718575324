"""The Dask executor's pieces that need no cluster: where jobs run, what it refuses, what a worker runs."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from renderer.engine.distributed import DaskExecutor, NoWorkers, _cluster_failure, run_on_worker
from renderer.engine.executor import GenerateTask, LocalExecutor
from renderer.engine.journal import Journal
from renderer.engine.pool import ProviderPool
from renderer.engine.results import ExecutorChoice
from renderer.errors import SetupError
from renderer.providers.base import JobRequest, ProviderContext
from renderer.spec.model import ProviderSettings
from renderer.store.atomic import sha256_file
from renderer.store.remote import DirectoryRemote


@pytest.mark.parametrize(
    ("text", "kind", "address"),
    [
        ("local", "local", ""),
        ("dask", "cluster", ""),
        ("dask://10.0.0.5:8786", "scheduler", "tcp://10.0.0.5:8786"),
        ("tcp://sched:8786", "scheduler", "tcp://sched:8786"),
        ("tls://sched:8786", "scheduler", "tls://sched:8786"),
    ],
)
def test_where_jobs_run_is_read_from_one_word_or_an_address(text: str, kind: str, address: str) -> None:
    choice = ExecutorChoice.parse(text)
    assert (choice.kind, choice.address) == (kind, address)
    assert choice.shared_cache is (kind == "cluster")  # a cluster on this machine shares its folders


@pytest.mark.parametrize("text", ["ssh://x", "dask://", "kubernetes", "tcp://"])
def test_anything_else_is_refused_with_what_is_allowed(text: str) -> None:
    with pytest.raises(ValueError, match="use local, dask"):
        ExecutorChoice.parse(text)


def local_executor(tmp_path: Path) -> LocalExecutor:
    pool = ProviderPool({}, ProviderContext(tmp_path, {}))
    return LocalExecutor(pool, Journal(tmp_path / "journal"), tmp_path)


def test_a_scheduler_elsewhere_needs_a_remote_it_may_write(tmp_path: Path) -> None:
    choice = ExecutorChoice.parse("dask://127.0.0.1:8786")
    with pytest.raises(SetupError, match="name a remote cache"):
        DaskExecutor(choice, local_executor(tmp_path), lambda name: ProviderSettings(name, name, {}), None, tmp_path)
    (tmp_path / "r").mkdir()
    read_only = DirectoryRemote(tmp_path / "r", str(tmp_path / "r"), push=False)
    with pytest.raises(SetupError, match="read-only"):
        DaskExecutor(choice, local_executor(tmp_path), lambda n: ProviderSettings(n, n, {}), read_only, tmp_path)
    shared = ExecutorChoice.parse("dask://127.0.0.1:8786", shared_cache=True)
    DaskExecutor(shared, local_executor(tmp_path), lambda n: ProviderSettings(n, n, {}), None, tmp_path)


def test_cluster_failures_say_what_to_do() -> None:
    choice = ExecutorChoice.parse("dask://127.0.0.1:9")
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in _cluster_failure(OSError("refused"), choice)
    assert "start workers" in _cluster_failure(NoWorkers("no workers for 60 s"), choice)
    lacking = _cluster_failure(ModuleNotFoundError("No module named 'renderer'"), choice)
    assert "install render-media on every worker" in lacking


def image_request(key: str) -> JobRequest:
    return JobRequest(
        asset="sky",
        type="image",
        model=None,
        seed=3,
        params={"prompt": "a night sky", "width": 32, "height": 32},
        inputs=[],
        key=key,
        output_format=".png",
    )


def test_a_worker_hands_its_output_back_through_the_remote_with_the_bytes_of_a_local_run(tmp_path: Path) -> None:
    (tmp_path / "remote").mkdir()
    remote = DirectoryRemote(tmp_path / "remote", str(tmp_path / "remote"))
    settings = ProviderSettings("local", "local", {})
    answer = run_on_worker("local", settings, image_request("k" * 64), {"kind": "remote", "url": str(remote.root)})
    assert "failed" not in answer, answer
    assert remote.has_blob(answer["sha256"], answer["bytes"]) and "path" not in answer
    here = tmp_path / "here"
    here.mkdir()
    pool = ProviderPool({"local": settings}, ProviderContext(here, {}))
    made = anyio.run(
        LocalExecutor(pool, Journal(here / "j"), here).execute, GenerateTask("local", image_request("k" * 64))
    )
    assert made.sha256 == answer["sha256"]  # the worker's bytes are the local executor's


def test_a_failing_job_comes_back_as_its_message_and_a_shared_folder_keeps_the_output(tmp_path: Path) -> None:
    settings = ProviderSettings("local", "local", {})
    bad = image_request("k" * 64)
    bad.type = "lipsync"  # the local provider makes no lipsync
    answer = run_on_worker("local", settings, bad, {"kind": "shared", "scratch": str(tmp_path)})
    assert "failed" in answer and "Traceback" not in answer["failed"]
    good = run_on_worker("local", settings, image_request("k" * 64), {"kind": "shared", "scratch": str(tmp_path)})
    kept = Path(good["path"])
    assert kept.parent == tmp_path and sha256_file(kept)[0] == good["sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [kept.name]  # the job's own folder is gone


def test_paid_jobs_never_leave_this_process(tmp_path: Path) -> None:
    sent: list[str] = []

    class Here(LocalExecutor):
        async def execute(self, task: GenerateTask):  # type: ignore[no-untyped-def]
            sent.append(task.provider)
            return "made here"

    pool = ProviderPool({"varg": ProviderSettings("varg", "varg", {})}, ProviderContext(tmp_path, {}))
    here = Here(pool, Journal(tmp_path / "journal"), tmp_path)
    choice = ExecutorChoice.parse("dask://127.0.0.1:9", shared_cache=True)  # nothing listens: never asked
    dask = DaskExecutor(choice, here, pool.settings_for, None, tmp_path)
    request = image_request("k" * 64)
    assert anyio.run(dask.execute, GenerateTask("varg", request)) == "made here"
    assert sent == ["varg"] and dask.client is None  # a cluster may run a task twice: a paid job, never
