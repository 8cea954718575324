"""Local jobs on Dask: a real `dask scheduler` and `dask worker` processes on loopback, the remote cache as the
data plane, the demo's bytes unchanged; a worker killed mid-run; bad addresses and workers without render."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import RENDER, render

ROOT = Path(__file__).resolve().parents[2]

DASK = str(Path(sys.executable).parent / "dask")
SMALL = """version: 1
defaults: {provider: local}
assets:
  sky: {type: image, prompt: a night sky, width: 64, height: 64, seed: 3}
  sea: {type: image, prompt: a grey sea, width: 64, height: 64, seed: 4}
  both: {type: video, prompt: a slow pan, inputs: [sky], duration: 1, fps: 4, width: 64, height: 64, seed: 5}
"""


LONG = """version: 1
defaults: {provider: local}
assets:
  long: {type: video, prompt: a long slow pan over hills, duration: 12, fps: 24, width: 1280, seed: 9}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(predicate, what: str, process: subprocess.Popen[bytes] | None = None, seconds: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if process is not None and process.poll() is not None:
            pytest.fail(f"{what}: the process exited with {process.returncode}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {seconds} s")
        time.sleep(0.1)


@dataclass
class Cluster:
    address: str
    folder: Path
    env: dict[str, str]
    scheduler: subprocess.Popen[bytes] | None = None
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)  # address -> process

    def add_worker(self, *, without_render: bool = False) -> str:
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        command = [DASK, "worker"]
        if without_render:  # a worker whose Python cannot import render
            command = [
                sys.executable,
                "-c",
                "import sys; sys.modules['renderer'] = None; from distributed.cli.dask_worker import main; main()",
            ]
        log = open(self.folder / f"worker-{port}.log", "wb")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [
                *command,
                self.address,
                "--no-nanny",
                "--nthreads",
                "1",
                "--no-dashboard",
                "--listen-address",
                address,
                "--local-directory",
                str(self.folder / f"w{port}"),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,  # not the project: workers share no folder with it
        )
        self.workers[address] = process
        wait_for(lambda: address in self.scheduler_log() or "Registered to" in self.log_of(port), "worker", process)
        return address

    def log_of(self, port: int) -> str:
        return (self.folder / f"worker-{port}.log").read_text(errors="replace")

    def scheduler_log(self) -> str:
        return (self.folder / "scheduler.log").read_text(errors="replace")

    def stop(self) -> None:
        for process in [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]:
            if process.poll() is None:
                process.terminate()
        for process in [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A Dask scheduler on loopback, workers added by the test (``cluster.add_worker()``)."""
    folder = tmp_path / "cluster"
    folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RENDER_", "AWS_"))}
    env["DASK_DISTRIBUTED__WORKER__DAEMON"] = "False"
    port = free_port()
    log = open(folder / "scheduler.log", "wb")  # noqa: SIM115 - closed with the process
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    made = Cluster(f"tcp://127.0.0.1:{port}", folder, env, scheduler)
    wait_for(lambda: "Scheduler at" in made.scheduler_log(), "scheduler", scheduler)
    try:
        yield made
    finally:
        made.stop()


def render_logged(tmp_path: Path, spec: Path, *args: str | Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``render SPEC -v ARGS`` started in the background, cache in tmp_path/cache, output in tmp_path/render.log."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    environ["RENDER_CACHE_DIR"] = str(tmp_path / "cache")
    log = tmp_path / "render.log"
    with open(log, "wb") as handle:  # the child keeps its own copy of the file
        process = subprocess.Popen(
            [RENDER, str(spec), "-v", *map(str, args)],
            cwd=spec.parent,
            env=environ,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return process, log


def demo_copy(tmp_path: Path) -> Path:
    project = tmp_path / "demo"
    project.mkdir()
    for name in ("demo.yaml", "demo.lock"):
        shutil.copyfile(ROOT / "specs" / name, project / name)
    return project / "demo.yaml"


def lock_digests(path: Path) -> dict[str, str]:
    import yaml

    return {name: entry["sha256"] for name, entry in yaml.safe_load(path.read_text())["assets"].items()}


def workers_named(output: str) -> dict[str, str]:
    """asset -> the worker that made it, from -v's ``worker`` lines."""
    return dict(re.findall(r"worker\s+(\S+): made on (tcp://\S+)", output))


def test_the_demo_on_two_workers_through_a_folder_remote_reproduces_its_lockfile(tmp_path: Path, cluster) -> None:
    first, second = cluster.add_worker(), cluster.add_worker()
    spec = demo_copy(tmp_path)
    committed = lock_digests(spec.with_suffix(".lock"))
    shared = tmp_path / "shared"
    shared.mkdir()
    result = render(
        spec, "-v", "--executor", f"dask://{cluster.address[6:]}", "--remote", shared,
        cwd=spec.parent, cache=tmp_path / "cache", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert lock_digests(spec.with_suffix(".lock")) == committed  # the same bytes as on one machine
    made = workers_named(result.stdout)
    assert set(made) == set(committed)  # every job ran on a worker
    assert set(made.values()) <= {first, second}
    for name, digest in committed.items():  # the workers handed every output back through the remote
        assert (shared / "blobs" / digest[:2] / digest[2:]).is_file(), name


def test_a_worker_killed_mid_job_is_replaced_and_the_render_completes(tmp_path: Path, cluster) -> None:
    workers = {cluster.add_worker(), cluster.add_worker()}
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(LONG)
    shared = tmp_path / "shared"
    shared.mkdir()
    process, log = render_logged(tmp_path, project / "p.yaml", "--executor", cluster.address, "--remote", shared)
    wait_for(lambda: "long: making on" in log.read_text(), "the job on a worker", process, seconds=300)
    victim = re.findall(r"long: making on (tcp://\S+)", log.read_text())[0]
    cluster.workers[victim].send_signal(signal.SIGKILL)  # seconds before the job can end
    assert process.wait(timeout=600) == 0, log.read_text()
    (survivor,) = workers - {victim}
    assert workers_named(log.read_text()) == {"long": survivor}  # made again on the other worker
    here = render(project / "p.yaml", "--out", tmp_path / "here", cwd=project, cache=tmp_path / "cache-here")
    assert here.returncode == 0, here.stderr
    assert (project / "out" / "long.mp4").read_bytes() == (tmp_path / "here" / "long.mp4").read_bytes()


def test_an_s3_remote_carries_inputs_and_outputs_between_machines(tmp_path: Path, cluster, s3_server) -> None:
    cluster.env.update(s3_server["env"])  # the workers' own credentials: none are sent to them
    cluster.add_worker()
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(SMALL)
    result = render(
        project / "p.yaml", "-v", "--executor", cluster.address, "--remote", s3_server["url"], "--json",
        cwd=project, cache=tmp_path / "cache", env=s3_server["env"], timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    local = render(project / "p.yaml", "--out", tmp_path / "here", cwd=project, cache=tmp_path / "cache-here")
    assert local.returncode == 0, local.stderr
    for name in ("sky.png", "sea.png", "both.mp4"):
        assert (project / "out" / name).read_bytes() == (tmp_path / "here" / name).read_bytes()
    assert set(workers_named(result.stderr + result.stdout)) == {"sky", "sea", "both"}
    assert json.loads(result.stdout)["totals"]["generated"] == 3


def test_a_local_cluster_needs_no_scheduler_and_no_remote(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(SMALL)
    result = render(
        project / "p.yaml", "-v", "--executor", "dask", "--workers", "2",
        cwd=project, cache=tmp_path / "cache", timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert set(workers_named(result.stdout)) == {"sky", "sea", "both"}
    again = render(project / "p.yaml", "--check", cwd=project, cache=tmp_path / "cache")
    assert again.returncode == 0, again.stdout + again.stderr


def test_clear_errors_for_a_bad_address_no_remote_and_a_worker_without_render(tmp_path: Path, cluster) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(SMALL)
    shared = tmp_path / "shared"
    shared.mkdir()
    nowhere = f"dask://127.0.0.1:{free_port()}"
    result = render(project / "p.yaml", "--executor", nowhere, "--remote", shared, cwd=project, cache=tmp_path / "c")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1" in result.stderr
    result = render(project / "p.yaml", "--executor", cluster.address, cwd=project, cache=tmp_path / "c")
    assert result.returncode == 2 and "name a remote cache" in result.stderr and "Traceback" not in result.stderr
    result = render(project / "p.yaml", "--executor", "ssh://x", cwd=project, cache=tmp_path / "c")
    assert result.returncode == 2 and "is not an executor" in result.stderr
    cluster.add_worker(without_render=True)
    result = render(
        project / "p.yaml", "--executor", cluster.address, "--remote", shared, cwd=project, cache=tmp_path / "c",
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "cannot import render" in result.stderr and "render-media[dask]" in result.stderr


def test_a_scheduler_that_goes_away_fails_the_running_job_clearly_and_keeps_what_finished(
    tmp_path: Path, cluster
) -> None:
    cluster.add_worker(), cluster.add_worker()  # the quick job ends while the long one runs
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(
        LONG + "  sky: {type: image, prompt: a night sky, width: 64, height: 64, seed: 3}\n"
    )
    shared = tmp_path / "shared"
    shared.mkdir()
    process, log = render_logged(tmp_path, project / "p.yaml", "-k", "--executor", cluster.address, "--remote", shared)
    wait_for(lambda: "made    sky" in log.read_text(), "the quick job", process, seconds=300)
    wait_for(lambda: "long: making on" in log.read_text(), "the long job", process, seconds=300)
    assert cluster.scheduler is not None
    cluster.scheduler.send_signal(signal.SIGKILL)
    assert process.wait(timeout=300) == 1, log.read_text()
    text = log.read_text()
    assert "Traceback" not in text and "lost the connection to the Dask scheduler at tcp://127.0.0.1" in text, text
    assert " ERROR " not in text  # Dask's own log lines stay out of render's output
    assert (project / "out" / "sky.png").stat().st_size > 0  # what finished is kept, and locked
    assert "sky" in (project / "p.lock").read_text()


def test_ctrl_c_cancels_the_jobs_and_leaves_the_cluster_running(tmp_path: Path, cluster) -> None:
    cluster.add_worker()
    project = tmp_path / "p"
    project.mkdir()
    (project / "p.yaml").write_text(LONG)
    shared = tmp_path / "shared"
    shared.mkdir()
    arguments = ("--executor", cluster.address, "--remote", shared)
    process, log = render_logged(tmp_path, project / "p.yaml", *arguments)
    wait_for(lambda: "long: making on" in log.read_text(), "the long job", process, seconds=300)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130, log.read_text()
    assert "Traceback" not in log.read_text()
    assert cluster.scheduler is not None and cluster.scheduler.poll() is None  # the cluster runs on
    assert all(worker.poll() is None for worker in cluster.workers.values())
    again = render(project / "p.yaml", "-v", *arguments, cwd=project, cache=tmp_path / "cache", timeout=600)
    assert again.returncode == 0 and "long: made on" in again.stdout, again.stdout + again.stderr
