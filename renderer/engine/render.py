"""One run over a project: plan (dry-run, check) or render (normal, locked).

For each asset, once its inputs are done: hash the inputs, compute the cache key, then take the output
from the cache, or adopt it from the output directory when the lockfile vouches for it, or generate it.
Outputs are copied out of the cache (never linked), so an edited output cannot corrupt the cache.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import anyio

from renderer.engine.dag import closure, critical_path_lengths, topological_order
from renderer.engine.executor import GenerateTask, LocalExecutor, ProviderPool
from renderer.engine.journal import Journal
from renderer.engine.recipe import cache_key, recipe
from renderer.engine.scheduler import PrioritySlots, run_graph
from renderer.errors import AssetError, CacheError, RenderError
from renderer.media.types import media_type_of
from renderer.providers.base import InputFile, JobRequest, ProviderContext
from renderer.spec.model import Asset, Project
from renderer.store.atomic import sha256_file
from renderer.store.cache import Cache
from renderer.store.lockfile import lock_path, read_lock_text, write_lock
from renderer.store.manifest import manifest_entry, render_manifest, write_manifest
from renderer.store.state import file_digest, load_state, save_state, state_path

# Free results are written to the lockfile at most this often (seconds), so that 10,000 quick assets do not
# rewrite it 10,000 times; they are safe in the cache meanwhile. Paid results are written at once.
LOCK_WRITE_INTERVAL = 0.2


class Reporter(Protocol):
    def begin(self, total: int) -> None: ...
    def started(self, name: str, provider: str) -> None: ...
    def finished(self, outcome: Outcome) -> None: ...
    def note(self, message: str) -> None: ...
    def end(self) -> None: ...


@dataclass
class RenderOptions:
    cache_dir: Path
    mode: str = "render"  # render | plan | check | locked
    jobs: int = 8
    keep_going: bool = False
    selection: list[str] = field(default_factory=list)
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    version: str = ""


@dataclass
class Outcome:
    name: str
    status: str  # generated | cached | failed | skipped | generate (plan) | interrupted
    provider: str = ""
    output: str | None = None
    sha256: str | None = None
    error: str | None = None
    cost_usd: float | None = None
    key: str | None = None
    record: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("generated", "cached")


@dataclass
class RunResult:
    outcomes: dict[str, Outcome]
    lock_current: bool = True
    lock_problems: list[str] = field(default_factory=list)
    manifest: Path | None = None

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes.values() if o.status == status)


class Run:
    def __init__(self, project: Project, options: RenderOptions, reporter: Reporter, spec_bytes: bytes) -> None:
        self.project = project
        self.options = options
        self.reporter = reporter
        self.spec_bytes = spec_bytes
        deps = project.deps()
        unknown = [n for n in options.selection if n not in project.assets]
        if unknown:
            from renderer.errors import UsageError
            from renderer.spec.schema import did_you_mean

            names = sorted(project.assets)
            raise UsageError(
                "; ".join(f"no asset named '{n}' in {project.display}{did_you_mean(n, names)}" for n in unknown)
            )
        self.cache = Cache(options.cache_dir)
        self.journal = Journal(options.cache_dir / "journal")
        self.lock_file = lock_path(project.path)
        self.lock_entries, self.lock_bytes, self.lock_text = read_lock_text(self.lock_file)
        self.state_file = state_path(options.cache_dir, project.path)
        self.prior = load_state(self.state_file, options.version) or {}
        self.file_hashes: dict[str, tuple[int, int, str]] = {}
        self.out_stats: dict[str, tuple[int, int]] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.inflight: dict[str, anyio.Event] = {}

        members = closure(deps, options.selection) if options.selection else set(deps)
        self.deps = {n: d for n, d in deps.items() if n in members}
        self.order = topological_order(self.deps)
        self.priority = critical_path_lengths(self.deps, self.order)
        self.whole_project = members == set(deps)

        self.providers = ProviderPool(project.providers, ProviderContext(self.cache.scratch, options.environ))
        self.executor = LocalExecutor(self.providers, self.journal, self.cache.scratch)
        self.slots = PrioritySlots(options.jobs)
        self.provider_slots: dict[str, PrioritySlots] = {}
        self._lock_dirty = False
        self._lock_urgent = False
        self._lock_wake = anyio.Event()
        self._lock_written_at = 0.0
        self.lock_problems: list[str] = []

    # ---- inputs and keys

    async def file_digest_of(self, relative: str) -> str:
        path = str(self.project.root / relative)
        st = os.stat(path)
        known = self.file_hashes.get(path) or self.prior.get("files", {}).get(path)
        if known and known[0] == st.st_size and known[1] == st.st_mtime_ns:
            digest = known[2]
        elif st.st_size > 1 << 20:
            digest = (await anyio.to_thread.run_sync(sha256_file, Path(path)))[0]
        else:
            digest = file_digest(Path(path).read_bytes())
        self.file_hashes[path] = (st.st_size, st.st_mtime_ns, digest)
        return "sha256:" + digest

    async def inputs_of(self, asset: Asset) -> tuple[list[InputFile], dict[str, str]] | None:
        """The input files and their hashes; None when an upstream output is not known (plan mode)."""
        files: list[InputFile] = []
        hashes: dict[str, str] = {}
        for ref in asset.inputs:
            if ref.kind == "file":
                digest = await self.file_digest_of(ref.target)
                path = self.project.root / ref.target
            else:
                upstream = self.outcomes.get(ref.target)
                if upstream is None or upstream.sha256 is None:
                    return None
                digest = "sha256:" + upstream.sha256
                path = self.project.output_dir / self.project.assets[ref.target].output
            hashes[ref.slot] = digest
            files.append(InputFile(ref.slot, path, digest, media_type_of(path)))
        return files, hashes

    def key_of(self, asset: Asset, hashes: dict[str, str]) -> str:
        block = self.providers.settings_for(asset.provider)
        return cache_key(recipe(asset, block.use, self.provider_class_of(asset).recipe_version, hashes))

    def request_of(self, asset: Asset, key: str, files: list[InputFile]) -> JobRequest:
        return JobRequest(
            asset=asset.name,
            type=asset.type,
            model=asset.model,
            seed=asset.seed,
            params=dict(asset.params),
            inputs=files,
            key=key,
            output_format=asset.output_format,
        )

    # ---- finding outputs that already exist

    async def lookup(self, asset: Asset, key: str, *, adopt: bool) -> dict[str, Any] | None:
        record = self.cache.get(key)
        if record is not None:
            return record
        entry = self.lock_entries.get(asset.name)
        if not entry or entry.get("key") != key or not entry.get("sha256"):
            return None
        # The lockfile vouches for this key; if the output on disk is the locked one, keep it (e.g. a cleared cache).
        dest = self.project.output_dir / asset.output
        try:
            if dest.stat().st_size != entry.get("bytes"):
                return None
        except OSError:
            return None
        digest, size = await anyio.to_thread.run_sync(sha256_file, dest)
        if digest != entry["sha256"]:
            return None
        record = self.record_from_lock(entry, dest)
        if adopt:
            copy = self.cache.scratch / f"adopt-{digest}"
            await anyio.to_thread.run_sync(_copy_file, dest, copy)
            self.cache.put(key, copy, record)
        return record

    def record_from_lock(self, entry: dict[str, Any], dest: Path) -> dict[str, Any]:
        from renderer.media.probe import probe

        record = {
            k: entry.get(k)
            for k in (
                "sha256",
                "bytes",
                "media_type",
                "provider",
                "model",
                "resolved_model",
                "job_id",
                "cost_usd",
                "created",
            )
        }
        record["probe"] = probe(dest)
        return record

    async def materialize(self, asset: Asset, key: str, record: dict[str, Any]) -> None:
        """Make the output file hold the record's bytes, copying from the cache only when it does not."""
        dest = self.project.output_dir / asset.output
        prior = self.prior.get("assets", {}).get(asset.name)
        try:
            st = dest.stat()
            current: tuple[int, int] | None = (st.st_size, st.st_mtime_ns)
        except OSError:
            current = None
        if current and prior and prior[1:3] == current and prior[4] == record["sha256"]:
            self.out_stats[asset.name] = current
            return
        if current and current[0] == record["bytes"]:
            digest, _ = await anyio.to_thread.run_sync(sha256_file, dest)
            if digest == record["sha256"]:
                self.out_stats[asset.name] = current
                return
        written = await anyio.to_thread.run_sync(self.cache.store.copy_to, record["sha256"], dest)
        if written != record["sha256"]:
            dest.unlink(missing_ok=True)
            self.cache.forget(key)
            raise CacheError(
                asset.name,
                "the cached output does not match its hash (the cache was damaged); "
                "it was removed, so the next run makes it again",
            )
        st = dest.stat()
        self.out_stats[asset.name] = (st.st_size, st.st_mtime_ns)

    # ---- generating

    def provider_slots_for(self, name: str) -> PrioritySlots:
        if name not in self.provider_slots:
            block = self.providers.settings_for(name)
            default = os.cpu_count() or 2 if block.use == "local" else 4
            self.provider_slots[name] = PrioritySlots(int(block.options.get("max_concurrency") or default))
        return self.provider_slots[name]

    async def generate(self, asset: Asset, key: str, files: list[InputFile]) -> dict[str, Any]:
        request = self.request_of(asset, key, files)
        priority = self.priority[asset.name]
        async with self.provider_slots_for(asset.provider).hold(priority), self.slots.hold(priority):
            self.reporter.started(asset.name, asset.provider)
            generated = await self.executor.execute(GenerateTask(asset.provider, request))
        from renderer.media.probe import probe

        try:
            info = await anyio.to_thread.run_sync(probe, generated.path)
        except Exception:
            info = {"media_type": media_type_of(generated.path)}
        job = generated.job
        record = {
            "sha256": generated.sha256,
            "bytes": generated.bytes,
            "media_type": info.get("media_type") or job.media_type,
            "provider": asset.provider,
            "model": asset.model,
            "resolved_model": job.resolved_model,
            "job_id": job.id,
            "cost_usd": job.cost_usd,
            "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "probe": info,
        }
        locked = self.lock_entries.get(asset.name)
        if locked and locked.get("key") == key and locked.get("sha256") == generated.sha256:
            # The same bytes as the lockfile names (a deterministic remake): keep its history, so the
            # lockfile stays byte-identical on a machine with an empty cache.
            record.update({k: locked[k] for k in ("created", "job_id", "resolved_model") if locked.get(k)})
        # Durable writes (fsync, sqlite) in a worker thread, so other jobs are not held up; the journal
        # entry goes only once the bytes are safe in the cache.
        await anyio.to_thread.run_sync(self.cache.put, key, generated.path, record)
        await anyio.to_thread.run_sync(self.journal.remove, key)
        return record

    # ---- one asset

    def lock_entry(self, asset: Asset, key: str, hashes: dict[str, str], record: dict[str, Any]) -> dict[str, Any]:
        info = record.get("probe", {})
        entry = {
            "key": key,
            "provider": asset.provider,
            "model": asset.model,
            "resolved_model": record.get("resolved_model"),
            "job_id": record.get("job_id"),
            "output": asset.output,
            "sha256": record["sha256"],
            "bytes": record["bytes"],
            "media_type": record.get("media_type"),
            "duration": info.get("duration"),
            "width": info.get("width"),
            "height": info.get("height"),
            "cost_usd": record.get("cost_usd"),
            "created": record.get("created"),
            "inputs": dict(hashes),
        }
        # only what the lockfile holds, so an unchanged entry compares equal to the one read from it
        return {k: v for k, v in entry.items() if v is not None and v != {}}

    async def render_one(self, name: str) -> Outcome:
        asset = self.project.assets[name]
        outcome = Outcome(name, "failed", provider=asset.provider, output=asset.output)
        try:
            prepared = await self.inputs_of(asset)
            assert prepared is not None  # upstream outcomes are done before this runs
            files, hashes = prepared
            key = outcome.key = self.key_of(asset, hashes)
            status, record = await self.obtain(asset, key, files)
            try:
                await self.materialize(asset, key, record)
            except CacheError:
                if self.options.mode == "locked":
                    raise
                self.reporter.note(
                    f"  note: the cached output of '{name}' was damaged (its sha256 did not match); "
                    "it was removed and is made again"
                )
                status, record = "generated", await self.generate(asset, key, files)
                await self.materialize(asset, key, record)
            outcome.status, outcome.record, outcome.sha256 = status, record, record["sha256"]
            outcome.cost_usd = record.get("cost_usd") if status == "generated" else None
            self.lock_entries[name] = self.lock_entry(asset, key, hashes, record)
            self.lock_changed(urgent=status == "generated" and not self.provider_is_free(asset))
        except AssetError as exc:
            outcome.error = exc.message
        except RenderError as exc:
            outcome.error = str(exc)
        except OSError as exc:
            outcome.error = f"{exc.strerror or exc} ({exc.filename})" if exc.filename else str(exc)
        except Exception as exc:  # a provider bug must not take the other assets down
            outcome.error = f"{type(exc).__name__}: {exc}"
        self.outcomes[name] = outcome
        self.reporter.finished(outcome)
        return outcome

    async def obtain(self, asset: Asset, key: str, files: list[InputFile]) -> tuple[str, dict[str, Any]]:
        while key in self.inflight:  # the same recipe is being made for another asset
            await self.inflight[key].wait()
        record = await self.lookup(asset, key, adopt=True)
        if key in self.cache.damaged:
            self.cache.damaged.remove(key)
            self.reporter.note(f"  note: the cache entry of '{asset.name}' had lost its bytes; it is made again")
        locked = self.lock_entries.get(asset.name) if self.options.mode == "locked" else None
        if self.options.mode == "locked":
            if not locked or locked.get("key") != key:
                raise CacheError(
                    asset.name,
                    "the lockfile has no entry for this recipe (the spec or an input changed); "
                    "render without --locked and commit the new lockfile",
                )
            if record is not None and record["sha256"] != locked.get("sha256"):
                raise CacheError(asset.name, "the cached output differs from the one in the lockfile")
        if record is not None:
            return "cached", record
        if self.options.mode == "locked":
            cls = self.provider_class_of(asset)
            if not (cls.free and cls.deterministic):
                raise CacheError(
                    asset.name,
                    f"the output is not in the cache, and --locked never calls the paid "
                    f"provider '{asset.provider}'; render without --locked, or restore the cache",
                )
        event = self.inflight[key] = anyio.Event()
        try:
            record = await self.generate(asset, key, files)
        finally:
            del self.inflight[key]
            event.set()
        if locked is not None and record["sha256"] != locked.get("sha256"):
            raise CacheError(
                asset.name,
                f"made again, the output has sha256 {record['sha256'][:12]}..., "
                f"but the lockfile says {str(locked.get('sha256'))[:12]}...",
            )
        return "generated", record

    def skipped(self, name: str, reason: str) -> Outcome:
        asset = self.project.assets[name]
        outcome = Outcome(name, "skipped", provider=asset.provider, output=asset.output, error=reason)
        self.outcomes[name] = outcome
        self.reporter.finished(outcome)
        return outcome

    # ---- the lockfile, the manifest and the no-op state

    def provider_class_of(self, asset: Asset) -> Any:
        from renderer.providers.registry import provider_class

        return provider_class(self.providers.settings_for(asset.provider).use)

    def provider_is_free(self, asset: Asset) -> bool:
        return bool(self.provider_class_of(asset).free)

    def lock_changed(self, *, urgent: bool) -> None:
        self._lock_dirty = True
        self._lock_urgent = self._lock_urgent or urgent
        self._lock_wake.set()

    async def lock_writer(self) -> None:
        """Writes the lockfile in a worker thread as assets finish: paid results as soon as the previous
        write is done, free ones at most every LOCK_WRITE_INTERVAL."""
        while True:
            await self._lock_wake.wait()
            self._lock_wake = anyio.Event()
            if not self._lock_urgent:
                await anyio.sleep(max(0.0, self._lock_written_at + LOCK_WRITE_INTERVAL - time.monotonic()))
            self._lock_urgent = False
            if self._lock_dirty and self.options.mode != "locked":
                with anyio.CancelScope(shield=True):  # once the changes are taken, they are written
                    self._lock_dirty = False
                    entries = dict(self.lock_entries)
                    self.lock_bytes = await anyio.to_thread.run_sync(
                        write_lock, self.lock_file, self.project.path.name, entries, self.lock_text
                    )
                    self._lock_written_at = time.monotonic()

    def flush_lock(self) -> None:
        if self._lock_dirty and self.options.mode != "locked":  # --locked verifies the lockfile, never edits it
            self.lock_bytes = write_lock(self.lock_file, self.project.path.name, self.lock_entries, self.lock_text)
            self._lock_dirty = False
            self._lock_written_at = time.monotonic()

    def clean_stale_temporaries(self) -> None:
        """Remove what an interrupted run (kill -9) left half-written: partial output copies and unfinished
        lockfile or manifest writes. Safe: this process holds the project lock."""
        patterns = [
            (self.project.output_dir, "**/.*.render-tmp"),
            (self.project.output_dir, ".manifest.json.*.tmp"),
            (self.lock_file.parent, f".{self.lock_file.name}.*.tmp"),
        ]
        for folder, pattern in patterns:
            if folder.is_dir():
                for stale in folder.glob(pattern):
                    stale.unlink(missing_ok=True)

    def finish(self) -> RunResult:
        if self.whole_project and all(o.ok for o in self.outcomes.values()) and len(self.outcomes) == len(self.order):
            for name in list(self.lock_entries):
                if name not in self.project.assets:
                    del self.lock_entries[name]
                    self._lock_dirty = True
        self.flush_lock()
        self.clean_stale_temporaries()
        entries = [
            manifest_entry(o.name, o.status, o.record or {}, o.output or "", o.key or "")
            for o in self.outcomes.values()
            if o.ok
        ]
        manifest = write_manifest(
            self.project.output_dir, render_manifest(self.project.name, self.project.path.name, entries)
        )
        self.save_state(entries)
        return RunResult(self.outcomes, manifest=manifest)

    def save_state(self, entries: list[dict[str, Any]]) -> None:
        complete = self.whole_project and len(self.outcomes) == len(self.project.assets)
        if not complete or not all(o.ok for o in self.outcomes.values()):
            return
        deps = self.project.deps()
        assets = {
            name: (o.output, *self.out_stats[name], tuple(deps[name]), o.sha256) for name, o in self.outcomes.items()
        }
        noop_manifest = render_manifest(
            self.project.name, self.project.path.name, [{**e, "status": "cached"} for e in entries]
        )
        save_state(
            self.state_file,
            self.options.version,
            {
                "spec_sha": file_digest(self.spec_bytes),
                "lock_sha": file_digest(self.lock_bytes),
                "out_dir": str(self.project.output_dir),
                "project": self.project.name,
                "spec_name": self.project.path.name,
                "files": self.file_hashes,
                "assets": assets,
                "noop_manifest": noop_manifest,
            },
        )

    # ---- entry points

    async def preflight(self) -> None:
        """Before any work: every provider that has something to make must be usable (keys, URLs)."""
        from renderer.errors import UsageError

        if self.project.confine:
            # Only folders can lead elsewhere: a file directly in the output directory is replaced by a
            # rename, which replaces a symbolic link rather than writing through it.
            root = self.project.output_dir.resolve()
            escaping = [
                name
                for name in self.order
                if "/" in self.project.assets[name].output
                and not (root / self.project.assets[name].output).parent.resolve().is_relative_to(root)
            ]
            if escaping:
                raise UsageError(
                    f"output of {', '.join(repr(n) for n in escaping)} would be written outside {root} through a "
                    "symbolic link in the output directory; remove the link, or set 'confine: false' in the spec"
                )
        if self.options.mode == "locked":
            return  # --locked calls no paid provider
        used = sorted({self.project.assets[name].provider for name in self.order})
        if not any(self.providers.get(name).preflight() for name in used):
            return
        # Some provider is not usable (a missing key, say): that matters only if it has something to make.
        planned = await self.plan_pass(estimate=False)
        self.outcomes.clear()
        needed = sorted({o.provider for o in planned.values() if o.status == "generate"})
        problems = [p for name in needed for p in self.providers.get(name).preflight()]
        if problems:
            raise UsageError("; ".join(problems))

    async def render(self) -> RunResult:
        try:
            await self.preflight()
        except BaseException:
            await self.providers.aclose()
            self.cache.close()
            raise
        self.reporter.begin(len(self.order))
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self.lock_writer)
                await run_graph(
                    self.order,
                    self.deps,
                    self.render_one,
                    self.skipped,
                    keep_going=self.options.keep_going,
                    priority=self.priority,
                )
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.executor.aclose()
            for name in self.order:
                self.outcomes.setdefault(
                    name,
                    Outcome(
                        name,
                        "interrupted",
                        provider=self.project.assets[name].provider,
                        output=self.project.assets[name].output,
                    ),
                )
            result = self.finish()
            self.cache.close()
            self.reporter.end()
        return result

    async def plan(self) -> RunResult:
        """What a render would do, with no provider call but cost estimates, and whether the lockfile is current."""
        try:
            # --check answers "is there work?" and asks no provider anything; a dry run asks for estimates
            outcomes = await self.plan_pass(estimate=self.options.mode == "plan")
        finally:
            await self.providers.aclose()
            self.cache.close()
        return RunResult(outcomes, lock_current=not self.lock_problems, lock_problems=self.lock_problems)

    async def plan_pass(self, *, estimate: bool) -> dict[str, Outcome]:
        """Walk the graph without making anything: cached, or to generate (with its cost if ``estimate``).
        Notes in ``lock_problems`` where the lockfile differs from what a render would write."""
        self.lock_problems = []
        for name in self.order:
            asset = self.project.assets[name]
            outcome = Outcome(name, "generate", provider=asset.provider, output=asset.output)
            prepared = await self.inputs_of(asset)
            if prepared is None:
                outcome.error = "after its inputs are made"
                if self.provider_is_free(asset):
                    outcome.cost_usd = 0.0
            else:
                files, hashes = prepared
                key = outcome.key = self.key_of(asset, hashes)
                record = await self.lookup(asset, key, adopt=False)
                if record is not None:
                    outcome.status, outcome.record, outcome.sha256 = "cached", record, record["sha256"]
                    if self.lock_entries.get(name) != self.lock_entry(asset, key, hashes, record):
                        self.lock_problems.append(f"asset '{name}': its lockfile entry is missing or out of date")
                elif estimate:
                    outcome.cost_usd = await self._estimate(asset, key, files)
            self.outcomes[name] = outcome
        if self.whole_project:
            self.lock_problems += [
                f"asset '{n}': in the lockfile but no longer in the spec"
                for n in sorted(set(self.lock_entries) - set(self.project.assets))
            ]
        return dict(self.outcomes)

    async def _estimate(self, asset: Asset, key: str, files: list[InputFile]) -> float | None:
        from renderer.errors import ProviderError

        try:
            return await self.providers.get(asset.provider).estimate(self.request_of(asset, key, files))
        except ProviderError as exc:
            self.reporter.note(f"  note: no estimate for '{asset.name}': {exc.message}")
            return None


def _copy_file(source: Path, dest: Path) -> None:
    import shutil

    shutil.copyfile(source, dest)


def run_project(project: Project, options: RenderOptions, reporter: Reporter, spec_bytes: bytes) -> RunResult:
    run = Run(project, options, reporter, spec_bytes)
    entry = run.plan if options.mode in ("plan", "check") else run.render
    return anyio.run(entry)
