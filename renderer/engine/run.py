"""One run over a project: render (normal or --locked) or plan (dry run or --check).

The run as a whole goes through three phases:

    preflight  the output directory can be written and belongs to this project; output folders lead
               nowhere outside it; every provider that has something to make is usable (keys, URLs) —
               asked only when one is not
    walk       every asset through the phases below, each as soon as the assets it needs are done,
               free slots going to the longest chain ahead (scheduler.run_graph)
    finish     the lockfile flushed (and pruned of removed assets after a complete run), what a killed
               run left half-written removed, the manifest, and the no-op snapshot (after a run with
               failures too: one that the no-op never takes and that decides the failed assets again)

and every asset through these, each a collaborator of its own:

    inputs     hash its inputs: files by content, remembered by size and mtime (inputs.InputHasher);
               assets by the sha256 of their output
    key        the cache key from its recipe (key.asset_key)
    find       the output in the cache, or adopted from the output directory where the lockfile
               vouches for it (outputs.Outputs.find)
    -- plan and check stop here (plan.Planner): "cached", or "generate" with an estimated cost --
    verify     --locked: the lockfile must name this key, and a found output its sha256
    generate   make it, once per key however many assets share it (generation.Generation, which
               hands the job to the Executor)
    copy out   into the output directory (outputs.Outputs.copy_out); damaged cache bytes are made again
    book       its lockfile entry, written in the background (bookkeeping.Books)

Collaborators that a test or a new backend swaps are passed in, with defaults: the executor, the blob
store, the HTTP session (its transport), the clock and the reporter.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from renderer.dag import closure, critical_path_lengths, topological_order
from renderer.engine.bookkeeping import Books, lock_entry, manifest_entry
from renderer.engine.budget import Budget
from renderer.engine.claims import Claims
from renderer.engine.executor import Executor, LocalExecutor
from renderer.engine.generation import Generation, utc_now
from renderer.engine.inputs import InputHasher, Inputs
from renderer.engine.journal import Journal
from renderer.engine.key import cache_key, recipe
from renderer.engine.outputs import Outputs
from renderer.engine.plan import Planner
from renderer.engine.pool import ProviderPool
from renderer.engine.results import (
    Outcome,
    RenderOptions,
    Reporter,
    RunResult,
    Visit,
    failure_message,
    secret_scrubber,
)
from renderer.engine.scheduler import run_graph
from renderer.engine.takes import chosen_take, held_message
from renderer.engine.why import why_made
from renderer.errors import CacheError, JobWaiting, SetupError, UsageError
from renderer.providers.base import HttpSession, ProviderContext
from renderer.records import AssetStatus, OutputRecord, RunMode, StateAsset
from renderer.spec.model import Asset, Project, take_name
from renderer.store.blobs import Store
from renderer.store.cache import Cache
from renderer.store.projectlock import state_dir_for
from renderer.store.remote import GuardedRemote, Remote, RemoteError, open_remote
from renderer.store.state import load_state, state_path, take_stamps

EXPLAINED_AT_ONCE = 500  # a plan's outcomes to make whose old recipes are read in one query


class Run:
    def __init__(
        self,
        project: Project,
        options: RenderOptions,
        reporter: Reporter,
        spec_bytes: bytes,
        *,
        executor: Executor | None = None,
        store: Store | None = None,
        http: HttpSession | None = None,
        clock: Callable[[], str] = utc_now,
    ) -> None:
        self.project = project
        self.options = options
        self.mode = RunMode(options.mode)
        self.reporter = reporter
        self.spec_bytes = spec_bytes
        deps = project.deps()
        unknown = [n for n in options.selection if n not in project.assets]
        if unknown:
            from renderer.spec.schema import did_you_mean  # loads jsonschema: only a bad selection needs it

            names = sorted(project.assets)
            raise UsageError(
                "; ".join(f"no asset named '{n}' in {project.display}{did_you_mean(n, names)}" for n in unknown)
            )
        members = closure(deps, options.selection) if options.selection else set(deps)
        # the whole spec: every asset, or (a part of a spec) every asset of the part and the rest unchanged
        self.whole_project = members == set(deps)
        self.part = options.part
        premade = options.part.premade if options.part is not None else {}
        members -= premade.keys()
        if self.whole_project and options.part is None:  # every asset, all of whose inputs are in the spec
            self.deps, self.order = deps, project.order()
        else:
            self.deps = {n: [x for x in d if x in members] for n, d in deps.items() if n in members}
            self.order = topological_order(self.deps)
        # which ready job starts first matters when jobs take time; a plan makes none (and the order of its
        # report is self.order's)
        self.priority = critical_path_lengths(self.deps, self.order) if not self.mode.plans else {}

        self.books = Books(
            project,
            writes_lock=self.mode.writes_lock,
            elsewhere=options.part.elsewhere if options.part is not None else None,
        )
        if self.mode.plans:
            self.books.read_only()
        self.cache = Cache(options.cache_dir, store)
        locked = self.books.locked  # its keys, in the order of the walk: the index is read in batches
        self.cache.expect([locked[name].key for name in self.order if name in locked])
        if self.mode.plans:
            self.cache.answer_as_of_now(lookups=len(self.order))
        self.state_file = state_path(options.cache_dir, project.path)
        if options.part is None:
            prior = self.prior = take_stamps(self.state_file, options.version, outputs=not self.mode.plans)
        else:
            prior = self.prior = load_state(self.state_file, options.version)
            if prior is None:
                raise UsageError("a part of a spec is decided against the snapshot it came from, which is gone")
        self.hasher = InputHasher(project, prior.files if prior else None)
        self.remote = self.open_remote(options)
        self.outputs = Outputs(
            project, self.cache, self.books.locked, prior.assets if prior else None, remote=self.remote
        )
        self.pool = ProviderPool(
            project.providers, ProviderContext(self.cache.scratch, options.environ, http or HttpSession())
        )
        state_dir = options.state_dir or state_dir_for(project.path)
        journal = Journal(state_dir / "journal")
        journal.adopt_legacy(options.cache_dir / "journal", set(project.assets))  # where render <= 0.8 kept it
        self.journal = journal
        self.budget = Budget(options.max_cost, options.allow_unknown_cost)
        local = LocalExecutor(self.pool, journal, self.cache.scratch, reporter.progress)
        if executor is None and options.executor.kind != "local" and not self.mode.plans:
            from renderer.engine.distributed import DaskExecutor  # only a cluster needs it

            executor = DaskExecutor(
                options.executor, local, self.pool.settings_for, self.remote, self.cache.scratch, reporter.progress
            )
        self.executor = executor or local
        self.generation = Generation(
            self.pool,
            self.executor,
            self.cache,
            journal,
            self.books.locked,
            jobs=options.jobs,
            priority=self.priority,
            on_start=reporter.started,
            project_root=project.root,
            remote=self.remote,
            budget=self.budget,
            clock=clock,
        )
        self.claims = (
            Claims(
                self.remote,
                journal,
                timeout=options.claim_timeout,
                on_state=reporter.progress,
                on_note=reporter.note,
            )
            if self.remote is not None and self.remote.push and self.mode is RunMode.RENDER
            else None
        )
        self.planner = Planner(self.locate, self.outputs, self.books.locked, self.pool, self.generation.slots, reporter)
        self.scrub = secret_scrubber(options.environ)
        self.recipes: dict[str, dict[str, object]] = {}
        self.unexplained: list[Outcome] = []  # a plan's outcomes to make, explained EXPLAINED_AT_ONCE at a time
        self.outcomes: dict[str, Outcome] = {}
        self.inflight: dict[str, anyio.Event] = {}
        self.held_by: dict[str, str] = {}  # held asset -> the asset with takes whose pick it waits for
        # the takes of assets with takes, whose outcomes the asset's own visit reads
        self.take_names = {take for asset in project.assets.values() if asset.takes > 1 for take in asset.take_names}
        for name, digest in premade.items():
            self.outcomes[name] = Outcome(name, AssetStatus.CACHED, sha256=digest)

    def open_remote(self, options: RenderOptions) -> Remote | None:
        """The shared cache, if one is named. One that cannot be reached fails --locked (which must not fall
        back to paying) and is passed over, with a note, by everything else."""
        if not options.remote:
            return None
        try:
            return GuardedRemote(open_remote(options.remote, push=options.remote_push), self.cache.notes.append)
        except RemoteError as exc:
            if self.mode is RunMode.LOCKED:
                raise CacheError(f"{exc}; --locked needs it to restore outputs") from None
            self.cache.notes.append(f"note: {exc}; rendering without the remote")
            return None

    def unchanged(self) -> dict[str, StateAsset]:
        """A part of a spec: the spec's other assets, and those it took as made, as the snapshot it was
        decided against has them, in its order (its outputs'); nothing for a whole spec."""
        if self.part is None or self.prior is None:
            return {}
        taken = self.part.elsewhere.union(self.part.premade)
        return {name: asset for name, asset in self.prior.assets.items() if name in taken}

    # ---- the walk

    def made(self, name: str) -> str | None:
        outcome = self.outcomes.get(name)
        return outcome.sha256 if outcome is not None else None

    async def walk(self, visit: Visit) -> dict[str, Outcome]:
        """Run ``visit`` for every asset of the run once its inputs are done; a failure skips what needs it."""

        async def one(name: str) -> Outcome:
            asset = self.project.assets[name]
            outcome = Outcome(name, AssetStatus.FAILED, provider=asset.provider, output=asset.output)
            try:
                await visit(asset, outcome)
            except JobWaiting as exc:
                outcome.status, outcome.error = AssetStatus.WAITING, self.scrub(failure_message(exc, name))
            except Exception as exc:  # a provider bug must not take the other assets down
                outcome.status, outcome.error = AssetStatus.FAILED, self.scrub(failure_message(exc, name))
            self.outcomes[name] = outcome
            if not self.mode.plans:
                self.reporter.finished(outcome)
            elif name not in self.take_names:  # a plan reports no records (100,000 of them: 70 MB)
                outcome.record = None
            return outcome

        def skip(name: str, reason: str) -> Outcome:
            asset = self.project.assets[name]
            status = AssetStatus.SKIPPED
            picker = next((self.held_by[d] for d in self.deps.get(name, ()) if d in self.held_by), None)
            if picker is not None:  # waiting for a pick is no failure: made once it is picked
                status, reason = AssetStatus.HELD, f"needs a pick of '{picker}'"
                self.held_by[name] = picker
            outcome = Outcome(name, status, provider=asset.provider, output=asset.output, error=reason)
            self.outcomes[name] = outcome
            if not self.mode.plans:
                self.reporter.finished(outcome)
            return outcome

        await run_graph(
            self.order,
            self.deps,
            one,
            skip,
            keep_going=self.options.keep_going,
            priority=self.priority,
            max_started=max(256, 4 * self.options.jobs),
        )
        return {name: self.outcomes[name] for name in self.order if name in self.outcomes}

    async def locate(self, asset: Asset, outcome: Outcome) -> tuple[Inputs, str] | None:
        """Phases inputs and key: None when an upstream output is still to be made (plan)."""
        inputs = await self.hasher.inputs_of(asset, self.made)
        if inputs is None:
            return None
        cls = self.pool.class_of(asset.provider)
        implementation = self.pool.settings_for(asset.provider).use
        made_from = recipe(asset, implementation, cls.recipe_version, inputs.hashes)
        outcome.key = cache_key(made_from)
        self.recipes[asset.name] = made_from
        return inputs, outcome.key

    def explain(self, outcomes: list[Outcome]) -> None:
        """Say why each of ``outcomes``' assets is made (again), reading the recipes their locked outputs were
        made from in one query."""
        replaced = {}  # name -> the key of its locked output, made from another recipe
        for outcome in outcomes:
            locked = self.books.locked.get(outcome.name)
            if locked is not None and outcome.key is not None and locked.key != outcome.key:
                replaced[outcome.name] = locked.key
        old = self.cache.recipes_of(list(replaced.values())) if replaced else {}
        for outcome in outcomes:
            made_from = self.recipes.get(outcome.name)
            if made_from is None or outcome.key is None:
                continue
            was = old.get(replaced[outcome.name]) if outcome.name in replaced else None
            sources = {ref.slot: ref.target for ref in self.project.assets[outcome.name].inputs}
            outcome.reason = why_made(made_from, outcome.key, self.books.locked.get(outcome.name), was, sources)

    # ---- plan and check

    def plan_visit(self, plain: Visit) -> Visit:
        """The planner's visit, and the picked take for an asset with takes."""

        async def visit(asset: Asset, outcome: Outcome) -> None:
            if asset.takes <= 1:
                await plain(asset, outcome)
                if outcome.status is AssetStatus.GENERATE:  # only what is to be made is explained
                    self.unexplained.append(outcome)
                    if len(self.unexplained) == EXPLAINED_AT_ONCE:
                        self.explain_unexplained()
                else:
                    self.recipes.pop(asset.name, None)
                return
            take = self.picked(asset, outcome)
            if take is None:
                return
            if take.record is None or take.key is None:
                outcome.status, outcome.error, outcome.cost_usd = AssetStatus.GENERATE, "after its takes are made", 0.0
                return
            outcome.status, outcome.record, outcome.sha256, outcome.key = (
                AssetStatus.CACHED,
                take.record,
                take.record.sha256,
                take.key,
            )
            locked = self.books.locked.get(asset.name)
            if locked is None or locked.sha256 != take.record.sha256 or locked.key != take.key:
                self.planner.lock_problems.append(f"asset '{asset.name}': its lockfile entry is missing or out of date")

        return visit

    def explain_unexplained(self) -> None:
        """Explain the plan's outcomes to make that are not yet, and let their recipes go: a matrix edit of
        100,000 variants holds a few hundred recipes at a time, not 100 MB of them."""
        self.explain(self.unexplained)
        for outcome in self.unexplained:
            self.recipes.pop(outcome.name, None)
        self.unexplained.clear()

    async def plan(self) -> RunResult:
        """What a render would do, with no provider call but cost estimates, and whether the lockfile is current."""
        try:
            # --check answers "is there work?" and asks no provider anything; a dry run asks for estimates
            outcomes = await self.walk(self.plan_visit(self.planner.visit(estimate=self.mode is RunMode.PLAN)))
            self.explain_unexplained()
            to_make = [outcome for outcome in outcomes.values() if outcome.status is AssetStatus.GENERATE]
        finally:
            await self.pool.aclose()
            self.cache.close()
        journaled = self.journal.entry_keys()
        for outcome in to_make:  # a plan says which paid jobs wait for the user, too
            entry = self.journal.get(outcome.key) if outcome.key in journaled else None
            if entry is not None and entry.waiting:
                outcome.error = f"waits: {entry.why()}; see render resolve"
        problems = self.planner.lock_problems
        if self.whole_project:
            problems += [f"asset '{n}': in the lockfile but no longer in the spec" for n in self.books.stale_names()]
        return RunResult(
            outcomes,
            unchanged=self.unchanged(),
            lock_current=not problems,
            lock_problems=problems,
            notes=[self.scrub(note) for note in self.cache.notes],
        )

    # ---- render

    def picked(self, asset: Asset, outcome: Outcome) -> Outcome | None:
        """The outcome of the take ``asset`` is, or None (and ``outcome`` held) with no pick yet."""
        take = chosen_take(asset, self.books.locked.get(asset.name))
        if take is None:
            outcome.status, outcome.error = AssetStatus.HELD, held_message(asset, self.project.display)
            self.held_by[asset.name] = asset.name
            return None
        return self.outcomes[take_name(asset.name, take)]

    async def pick_visit(self, asset: Asset, outcome: Outcome) -> None:
        """An asset with takes: the picked take's output under the asset's own name (takes.py)."""
        take = self.picked(asset, outcome)
        if take is None or take.record is None or take.key is None:
            return
        await self.outputs.copy_out(asset, take.key, take.record)
        outcome.status, outcome.record, outcome.sha256, outcome.key = (
            AssetStatus.CACHED,
            take.record,
            take.record.sha256,
            take.key,
        )
        pick = int(take.name.rsplit(".take", 1)[1])
        entry = lock_entry(asset, take.key, {f"take{pick}": take.record.sha256}, take.record)._replace(pick=pick)
        self.books.record(asset.name, entry, urgent=False)

    async def render_visit(self, asset: Asset, outcome: Outcome) -> None:
        if asset.takes > 1:
            return await self.pick_visit(asset, outcome)
        located = await self.locate(asset, outcome)
        assert located is not None  # upstream outcomes are done before this runs
        inputs, key = located
        status, record = await self.obtain(asset, key, inputs)
        try:
            await self.outputs.copy_out(asset, key, record)
        except CacheError:
            if self.mode is RunMode.LOCKED:
                raise
            self.reporter.note(
                f"  note: the cached output of '{asset.name}' was damaged (its sha256 did not match); "
                "it was removed and is made again"
            )
            status, record = AssetStatus.GENERATED, await self.generation.generate(asset, key, inputs.files)
            await self.outputs.copy_out(asset, key, record)
        outcome.status, outcome.record, outcome.sha256 = status, record, record.sha256
        if status is AssetStatus.GENERATED:
            self.explain([outcome])
            self.cache.remember_recipe(key, self.recipes[asset.name])
        del self.recipes[asset.name]  # 100,000 recipes would hold a hundred megabytes to the end
        outcome.cost_usd = record.cost_usd if status is AssetStatus.GENERATED else None
        paid = status is AssetStatus.GENERATED and not self.pool.class_of(asset.provider).free
        self.books.record(asset.name, lock_entry(asset, key, inputs.hashes, record), urgent=paid)

    async def obtain(self, asset: Asset, key: str, inputs: Inputs) -> tuple[AssetStatus, OutputRecord]:
        """Phases find, verify and generate."""
        while key in self.inflight:  # the same recipe is being made for another asset
            await self.inflight[key].wait()
        record = await self.outputs.find(asset, key, adopt=True)
        if key in self.cache.damaged:
            self.cache.damaged.remove(key)
            self.reporter.note(f"  note: the cache entry of '{asset.name}' had lost its bytes; it is made again")
        locked = self.books.locked.get(asset.name) if self.mode is RunMode.LOCKED else None
        if self.mode is RunMode.LOCKED:
            if locked is None or locked.key != key:
                raise CacheError(
                    "the lockfile has no entry for this recipe (the spec or an input changed); "
                    "render without --locked and commit the new lockfile"
                )
            if record is not None and record.sha256 != locked.sha256:
                raise CacheError("the cached output differs from the one in the lockfile")
        if record is not None:
            return AssetStatus.CACHED, record
        if self.mode is RunMode.LOCKED:
            cls = self.pool.class_of(asset.provider)
            if not (cls.free and cls.deterministic):
                where = f"the cache or the remote {self.remote.url}" if self.remote is not None else "the cache"
                raise CacheError(
                    f"the output is not in {where}, and --locked never calls the paid "
                    f"provider '{asset.provider}'; render without --locked, or restore the cache"
                )
        event = self.inflight[key] = anyio.Event()
        try:
            if self.claims is not None and not self.pool.class_of(asset.provider).free:
                # A paid job: claimed on the remote first, so that no other machine pays for it too
                other = lambda: self.outputs.find(asset, key, adopt=True)  # noqa: E731
                async with self.claims.hold(key, asset.name, asset.provider, other) as held:
                    if held.found is not None:
                        return AssetStatus.CACHED, held.found
                    record = await self.generation.generate(asset, key, inputs.files, held)
            else:
                record = await self.generation.generate(asset, key, inputs.files)
        finally:
            del self.inflight[key]
            event.set()
        if locked is not None and record.sha256 != locked.sha256:
            raise CacheError(
                f"made again, the output has sha256 {record.sha256[:12]}..., "
                f"but the lockfile says {str(locked.sha256)[:12]}..."
            )
        return AssetStatus.GENERATED, record

    async def preflight(self) -> None:
        if self.project.confine:
            self.outputs.check_confined(self.order)
        if self.mode is not RunMode.LOCKED:  # --locked calls no paid provider
            await self.check_providers()
        self.outputs.claim_directory()

    async def check_providers(self) -> None:
        used = sorted({self.project.assets[name].provider for name in self.order})
        if not any(self.pool.get(name).preflight() for name in used):
            return
        # Some provider is not usable (a missing key, say): that matters only if it has something to make.
        planned = await self.walk(self.plan_visit(self.planner.visit(estimate=False)))
        self.outcomes.clear()
        self.planner.lock_problems.clear()
        needed = sorted({o.provider for o in planned.values() if o.status is AssetStatus.GENERATE})
        problems = [p for name in needed for p in self.pool.get(name).preflight()]
        if problems:
            raise SetupError("; ".join(problems))

    async def render(self) -> RunResult:
        try:
            await self.preflight()
        except BaseException:
            await self.pool.aclose()
            self.cache.close()
            raise
        self.reporter.begin(len(self.order))
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self.books.writer)
                if self.claims is not None:
                    group.start_soon(self.claims.heartbeat)
                await self.walk(self.render_visit)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self.executor.aclose()
            for name in self.order:
                if name not in self.outcomes:
                    asset = self.project.assets[name]
                    self.outcomes[name] = Outcome(
                        name, AssetStatus.INTERRUPTED, provider=asset.provider, output=asset.output
                    )
            result = self.finish()
            self.cache.close()
            self.reporter.end()
        return result

    def finish(self) -> RunResult:
        outcomes = {name: self.outcomes[name] for name in self.order}
        complete = all(o.ok for o in outcomes.values())
        if self.whole_project and complete:
            self.books.forget_removed()
        entries = {
            name: manifest_entry(self.project.assets[name], o.status, o.key or "", o.record)
            for name, o in outcomes.items()
            if o.ok and o.record is not None
        }
        for name, entry in entries.items():
            pick = self.books.pending_pick(name)
            if pick is not None:
                entries[name] = entry._replace(pick=pick)
        self.books.close()
        self.books.clean_stale_temporaries()
        kept = self.unchanged()
        manifest, lines = self.books.write_manifest(entries, kept)
        interrupted = any(o.status is AssetStatus.INTERRUPTED for o in outcomes.values())
        if self.whole_project and len(outcomes) == len(self.order) and not interrupted:
            # after a failure too: what failed (and what it held up) is decided again, the rest as it is
            self.books.save_snapshot(
                self.state_file,
                self.options.version,
                self.spec_bytes,
                self.hasher.stamps,
                {name: (entry, lines[name], self.outputs.stats[name]) for name, entry in entries.items()},
                complete=complete,
                before=self.prior if self.part is not None else None,
                premade=self.part.premade.keys() if self.part is not None else (),
                providers=self.pool.plugin_stamps({self.project.assets[name].provider for name in self.order}),
            )
        notes = [self.scrub(note) for note in self.cache.notes]
        over = self.budget.summary()
        return RunResult(outcomes, manifest=manifest, notes=[*notes, over] if over else notes, unchanged=kept)


def run_project(
    project: Project, options: RenderOptions, reporter: Reporter, spec_bytes: bytes, **collaborators: object
) -> RunResult:
    run = Run(project, options, reporter, spec_bytes, **collaborators)  # type: ignore[arg-type]
    return anyio.run(run.plan if RunMode(options.mode).plans else run.render)


__all__ = ["Outcome", "RenderOptions", "Reporter", "Run", "RunResult", "run_project"]
