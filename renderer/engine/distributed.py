"""Distributed execution on Dask: free jobs run on the cluster's workers, paid jobs stay here.

``DaskExecutor`` implements the engine's ``Executor``; the engine does not change:

    paid provider  the ``LocalExecutor`` in this process. A cluster may run a task twice (a worker that
                   dies is replaced), and a paid job must never be submitted twice.
    free provider  the job goes to the cluster as ``run_on_worker``, which makes the output with the same
                   ``LocalExecutor`` code the local run uses, so the bytes are the same.

Workers need not share a filesystem with this process. The data plane is one of:

    the remote     inputs are put into the remote cache by sha256 before the job is sent; the worker
                   fetches them (verified), makes the output, puts it into the remote, and returns only
                   its digest and the job; this process takes the bytes from the remote, verified
    a shared folder  the cache's scratch folder, where workers read inputs and write outputs in place:
                   a local cluster (``--executor dask``), or ``executor: {..., shared_cache: true}``

Dask is an optional extra (``pip install 'render-media[dask]'``), imported only when asked for.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio

from renderer.engine.executor import Generated, GenerateTask, LocalExecutor
from renderer.engine.journal import Journal
from renderer.engine.results import ExecutorChoice
from renderer.errors import AssetError, SetupError
from renderer.providers.base import Job, JobRequest, JobState
from renderer.spec.model import ProviderSettings
from renderer.store.remote import Remote, copy_between

INSTALL = "pip install 'render-media[dask]'"
NO_WORKERS_GRACE = 60.0  # seconds a cluster may have no worker before its jobs fail (workers may restart)


class NoWorkers(Exception):
    """The cluster has had no worker for a while."""


class DaskExecutor:
    """Runs free jobs on a Dask cluster and paid ones in this process (see the module docstring)."""

    def __init__(
        self,
        choice: ExecutorChoice,
        local: LocalExecutor,
        settings: Callable[[str], ProviderSettings],
        remote: Remote | None,
        scratch: Path,
        on_state: Callable[[str, str], None] = lambda asset, state: None,
    ) -> None:
        if remote is None and not choice.shared_cache:
            raise SetupError(
                f"the Dask scheduler at {choice.address} runs jobs on machines that do not see this cache; name "
                "a remote cache for them to share (--remote, RENDER_REMOTE or 'remote:'), or, if every worker "
                "sees this cache folder at the same path, say so with 'executor: {address: ..., shared_cache: true}'"
            )
        if remote is not None and not remote.push and not choice.shared_cache:
            raise SetupError(
                f"the remote {remote.url} is read-only (push: false), so Dask workers cannot hand their "
                "outputs back through it; give a remote they may write to"
            )
        self.choice = choice
        self.local = local
        self.settings = settings
        self.remote = remote
        self.scratch = scratch
        self.on_state = on_state
        self.client: Any = None
        self.cluster: Any = None
        self.connected = anyio.Lock()
        self.failure: str | None = None  # why the cluster cannot be used: every free job says it at once

    async def execute(self, task: GenerateTask) -> Generated:
        if not self.local.providers.class_of(task.provider).free:
            return await self.local.execute(task)
        client = await self._client()
        request = task.request
        if self.choice.shared_cache:
            plane: dict[str, str] = {"kind": "shared", "scratch": str(self.scratch)}
        else:
            assert self.remote is not None
            plane = {"kind": "remote", "url": self.remote.url}
            for item in request.inputs:  # the workers' only way to the inputs: the remote, by sha256
                await anyio.to_thread.run_sync(self.remote.put_blob, item.path, item.sha256)
        self.on_state(request.asset, "queued on the cluster")
        future = client.submit(
            run_on_worker,
            task.provider,
            self.settings(task.provider),
            request,
            plane,
            key=f"render-{request.asset}-{uuid.uuid4().hex[:8]}",
            pure=False,  # a job is run once per call, never served from a result cache of Dask's
        )
        ended: dict[str, Any] = {}
        try:
            async with anyio.create_task_group() as group:

                async def wait() -> None:
                    try:
                        ended["result"] = await future
                    except Exception as exc:  # kept, and raised outside the group, unwrapped
                        ended["error"] = exc
                    group.cancel_scope.cancel()

                group.start_soon(self._watch, client, future, request.asset, ended, group.cancel_scope)
                await wait()
        except BaseException:  # cancelled (Ctrl-C): the job leaves the cluster, which keeps running
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await client.cancel([future])
            raise
        if "error" in ended:
            with anyio.move_on_after(10, shield=True):
                await client.cancel([future])
            raise AssetError(_cluster_failure(ended["error"], self.choice)) from None
        result = ended["result"]
        if "failed" in result:
            raise AssetError(str(result["failed"]))
        self.on_state(request.asset, f"made on {result['worker']}")
        return await self._collect(result, request)

    async def _collect(self, result: dict[str, Any], request: JobRequest) -> Generated:
        job = Job(**{**result["job"], "state": JobState(result["job"]["state"])})
        if result.get("path"):
            path = Path(result["path"])
            return Generated(path, result["sha256"], result["bytes"], job, False)
        assert self.remote is not None
        dest = self.scratch / f"{uuid.uuid4().hex}{request.output_format}"
        written = await anyio.to_thread.run_sync(copy_between, self.remote, result["sha256"], dest)
        if written != result["sha256"]:
            raise AssetError(
                f"the output a Dask worker put into the remote {self.remote.url} hashes to {written[:12]}..., "
                f"not {result['sha256'][:12]}...; it was refused"
            )
        return Generated(dest, written, dest.stat().st_size, job, False)

    async def _watch(
        self, client: Any, future: Any, asset: str, ended: dict[str, Any], scope: anyio.CancelScope
    ) -> None:
        """Say which worker runs the job while it runs, and end the wait if the cluster has had no
        worker for ``NO_WORKERS_GRACE`` seconds (the job would wait for ever). Asks the scheduler every second."""
        shown, empty_since = None, None
        while True:
            await anyio.sleep(1)
            try:
                processing = await client.processing()
            except Exception as exc:
                ended["error"] = exc
                scope.cancel()
                return
            if not processing:
                empty_since = empty_since or time.monotonic()
                if time.monotonic() - empty_since > NO_WORKERS_GRACE:
                    ended["error"] = NoWorkers(f"it has had no workers for {NO_WORKERS_GRACE:g} s")
                    scope.cancel()
                    return
                continue
            empty_since = None
            worker = next((w for w, keys in processing.items() if future.key in keys), None)
            if worker and worker != shown:
                shown = worker
                self.on_state(asset, f"making on {worker}")

    async def _client(self) -> Any:
        async with self.connected:
            if self.failure is not None:
                raise AssetError(self.failure)
            if self.client is None:
                try:
                    self.client = await self._connect()
                except ImportError:
                    self.failure = f"the Dask executor needs dask and distributed: {INSTALL}"
                    raise AssetError(self.failure) from None
                except AssetError as exc:
                    self.failure = exc.message
                    raise
                except Exception as exc:
                    self.failure = _cluster_failure(exc, self.choice)
                    raise AssetError(self.failure) from None
            return self.client

    async def _connect(self) -> Any:
        import logging

        from distributed import Client, LocalCluster

        # Dask's own log lines (reconnect attempts, worker restarts) are not for render's users: render
        # says what failed, once, in its own words. Dask's configuration sets some loggers' levels one by one.
        for name in [*logging.root.manager.loggerDict, "distributed"]:
            if name.startswith("distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL + 1)

        if self.choice.kind == "cluster":
            self.cluster = await LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=self.choice.workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                asynchronous=True,
            )
            return await Client(self.cluster, asynchronous=True)  # type: ignore[no-untyped-call]
        with anyio.fail_after(60):
            client = await Client(self.choice.address, asynchronous=True, timeout="10s")  # type: ignore[no-untyped-call]
        # A worker that cannot import render dies on the first job it is sent (it cannot read the message),
        # and the job waits for ever: ask every worker first. exec of a fixed import: a stdlib function, so
        # the question itself needs no render on the worker.
        answers = await client.run(exec, "import renderer.engine.distributed", on_error="return")
        lacking = sorted(worker for worker, answer in answers.items() if isinstance(answer, BaseException))
        if lacking:
            await client.close()
            raise AssetError(
                f"{len(lacking)} worker(s) of the Dask scheduler at {self.choice.address} cannot import render "
                f"({', '.join(lacking)}); install render-media on every worker ({INSTALL})"
            )
        return client

    async def aclose(self) -> None:
        try:
            if self.client is not None:
                with anyio.move_on_after(30, shield=True):
                    await self.client.close()  # a cluster render did not start keeps running
            if self.cluster is not None:
                with anyio.move_on_after(30, shield=True):
                    await self.cluster.close()
        finally:
            await self.local.aclose()


def _cluster_failure(exc: BaseException, choice: ExecutorChoice) -> str:
    where = f"the Dask scheduler at {choice.address}" if choice.address else "the local Dask cluster"
    text = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}".strip(": ")
    if isinstance(exc, NoWorkers):
        return f"{where} cannot run jobs: {exc}; start workers (dask worker {choice.address or 'ADDRESS'})"
    if "No module named 'renderer'" in text or "import of renderer halted" in text:
        return f"a worker of {where} cannot import render; install render-media on every worker ({INSTALL})"
    if "connection-lost" in text or "CommClosed" in text:
        return f"lost the connection to {where} while the job ran ({text[:160]}); start it again and render again"
    if isinstance(exc, (OSError, TimeoutError)) or "connection" in text.lower():
        return f"cannot reach {where} ({text[:200]}); start it (dask scheduler), or check the address"
    return f"{where} could not run the job ({text[:300]})"


def run_on_worker(
    provider: str, settings: ProviderSettings, request: JobRequest, plane: dict[str, str]
) -> dict[str, Any]:
    """On a Dask worker: make one free job's output and hand it back through the data plane. Failures come
    back as their message (exceptions of render's own may not unpickle where render differs)."""
    import anyio as worker_anyio

    from renderer.engine.pool import ProviderPool
    from renderer.engine.results import failure_message
    from renderer.providers.base import ProviderContext
    from renderer.store.remote import open_remote

    worker = _worker_address()
    own = Path(tempfile.mkdtemp(prefix="render-job-", dir=plane["scratch"] if plane["kind"] == "shared" else None))
    try:
        remote = open_remote(plane["url"]) if plane["kind"] == "remote" else None
        if remote is not None:
            for item in request.inputs:
                dest = own / f"in-{item.sha256}{Path(item.path).suffix}"
                if copy_between(remote, item.sha256, dest) != item.sha256:
                    return {"failed": f"input '{item.slot}' in the remote {remote.url} is damaged", "worker": worker}
                item.path = dest
        pool = ProviderPool({provider: settings}, ProviderContext(own, dict(os.environ)))
        executor = LocalExecutor(pool, Journal(own / "journal"), own)

        async def make() -> Generated:
            try:
                return await executor.execute(GenerateTask(provider, request))
            finally:
                await executor.aclose()

        generated = worker_anyio.run(make)
        job = dataclasses.asdict(generated.job)
        job["state"] = generated.job.state.value
        answer: dict[str, Any] = {"sha256": generated.sha256, "bytes": generated.bytes, "job": job, "worker": worker}
        if remote is not None:
            remote.put_blob(generated.path, generated.sha256)
        else:  # the shared folder: the coordinator moves it into its cache
            kept = Path(plane["scratch"]) / f"{uuid.uuid4().hex}{request.output_format}"
            os.replace(generated.path, kept)
            answer["path"] = str(kept)
        return answer
    except Exception as exc:
        return {"failed": failure_message(exc, request.asset), "worker": worker}
    finally:
        shutil.rmtree(own, ignore_errors=True)


def _worker_address() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except Exception:
        return "a worker"
