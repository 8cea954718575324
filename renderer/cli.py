"""The `render` command.

    render [OPTIONS] SPEC [ASSET ...]   render the project (or only these assets and what they need)
    render validate SPEC                check the project file without rendering
    render plan SPEC [ASSET ...]        what would run, what is cached, estimated cost (same as --dry-run)
    render cancel SPEC                  cancel this project's paid jobs still pending (they cost money)
    render resolve SPEC [ASSET ...]     the paid jobs render waits on; settle one whose submit is unconfirmed
    render push SPEC / render pull SPEC every output the lockfile vouches for, to or from the remote cache
    render merge-lock BASE OURS THEIRS  git's merge driver for lockfiles (see the README)
    render schema [-o FILE]             the project file's JSON Schema, for editors
    render usage SPEC                   the providers' quotas (Vrex: the day's music allowance)
    render sandbox                      a local server speaking varg and Vrex, to try a spec for free

Exit status: 0 all done, 1 an asset failed (or --check found work), 2 bad spec or usage, 130 interrupted.
Imports stay lazy: a no-op re-render loads nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renderer import __version__, recipe_versions
from renderer.records import AssetStatus, RunMode

if TYPE_CHECKING:
    from renderer.engine.journal import Journal, JournalEntry
    from renderer.engine.results import ExecutorChoice
    from renderer.engine.run import RunResult
    from renderer.fastpath import Noop
    from renderer.records import Decided, Snapshot, StateAsset
    from renderer.spec.model import Project
    from renderer.store.remote import Remote

COMMANDS = (
    "validate",
    "plan",
    "render",
    "cancel",
    "usage",
    "resolve",
    "pick",
    "review",
    "cost",
    "push",
    "pull",
    "merge-lock",
    "schema",
    "sandbox",
)


def _parser(command: str) -> argparse.ArgumentParser:
    if command == "sandbox":
        parser = argparse.ArgumentParser(
            prog="render sandbox",
            description="Serve varg v1, varg v2 and Vrex on "
            "this machine, to try a spec's remote path without spending money.",
        )
        parser.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default), ::1 or localhost")
        parser.add_argument("--port", type=int, default=8787)
        parser.add_argument("--config", metavar="FILE", help="YAML sandbox settings (latency, faults, limits)")
        parser.add_argument("--latency", type=float, help="seconds from submit to done")
        parser.add_argument("--fault-rate", type=float, help="share of requests that get an injected fault")
        parser.add_argument("--log", metavar="FILE", help="append every request as a JSON line")
        return parser
    if command in ("push", "pull"):
        parser = argparse.ArgumentParser(
            prog=f"render {command}",
            description={
                "push": "Upload every output the lockfile vouches for to the remote cache (idempotent).",
                "pull": "Download every output the lockfile vouches for from the remote cache into the cache and "
                "the output directory (idempotent).",
            }[command],
        )
        parser.add_argument("spec")
        parser.add_argument("--remote", metavar="URL", help="the remote (default: RENDER_REMOTE, else the spec's)")
        parser.add_argument("--cache-dir", metavar="DIR")
        return parser
    if command == "schema":
        parser = argparse.ArgumentParser(
            prog="render schema",
            description="Print the project file's JSON Schema (or write it to a file), for editor completion and "
            "checking: point yaml-language-server at it (see the README).",
        )
        parser.add_argument("-o", "--output", metavar="FILE", help="write it here instead of printing it")
        return parser
    if command == "merge-lock":
        parser = argparse.ArgumentParser(
            prog="render merge-lock",
            description="Merge two branches' lockfiles asset by asset (git's merge driver: "
            "git config merge.render-lock.driver 'render merge-lock %%O %%A %%B'). Writes the result to OURS; "
            "exits 1 when both branches changed one asset differently.",
        )
        parser.add_argument("base")
        parser.add_argument("ours")
        parser.add_argument("theirs")
        return parser
    if command == "cost":
        parser = argparse.ArgumentParser(
            prog="render cost",
            description="What the project's outputs cost, per provider and per asset, from the lockfile.",
        )
        parser.add_argument("spec")
        parser.add_argument("--json", action="store_true", help="print it as JSON")
        return parser
    if command == "review":
        parser = argparse.ArgumentParser(
            prog="render review",
            description="Write a self-contained gallery of the outputs (takes side by side) into the output "
            "directory: review/index.html. --serve serves it with a Pick button on every take.",
        )
        parser.add_argument("spec")
        parser.add_argument("--out", metavar="DIR", help="output directory (default: out/ beside the spec)")
        parser.add_argument("--serve", action="store_true", help="serve the page, with Pick buttons, until Ctrl-C")
        parser.add_argument("--host", default="127.0.0.1", help="where --serve listens (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8790, help="--serve's port (default 8790; 0: any free one)")
        return parser
    if command == "pick":
        parser = argparse.ArgumentParser(
            prog="render pick",
            description="Choose which take of an asset with takes is the asset (written into the lockfile); the "
            "next render copies it into the asset's output and makes what depends on it.",
        )
        parser.add_argument("spec")
        parser.add_argument("asset")
        parser.add_argument("take", type=int, metavar="N")
        return parser
    if command == "resolve":
        parser = argparse.ArgumentParser(
            prog="render resolve",
            description="Show the paid jobs this project's journal holds, and settle an asset whose submit is "
            "unconfirmed (the request went out, its answer was lost): render never pays for it again on its own.",
        )
        parser.add_argument("spec")
        parser.add_argument("assets", nargs="*", metavar="ASSET")
        parser.add_argument("--cache-dir", metavar="DIR", help="where an older render kept the journal")
        parser.add_argument(
            "--remote",
            metavar="URL",
            help="the remote whose claim to settle too (default: RENDER_REMOTE, else the spec's)",
        )
        settle = parser.add_mutually_exclusive_group()
        settle.add_argument(
            "--job-id", metavar="ID", help="the provider made this job for ASSET: the next render collects it"
        )
        settle.add_argument(
            "--resubmit",
            action="store_true",
            help="no job was made (or paying again is fine): the next render sends ASSET's request again",
        )
        settle.add_argument(
            "--forget",
            action="store_true",
            help="drop ASSET's journal entry whatever it holds (a job the provider no longer knows, say)",
        )
        return parser
    if command in ("cancel", "usage"):
        parser = argparse.ArgumentParser(
            prog=f"render {command}",
            description={
                "cancel": "Cancel this project's remote jobs that were submitted but not collected. They are paid for; "
                "an interrupted render collects them instead.",
                "usage": "Show the quota of every provider in the project that reports one.",
            }[command],
        )
        parser.add_argument("spec")
        parser.add_argument("--cache-dir", metavar="DIR")
        return parser
    parser = argparse.ArgumentParser(
        prog=f"render {command}" if command != "render" else "render",
        description={
            "render": "Render the media assets a YAML project file describes.",
            "validate": "Check a project file and report every problem in it.",
            "plan": "Show what a render would generate, what is cached, and the estimated cost.",
        }[command],
        epilog="Commands: render validate SPEC | render plan SPEC | render cancel SPEC | render usage SPEC | "
        "render resolve SPEC | render push SPEC | render pull SPEC | render merge-lock BASE OURS THEIRS | "
        "render schema | render sandbox | "
        "render --version. "
        "Exit status: 0 done, 1 an asset failed or waits or --check found work, 2 bad spec or usage, "
        "130 interrupted, 143 terminated.",
    )
    parser.add_argument("spec", help="the project file (YAML)")
    if command == "validate":
        parser.add_argument("--json", action="store_true", help="print the problems as JSON on stdout")
        return parser
    parser.add_argument("assets", nargs="*", metavar="ASSET", help="render only these assets and what they need")
    parser.add_argument("-j", "--jobs", type=int, default=8, metavar="N", help="at most N jobs at once (default 8)")
    parser.add_argument(
        "-k",
        "--keep-going",
        action="store_true",
        help="after a failure, skip only what needs the failed asset and finish the rest",
    )
    parser.add_argument("--out", metavar="DIR", help="output directory (default: out/ beside the spec)")
    parser.add_argument(
        "--cache-dir", metavar="DIR", help="cache directory (default: $RENDER_CACHE_DIR, else $XDG_CACHE_HOME/render)"
    )
    parser.add_argument(
        "--remote",
        metavar="URL",
        help="a shared cache to read (and push to): a folder; beats RENDER_REMOTE and the spec",
    )
    parser.add_argument("--no-remote", action="store_true", help="ignore the remote the spec or RENDER_REMOTE names")
    parser.add_argument(
        "--executor",
        metavar="WHERE",
        help="where local jobs run: local (default), dask (worker processes on this machine), or "
        "dask://HOST:PORT (a Dask scheduler); beats RENDER_EXECUTOR and the spec",
    )
    parser.add_argument("--workers", type=int, metavar="N", help="worker processes of --executor dask (default: cores)")
    parser.add_argument(
        "--max-cost",
        type=float,
        metavar="USD",
        help="the most this run may spend on paid jobs; beats the spec's 'budget:'",
    )
    parser.add_argument(
        "--allow-unknown-cost", action="store_true", help="under a budget, submit jobs whose cost cannot be estimated"
    )
    parser.add_argument("--json", action="store_true", help="print a machine-readable summary on stdout")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only problems")
    parser.add_argument("-v", "--verbose", action="store_true", help="a line for every asset, cached ones too")
    if command == "render":
        modes = parser.add_mutually_exclusive_group()
        modes.add_argument(
            "-n", "--dry-run", action="store_true", help="show what would run and what is cached; call no provider"
        )
        modes.add_argument(
            "--check", action="store_true", help="exit 1 if anything would be generated or the lockfile is out of date"
        )
        modes.add_argument(
            "--locked",
            action="store_true",
            help="render from the cache only, verifying every output against the lockfile",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-V", "--version"):
        print(f"render {__version__}")
        return 0
    command = argv.pop(0) if argv and argv[0] in COMMANDS else "render"
    if not argv and command == "render":
        _parser("render").print_help()
        return 2
    if command == "render" and argv and not argv[0].startswith("-") and _looks_like_command(argv[0]):
        import difflib

        close = difflib.get_close_matches(argv[0], COMMANDS, n=1)
        hint = f" (did you mean 'render {close[0]}'?)" if close else ""
        print(
            f"render: '{argv[0]}' is neither a command ({', '.join(COMMANDS)}) nor a project file{hint}",
            file=sys.stderr,
        )
        return 2
    try:
        # intermixed: options may come after the spec and between asset names (render p.yaml -q hero)
        args = _parser(command).parse_intermixed_args(argv)
    except SystemExit as exc:
        return 0 if exc.code == 0 else 2
    terminated = _stop_on_sigterm_as_on_ctrl_c()
    try:
        if command == "validate":
            return _validate(args)
        if command == "sandbox":
            return _sandbox(args)
        if command == "cancel":
            return _cancel(args)
        if command == "usage":
            return _usage(args)
        if command == "resolve":
            return _resolve(args)
        if command == "pick":
            return _pick(args)
        if command == "review":
            return _review(args)
        if command == "cost":
            return _cost(args)
        if command == "merge-lock":
            return _merge_lock(args)
        if command == "schema":
            return _schema(args)
        if command in ("push", "pull"):
            return _transfer(args, command)
        if command == "plan" or args.dry_run:
            mode = RunMode.PLAN
        elif args.check:
            mode = RunMode.CHECK
        elif args.locked:
            mode = RunMode.LOCKED
        else:
            mode = RunMode.RENDER
        return _render(args, mode)
    except KeyboardInterrupt:
        print(
            f"render: {'terminated (SIGTERM)' if terminated else 'interrupted'}. Finished assets are saved in the "
            "cache and the lockfile, and paid jobs in the journal; the next run picks up where this one stopped.",
            file=sys.stderr,
        )
        return 143 if terminated else 130
    except BrokenPipeError:
        return 1
    except OSError as exc:  # a disk that is full, read-only or in the way: say which file, and what to do
        print(f"render: error: {describe_os_error(exc)}", file=sys.stderr)
        if getattr(args, "json", False):
            import json

            print(json.dumps({"status": "error", "message": describe_os_error(exc)}))
        return 1
    except Exception as exc:
        from renderer.errors import RenderError

        if isinstance(exc, RenderError):
            _print_error(exc, getattr(args, "json", False))
            return exc.exit_status
        raise


def _looks_like_command(word: str) -> bool:
    """A bare word with no file behind it and no file-like shape: a mistyped command, not a spec."""
    return not os.path.exists(word) and "." not in word and "/" not in word and os.sep not in word


def _stop_on_sigterm_as_on_ctrl_c() -> list[int]:
    """SIGTERM (what CI sends on cancel) takes the path Ctrl-C takes: inside the event loop, asyncio's
    SIGINT handler cancels the run, so local jobs stop their ffmpeg children and finished work and the
    journal are kept; outside it, KeyboardInterrupt. Returns a list that holds the signal once one came."""
    import signal

    received: list[int] = []

    def on_sigterm(signum: int, frame: Any) -> None:
        received.append(signum)
        handler = signal.getsignal(signal.SIGINT)
        if callable(handler) and handler is not signal.default_int_handler:
            handler(signal.SIGINT, frame)
        else:
            raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, on_sigterm)
    except ValueError:  # not the main thread (render called as a library): leave signals alone
        pass
    return received


def describe_os_error(exc: OSError) -> str:
    import errno

    where = f" {exc.filename}" if exc.filename else ""
    what = exc.strerror or str(exc)
    hint = {
        errno.ENOSPC: "free some space and render again; finished outputs are kept",
        errno.EDQUOT: "free some space and render again; finished outputs are kept",
        errno.EROFS: "the filesystem is read-only; choose a writable place (--out, --cache-dir)",
        errno.EACCES: "check its permissions",
        errno.EPERM: "check its permissions, and whether it is immutable (lsattr)",
        errno.ENOTDIR: "a file stands where a folder belongs",
        errno.EEXIST: "a file stands where a folder belongs",
        errno.EISDIR: "a folder stands where a file belongs",
    }.get(exc.errno or 0, "")
    return f"cannot write or read{where}: {what}" + (f"; {hint}" if hint else "")


def _print_error(exc: Exception, json_mode: bool) -> None:
    from renderer.errors import SpecError

    if isinstance(exc, SpecError):
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        files = sorted({p.file for p in exc.problems})
        count = len(exc.problems)
        print(
            f"{count} problem{'s' if count != 1 else ''} in {', '.join(files)}; nothing was rendered.", file=sys.stderr
        )
        if json_mode:
            import json

            print(
                json.dumps(
                    {
                        "status": "invalid",
                        "problems": [
                            {"file": p.file, "line": p.line, "column": p.column, "message": p.message}
                            for p in exc.problems
                        ],
                    }
                )
            )
    else:
        print(f"render: error: {exc}", file=sys.stderr)
        if json_mode:
            import json

            print(json.dumps({"status": "error", "message": str(exc)}))


def _cache_dir(args: argparse.Namespace) -> Path:
    if args.cache_dir:
        path = Path(args.cache_dir).expanduser().resolve()
    else:
        from renderer.store.paths import default_cache_dir

        path = default_cache_dir().resolve()
    if path.exists() and not path.is_dir():
        from renderer.errors import UsageError

        raise UsageError(f"the cache directory {path} is a file; remove it, or choose another (--cache-dir)")
    return path


def _keep_validators_in(cache_dir: Path) -> None:
    from renderer.spec.schema import VALIDATORS

    if cache_dir.is_dir():  # the compiled schema is kept with the cache, never where a plan writes nothing
        VALIDATORS.folder = cache_dir / "validators"


def _keep_entries_in(cache_dir: Path) -> None:
    """A big spec's entries as they were read and validated before, by their text, kept with the cache
    (spec/entrycache.py); not with RENDER_INCREMENTAL=0, which reads everything afresh."""
    if cache_dir.is_dir() and os.environ.get("RENDER_INCREMENTAL") != "0":
        from renderer.spec.entrycache import ENTRY_CACHE

        ENTRY_CACHE.path = cache_dir / "entries"


def _validate(args: argparse.Namespace) -> int:
    from renderer.spec.resolve import load_project
    from renderer.store.paths import default_cache_dir

    cache_dir = default_cache_dir().resolve()
    _keep_validators_in(cache_dir)
    _keep_entries_in(cache_dir)
    with _quiet_collector():
        project = load_project(Path(args.spec), args.spec)
    warnings = _machine_warnings(project)
    if args.json:
        import json

        print(json.dumps({"status": "valid", "assets": list(project.assets), "warnings": warnings}))
    else:
        print(f"{args.spec}: valid, {len(project.assets)} asset{'s' if len(project.assets) != 1 else ''}.")
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    return 0


def _machine_warnings(project: Project) -> list[str]:
    from renderer.providers.base import ChecksMachine
    from renderer.providers.registry import provider_class

    checks: dict[str, ChecksMachine | None] = {}  # by provider: a Protocol check costs ~10 us
    warnings: list[str] = []
    for asset in project.assets.values():
        if asset.provider not in checks:
            settings = project.providers.get(asset.provider)
            cls = provider_class(settings.use if settings else asset.provider)
            # a class with the classmethod passes the Protocol check
            checks[asset.provider] = cls if isinstance(cls, ChecksMachine) else None
        checker = checks[asset.provider]
        if checker is not None:
            warnings += [f"asset '{asset.name}': {p}" for p in checker.machine_problems(asset)]
    return warnings


def _render(args: argparse.Namespace, mode: RunMode) -> int:
    if args.jobs < 1:
        from renderer.errors import UsageError  # only here: errors loads dataclasses, which a no-op never needs

        raise UsageError("--jobs must be at least 1")
    started = time.monotonic()
    spec = Path(args.spec)
    cache_dir = _cache_dir(args)
    from renderer.spec.source import read_spec_bytes

    spec_bytes = read_spec_bytes(spec, args.spec)
    out = str(Path(args.out).resolve()) if args.out else None
    stream = sys.stderr if args.json else sys.stdout

    from renderer.store.projectlock import ProjectLock, prepare_state_dir, remove_unused_state_dir, state_dir_for

    state_dir = state_dir_for(spec)
    fresh = not state_dir.exists()
    if mode.plans and fresh:  # plan and check write nothing: no state yet, no render to take turns with
        lock: ProjectLock | contextlib.nullcontext[None] = contextlib.nullcontext()
    else:
        prepare_state_dir(state_dir)
        lock = ProjectLock(state_dir / "lock", args.spec)
    try:
        with lock:
            from renderer.fastpath import try_noop

            noop = try_noop(spec, spec_bytes, cache_dir, out, args.assets, snapshot_version())
            if noop is not None:
                return _report_noop(noop, args, mode, stream, started)
            return _render_slow(args, mode, spec, spec_bytes, cache_dir, state_dir, out, stream, started)
    except Exception as exc:
        from renderer.errors import SpecError, UsageError

        if fresh and isinstance(exc, (SpecError, UsageError)):
            remove_unused_state_dir(state_dir)  # a refused spec leaves nothing beside it
        raise


def _report_noop(noop: Noop, args: argparse.Namespace, mode: RunMode, stream: Any, started: float) -> int:
    manifest = None
    if mode.writes_outputs:
        from renderer.fastpath import write_noop_manifest

        manifest = write_noop_manifest(noop)
    elapsed = time.monotonic() - started
    if args.json:
        import json

        outputs = noop.snapshot.assets
        assets = {
            n: {"status": "cached", "path": str(noop.out_dir / outputs[n].output), "sha256": outputs[n].sha256}
            for n in noop.names
        }
        totals = {"generated": 0, "cached": len(noop.names), "failed": 0, "skipped": 0}
        if mode.plans:
            totals = {"generate": 0, "cached": len(noop.names)}
        document = {
            "status": "ok",
            "mode": str(mode),
            "project": noop.snapshot.project,
            "assets": assets,
            "totals": totals,
            "manifest": str(manifest) if manifest else None,
            "elapsed": round(elapsed, 3),
        }
        if mode.plans:
            document.update(estimated_cost_usd=0.0, lock_current=True)
        print(json.dumps(document))
    elif not args.quiet:
        if args.verbose:
            for name in noop.names:
                print(f"  cached    {name}: {noop.snapshot.assets[name].output}", file=stream)
        if mode is RunMode.CHECK:
            print(f"{args.spec}: up to date; nothing would be generated ({len(noop.names)} cached).", file=stream)
        elif mode is RunMode.PLAN:
            print(f"{args.spec}: nothing to generate; {len(noop.names)} cached.", file=stream)
        else:
            print(
                f"{len(noop.names)} cached, nothing to generate ({elapsed:.2f}s). Outputs in {_rel(noop.out_dir)}",
                file=stream,
            )
    return 0


def _rel(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def _fewer_malloc_arenas() -> None:
    """What MALLOC_ARENA_MAX=2 does, unless the user set it: glibc gives threads that allocate arenas of
    their own (up to eight per core), which the worker threads that hash, copy and probe outputs leave
    fragmented. A 20,000-asset first render peaked at 311 MB with them and 217 MB with two. Set before
    the run starts any thread."""
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(-8, 2)  # M_ARENA_MAX


def _render_slow(
    args: argparse.Namespace,
    mode: RunMode,
    spec: Path,
    spec_bytes: bytes,
    cache_dir: Path,
    state_dir: Path,
    out: str | None,
    stream: Any,
    started: float,
) -> int:
    from renderer.engine.run import RenderOptions, run_project
    from renderer.report import make_reporter
    from renderer.spec.resolve import load_project

    _keep_validators_in(cache_dir)
    _fewer_malloc_arenas()
    incremental = mode is not RunMode.LOCKED and not args.assets and os.environ.get("RENDER_INCREMENTAL") != "0"
    if incremental:
        _keep_entries_in(cache_dir)
    short = _short_way(args, spec, spec_bytes, cache_dir, out) if incremental else None
    if short is not None:
        project, decided, before = short
    else:
        from renderer.store import cache, forked, lockfile, state

        if incremental:  # the short way loaded the snapshot and passed: all of it but the stamps goes now
            state.load_stamps(state.state_path(cache_dir, spec), snapshot_version(), outputs=not mode.plans)
        # the lockfile parsed, and the records it names read, on the other core while the spec loads
        lock_file = lockfile.lock_path(spec.resolve())
        lockfile.read_ahead(lock_file, with_texts=mode.writes_lock)
        cache.read_ahead(cache_dir, lock_file, min_bytes=lockfile.READ_AHEAD_BYTES)
        try:
            with _quiet_collector():
                project = load_project(spec, args.spec, spec_bytes, Path(out) if out else None)
        except BaseException:
            forked.cancel_all()
            raise
        decided, before = None, None
    remote, push = project.remote, project.remote_push
    if os.environ.get("RENDER_REMOTE"):
        remote, push = os.environ["RENDER_REMOTE"], True
    if args.remote:
        remote, push = args.remote, True
    if args.no_remote:
        remote = None
    if args.max_cost is not None and args.max_cost < 0:
        from renderer.errors import UsageError

        raise UsageError("--max-cost must be 0 or more (US dollars)")
    claim_timeout = project.claim_timeout
    if os.environ.get("RENDER_CLAIM_TIMEOUT"):
        try:
            claim_timeout = float(os.environ["RENDER_CLAIM_TIMEOUT"])
        except ValueError:
            from renderer.errors import UsageError

            raise UsageError(
                f"RENDER_CLAIM_TIMEOUT={os.environ['RENDER_CLAIM_TIMEOUT']!r} is not a number of seconds"
            ) from None
    options = RenderOptions(
        cache_dir=cache_dir,
        state_dir=state_dir,
        remote=remote,
        remote_push=push,
        claim_timeout=claim_timeout,
        executor=_executor_choice(args, project),
        max_cost=args.max_cost if args.max_cost is not None else project.budget,
        allow_unknown_cost=args.allow_unknown_cost,
        part=decided,
        mode=mode,
        jobs=args.jobs,
        keep_going=args.keep_going,
        selection=list(args.assets),
        version=snapshot_version(),
    )
    quiet = args.quiet or mode.plans
    reporter = make_reporter(stream, quiet=quiet, verbose=args.verbose)
    try:
        result = run_project(project, options, reporter, spec_bytes)
    finally:
        from renderer.store import forked

        forked.cancel_all()  # read ahead and not taken (a run that stopped before reading its lockfile)
    if decided is not None and before is not None:
        result.decided_again = len(result.outcomes)  # the rest is as the snapshot has it (incremental.py)
        if args.json or (mode.plans and args.verbose):  # a report of every asset: an outcome each
            _add_unchanged(result, keys=args.json, with_records=not mode.plans)
    for note in result.notes:
        print(f"render: {note}", file=sys.stderr)
    elapsed = time.monotonic() - started
    if mode.plans:
        return _report_plan(project, result, args, mode, stream, elapsed)
    return _report_render(project, result, args, stream, elapsed)


@contextlib.contextmanager
def _quiet_collector() -> Iterator[None]:
    """Load a big spec without the cyclic garbage collector, then set what was loaded aside for good.

    Loading 100,000 assets makes millions of objects and no garbage cycles; the collector would scan them
    again and again (a 100,000-asset spec: 14 s to compose instead of 2, a plan 37 s instead of 21).
    ``gc.freeze`` keeps later collections from scanning the loaded project, which lives as long as the run."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect(0)  # what loading threw away (everything it made is young): then the rest set aside
        gc.freeze()
        # and the walk that follows makes an outcome, a task and a key per asset: collect less often
        gc.set_threshold(50_000, 20, 100)
        if enabled:
            gc.enable()


def _executor_choice(args: argparse.Namespace, project: Project) -> ExecutorChoice:
    """--executor beats RENDER_EXECUTOR, which beats the spec's ``executor:``."""
    from renderer.engine.results import ExecutorChoice
    from renderer.errors import UsageError

    spec = project.executor or {}
    text = args.executor or os.environ.get("RENDER_EXECUTOR") or str(spec.get("address") or "local")
    workers = args.workers or spec.get("workers")
    if workers is not None and workers < 1:
        raise UsageError("--workers must be at least 1")
    try:
        return ExecutorChoice.parse(text, workers=workers, shared_cache=bool(spec.get("shared_cache")))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def snapshot_version() -> str:
    """What a no-op snapshot is only good for: this render, making the bytes its providers make now."""
    return f"{__version__} {recipe_versions.ALL}"


def _short_way(
    args: argparse.Namespace, spec: Path, spec_bytes: bytes, cache_dir: Path, out: str | None
) -> tuple[Project, Decided, Snapshot] | None:
    """The part of a changed spec that needs deciding, loaded, when the snapshot allows (incremental.py),
    and the snapshot it was decided against."""
    from renderer.errors import SpecError
    from renderer.incremental import short_way
    from renderer.spec.resolve import load_project
    from renderer.store.state import load_state, state_path

    state = load_state(state_path(cache_dir, spec), snapshot_version())
    decided = short_way(state, spec_bytes, str(spec.with_suffix(".lock")), out) if state is not None else None
    if decided is None or state is None:
        return None
    try:
        project = load_project(
            spec,
            args.spec,
            decided.part,
            Path(out) if out else None,
            elsewhere=decided.elsewhere,
            checked=frozenset(decided.premade),
        )
    except SpecError:
        return None  # the full path says what is wrong, with the whole file's lines
    taken = {state.assets[name].output for name in decided.elsewhere}
    files = [os.path.basename(path) for path in state.files]
    for name, asset in project.assets.items():
        if name in decided.premade:
            continue
        if asset.output in taken or (name not in state.assets and name in files):
            return None  # an output another asset has, or a new name that was a file's: the full path
    return project, decided, state


def _add_unchanged(result: RunResult, *, keys: bool, with_records: bool) -> None:
    """The assets the short way did not decide, as outcomes: cached, as the snapshot has them."""
    import json

    from renderer.engine.results import Outcome
    from renderer.records import MediaInfo, OutputRecord

    cached = AssetStatus.CACHED
    for name, entry in result.unchanged.items():
        digest = entry.sha256
        outcome = Outcome(name, cached, entry.provider, entry.output, digest)
        if with_records:  # a render says what the outputs cost (positional: 100,000 of them)
            outcome.record = OutputRecord(digest, entry.size, None, entry.provider, None, None, None, entry.cost_usd)
        if keys:  # --json gives keys and media details: they are in the manifest line
            line = json.loads(entry.manifest_line)
            outcome.key = line.get("key", "").removeprefix("sha256:")
            record = OutputRecord(digest, entry.size, None, entry.provider, cost_usd=entry.cost_usd)
            outcome.record = record._replace(media_type=line.get("media_type"), probe=MediaInfo.from_dict(line))
        result.outcomes[name] = outcome
    result.unchanged = {}


def _report_plan(
    project: Project, result: RunResult, args: argparse.Namespace, mode: RunMode, stream: Any, elapsed: float
) -> int:
    outcomes = list(result.outcomes.values())
    to_make = [o for o in outcomes if o.status is AssetStatus.GENERATE]
    held = [o for o in outcomes if o.status is AssetStatus.HELD]
    failed = [o for o in outcomes if o.status.blocks_dependents and o.status is not AssetStatus.HELD]
    cached = len(outcomes) - len(to_make) - len(failed) - len(held) + len(result.unchanged)
    costs = [o.cost_usd for o in to_make]
    known_cost = sum(c for c in costs if c is not None)
    unknown_cost = sum(1 for c in costs if c is None)
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "status": "failed"
                    if failed
                    else "ok"
                    if not to_make and not held and result.lock_current
                    else "work",
                    "mode": str(mode),
                    "project": project.name,
                    "assets": {
                        o.name: {
                            "status": o.status,
                            "provider": o.provider,
                            "key": o.key,
                            "cost_usd": o.cost_usd,
                            "path": str(project.output_dir / o.output) if o.output else None,
                            "sha256": o.sha256,
                            "reason": o.reason,
                        }
                        for o in outcomes
                    },
                    "totals": {
                        "generate": len(to_make),
                        "cached": cached,
                        **({"held": len(held)} if held else {}),
                        **({"failed": len(failed)} if failed else {}),
                    },
                    "estimated_cost_usd": round(known_cost, 6),
                    "cost_unknown": unknown_cost,
                    "lock_current": result.lock_current,
                    "lock_problems": result.lock_problems,
                    **({"decided_again": result.decided_again} if result.decided_again is not None else {}),
                    "elapsed": round(elapsed, 3),
                }
            )
        )
    elif not args.quiet:
        for o in to_make:
            cost = f"~${o.cost_usd:.4f}" if o.cost_usd else ("free" if o.cost_usd == 0 else "cost unknown")
            after = f" ({o.error})" if o.error else ""
            why = f": {o.reason}" if o.reason else ""
            print(f"  generate  {o.name} [{o.provider}] {cost}{after}{why}", file=stream)
        if args.verbose:
            for o in outcomes:
                if o.status is AssetStatus.CACHED:
                    print(f"  cached    {o.name}", file=stream)
        for o in held:
            print(f"  held      {o.name}: {o.error}", file=stream)
        for problem in result.lock_problems:
            print(f"  lockfile  {problem}", file=stream)
        cost_text = f"estimated cost ${known_cost:.4f}" + (f" + {unknown_cost} unknown" if unknown_cost else "")
        cap = args.max_cost if args.max_cost is not None else project.budget
        if cap is not None:
            cost_text += (
                f", over the budget of ${cap:.2f} by ${known_cost - cap:.4f}"
                if known_cost > cap
                else f", within the budget of ${cap:.2f}"
            )
        held_text = f", {len(held)} held for a pick" if held else ""
        print(f"{len(to_make)} to generate, {cached} cached{held_text}; {cost_text}.", file=stream)
    for o in failed:
        print(f"render: cannot plan asset '{o.name}': {o.error}", file=sys.stderr)
    if failed:
        return 1
    if mode is RunMode.CHECK:
        if to_make or held or not result.lock_current:
            if not args.json:
                print(f"{args.spec}: not up to date.", file=sys.stderr)
            return 1
        if not args.json and not args.quiet:
            print(f"{args.spec}: up to date; nothing would be generated.", file=stream)
    return 0


def _report_render(
    project: Project,
    result: RunResult,
    args: argparse.Namespace,
    stream: Any,
    elapsed: float,
) -> int:
    outcomes = list(result.outcomes.values())
    shown = (AssetStatus.GENERATED, AssetStatus.CACHED, AssetStatus.FAILED, AssetStatus.SKIPPED)
    totals = {str(s): result.count(s) for s in shown}
    waiting = [o for o in outcomes if o.status is AssetStatus.WAITING]
    if waiting:
        totals["waiting"] = len(waiting)
    held = [o for o in outcomes if o.status is AssetStatus.HELD]
    if held:
        totals["held"] = len(held)
    costs = run_costs(outcomes, result.unchanged)
    interrupted = result.count(AssetStatus.INTERRUPTED)
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "status": "ok"
                    if not totals["failed"] and not totals["skipped"] and not interrupted and not waiting
                    else "failed",
                    "mode": "render",
                    "project": project.name,
                    "assets": {
                        o.name: {
                            k: v
                            for k, v in {
                                "status": o.status,
                                "path": str(project.output_dir / o.output) if o.output else None,
                                "sha256": o.sha256,
                                "error": o.error,
                                "cost_usd": o.cost_usd,
                                **_takes_of(project, result, o.name),
                            }.items()
                            if v is not None
                        }
                        for o in outcomes
                    },
                    "totals": totals,
                    "cost": costs,
                    **({"decided_again": result.decided_again} if result.decided_again is not None else {}),
                    "manifest": str(result.manifest) if result.manifest else None,
                    "elapsed": round(elapsed, 3),
                }
            )
        )
    if not args.quiet:
        parts = [f"{totals['generated']} generated", f"{totals['cached']} cached"]
        if totals["failed"]:
            parts.append(f"{totals['failed']} failed")
        if totals["skipped"]:
            parts.append(f"{totals['skipped']} skipped")
        if waiting:
            parts.append(f"{len(waiting)} waiting")
        if held:
            parts.append(f"{len(held)} held for a pick")
        print(f"{', '.join(parts)} in {elapsed:.1f}s. Outputs in {_rel(project.output_dir)}", file=stream)
        print(f"  {cost_line(costs)}", file=stream)
        for name, output in _final_outputs(project, result):
            print(f"  {name}: {_rel(project.output_dir / output)}", file=stream)
    failed = [o for o in outcomes if o.status is AssetStatus.FAILED]
    for o in failed:
        print(f"render: asset '{o.name}' failed: {o.error}", file=sys.stderr)
    skipped = [o for o in outcomes if o.status is AssetStatus.SKIPPED]
    if skipped:
        print(
            f"render: {len(skipped)} asset{'s' if len(skipped) != 1 else ''} skipped: "
            + ", ".join(o.name for o in skipped[:10])
            + (" ..." if len(skipped) > 10 else ""),
            file=sys.stderr,
        )
    for o in waiting:
        print(f"render: asset '{o.name}' waits: {o.error}", file=sys.stderr)
    if waiting:
        print(
            f"render: {len(waiting)} asset{'s' if len(waiting) != 1 else ''} wait{'s' if len(waiting) == 1 else ''} "
            "for you to say whether a paid job was made. Look in the provider's dashboard, then:\n"
            f"  render resolve {args.spec} ASSET --job-id ID   the job exists: the next render collects it\n"
            f"  render resolve {args.spec} ASSET --resubmit    no job was made: the next render sends it again",
            file=sys.stderr,
        )
    pickers = [o for o in held if project.assets[o.name].takes > 1]
    if pickers:
        print(
            f"render: {len(held)} asset{'s' if len(held) != 1 else ''} held until you pick a take of "
            + ", ".join(o.name for o in pickers)
            + f"; look at them (render review {args.spec}), then: render pick {args.spec} ASSET N",
            file=sys.stderr,
        )
    return 1 if failed or skipped or waiting else 0


def _takes_of(project: Project, result: RunResult, name: str) -> dict[str, Any]:
    """For --json: an asset's takes (path, sha256, cost) and which one it is."""
    from itertools import count, takewhile

    from renderer.spec.model import take_name

    asset = project.assets.get(name)
    if asset is not None:
        names = asset.take_names
    else:  # outside a part of a spec (incremental.py): its takes are the outcomes named after it
        names = list(takewhile(result.outcomes.__contains__, (take_name(name, k) for k in count(1))))
    if len(names) <= 1:
        return {}
    takes = {}
    for take in names:
        o = result.outcomes.get(take)
        if o is not None:
            takes[take] = {
                "path": str(project.output_dir / o.output) if o.output else None,
                "sha256": o.sha256,
                "cost_usd": o.record.cost_usd if o.record is not None else None,
            }
    picked = next(
        (
            k
            for k, t in enumerate(takes, 1)
            if result.outcomes[name].sha256 and takes.get(t, {}).get("sha256") == result.outcomes[name].sha256
        ),
        None,
    )
    return {"takes": takes, "pick": picked}


def run_costs(outcomes: list[Any], unchanged: Mapping[str, StateAsset] | None = None) -> dict[str, Any]:
    """What this run spent, and what the project's outputs cost in all, with unknown costs named
    (``unchanged``: the outputs a part of a spec took as the snapshot has them)."""
    made = [o for o in outcomes if o.status is AssetStatus.GENERATED]
    ready = [(o.name, o.record.cost_usd) for o in outcomes if o.ok and o.record is not None]
    ready += [(name, entry.cost_usd) for name, entry in (unchanged or {}).items()]
    return {
        "spent_usd": round(sum(o.cost_usd for o in made if o.cost_usd is not None), 6),
        "spent_unknown": [o.name for o in made if o.cost_usd is None],
        "project_usd": round(sum(cost for _, cost in ready if cost is not None), 6),
        "project_unknown": [name for name, cost in ready if cost is None],
    }


def cost_line(costs: dict[str, Any]) -> str:
    def unknown(names: list[str]) -> str:
        if not names:
            return ""
        shown = ", ".join(names[:5]) + (" ..." if len(names) > 5 else "")
        return f" + {len(names)} unknown ({shown})"

    return (
        f"spent ${costs['spent_usd']:.4f}{unknown(costs['spent_unknown'])} this run; "
        f"the outputs cost ${costs['project_usd']:.4f}{unknown(costs['project_unknown'])} in all"
    )


def _final_outputs(project: Project, result: RunResult) -> list[tuple[str, str]]:
    """The assets nothing else uses (the finished products) and their outputs, when there are few of them."""
    used = {d for deps in project.deps().values() for d in deps}
    used.update(d for entry in result.unchanged.values() for d in entry.deps)
    finals = [(n, str(o.output)) for n, o in result.outcomes.items() if o.ok and n not in used]
    finals += [(n, entry.output) for n, entry in result.unchanged.items() if n not in used]
    return finals if len(finals) <= 5 else []


def human_usage(usage: dict[str, Any]) -> str:
    """A provider's quota in people's units: durations in minutes or seconds, money in dollars."""
    parts = []
    for key, value in usage.items():
        label = key.removesuffix("_ms").removesuffix("_usd").replace("_", " ")
        if key.endswith("_ms") and isinstance(value, (int, float)):
            seconds = value / 1000
            shown = f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:g} s"
        elif key.endswith("_usd") and isinstance(value, (int, float)):
            shown = f"${value:.4f}"
        else:
            shown = str(value)
        parts.append(f"{label} {shown}")
    return "; ".join(parts)


def _sandbox(args: argparse.Namespace) -> int:
    from renderer.errors import UsageError
    from renderer.sandbox.server import SandboxConfig, serve

    try:
        config = SandboxConfig.from_file(Path(args.config)) if args.config else SandboxConfig()
    except (OSError, ValueError) as exc:
        raise UsageError(f"sandbox config {args.config}: {exc}") from None
    if args.latency is not None:
        config.latency = args.latency
    if args.fault_rate is not None:
        if not 0 <= args.fault_rate <= 1:
            raise UsageError(f"--fault-rate is a share of requests from 0 to 1, not {args.fault_rate}")
        config.fault_rate = args.fault_rate
    if args.log:
        config.log_path = args.log
    try:
        server = serve(args.host, args.port, config)
    except (ValueError, OSError) as exc:
        raise UsageError(f"cannot start the sandbox on {args.host}:{args.port}: {exc}") from None
    print(f"render sandbox on {server.url} (Ctrl-C stops it)")
    print(f"  varg v1  base_url: {server.url}/v1      key: any VARG_API_KEY starting with varg_")
    print(f"  varg v2  base_url: {server.url}/v2      (api: v2)")
    print(f"  Vrex     base_url: {server.url}/api/v1  key: any VREX_API_KEY starting with sk-")
    print(f"  request log: {server.url}/_sandbox/log", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        server.stop()


def _remote_jobs(args: argparse.Namespace) -> tuple[Project, Journal, list[JournalEntry]]:
    from renderer.engine.journal import Journal
    from renderer.spec.resolve import load_project
    from renderer.store.projectlock import state_dir_for

    project = load_project(Path(args.spec), args.spec)
    journal = Journal(state_dir_for(Path(args.spec)) / "journal")
    journal.adopt_legacy(_cache_dir(args) / "journal", set(project.assets))
    mine = [e for e in journal.pending() if e.asset in project.assets and e.provider in project.providers]
    return project, journal, mine


def _transfer(args: argparse.Namespace, command: str) -> int:
    from renderer.engine import transfer
    from renderer.errors import UsageError
    from renderer.spec.resolve import load_project
    from renderer.store.cache import Cache
    from renderer.store.lockfile import lock_path, read_lock
    from renderer.store.remote import RemoteError, open_remote

    project = load_project(Path(args.spec), args.spec)
    url = args.remote or os.environ.get("RENDER_REMOTE") or project.remote
    if not url:
        raise UsageError(f"{args.spec} names no remote; give --remote URL, RENDER_REMOTE, or 'remote:' in the spec")
    locked = read_lock(lock_path(project.path))
    try:
        remote = open_remote(url)
    except RemoteError as exc:
        print(f"render: error: {exc}", file=sys.stderr)
        return 1
    if command == "push" and not (args.remote or os.environ.get("RENDER_REMOTE")) and not project.remote_push:
        raise UsageError(f"the spec's remote {url} is read-only (push: false); give --remote to push anyway")
    cache = Cache(_cache_dir(args))
    try:
        move = transfer.push if command == "push" else transfer.pull
        moved = move(project, locked, cache, remote, lambda line: print(line, flush=True))
    finally:
        cache.close()
    verb = "pushed" if command == "push" else "pulled"
    there = "already in the remote" if command == "push" else "already here"
    print(f"{verb} {len(moved.moved)}, {len(moved.present)} {there}, {len(moved.missing)} missing ({remote.url})")
    if moved.missing:
        print(f"render: {len(moved.missing)} missing: {', '.join(moved.missing)}", file=sys.stderr)
        return 1
    return 0


def _schema(args: argparse.Namespace) -> int:
    from importlib.resources import files

    text = files("renderer.schemas").joinpath("project.schema.json").read_text(encoding="utf-8")
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}; in a project file: # yaml-language-server: $schema={args.output}")
    else:
        sys.stdout.write(text)
    return 0


def _merge_lock(args: argparse.Namespace) -> int:
    from renderer.store.lockfile import LockText, merge_locks, read_lock_text, write_lock

    base, _ = read_lock_text(Path(args.base))
    ours, text = read_lock_text(Path(args.ours))
    theirs, _ = read_lock_text(Path(args.theirs))
    merged, conflicts = merge_locks(base, ours, theirs)
    write_lock(Path(args.ours), text.spec_name, merged, LockText(text.spec_name))
    if conflicts:
        print(
            f"render merge-lock: both branches changed {', '.join(repr(n) for n in conflicts)}; kept this "
            "branch's entries. Merge the spec, then render: it makes or finds what the merged spec asks for",
            file=sys.stderr,
        )
        return 1
    return 0


def _resolve(args: argparse.Namespace) -> int:
    from renderer.engine.claims import settle_claim
    from renderer.errors import UsageError

    project, journal, pending = _remote_jobs(args)
    unknown = [name for name in args.assets if name not in project.assets]
    if unknown:
        raise UsageError(f"no asset named {', '.join(map(repr, unknown))} in {args.spec}")
    settling = args.job_id is not None or args.resubmit or args.forget
    if settling and not args.assets:
        raise UsageError("name the asset to settle: render resolve SPEC ASSET (--job-id ID | --resubmit | --forget)")
    if args.job_id is not None and len(args.assets) != 1:
        raise UsageError("--job-id settles one asset: render resolve SPEC ASSET --job-id ID")
    by_asset = {e.asset: e for e in pending}
    if not settling:
        shown = [e for e in pending if not args.assets or e.asset in args.assets]
        if not shown:
            print(f"{args.spec}: no paid jobs in the journal.")
            return 0
        for e in shown:
            if e.job_id:
                print(f"  {e.asset}: job {e.job_id} on {e.provider}; the next render collects it")
            else:
                print(f"  {e.asset}: unconfirmed on {e.provider}: {e.why()}")
        if any(not e.job_id for e in shown):
            print(
                "Look for each unconfirmed job in the provider's dashboard, then:\n"
                f"  render resolve {args.spec} ASSET --job-id ID   the job exists: the next render collects it\n"
                f"  render resolve {args.spec} ASSET --resubmit    no job was made: the next render sends it again\n"
                f"  render resolve {args.spec} ASSET --forget      drop the entry, whatever it holds"
            )
        return 0
    remote = _claims_remote(args, project)
    for name in args.assets:
        entry = by_asset.get(name)
        if entry is None:
            print(f"  {name}: nothing in the journal; nothing to settle")
            continue
        if remote is not None:
            settle_claim(remote, entry.key, args.job_id.strip() if args.job_id else None, entry.provider)
        if args.job_id is not None:
            journal.submitted(entry, args.job_id.strip(), entry.data)
            print(f"  {name}: job {args.job_id.strip()} on {entry.provider}; the next render collects it")
        elif args.resubmit:
            if entry.job_id:
                raise UsageError(
                    f"asset '{name}' has job {entry.job_id} on {entry.provider}: the next render collects it. "
                    "Use --forget to drop it and pay for a new one"
                )
            journal.remove(entry.key)
            print(f"  {name}: the next render sends its request to {entry.provider} again")
        else:
            journal.remove(entry.key)
            print(f"  {name}: forgotten; the next render submits it anew if it is not in the cache")
    return 0


def _pick(args: argparse.Namespace) -> int:
    from renderer.engine.takes import record_pick
    from renderer.spec.resolve import load_project
    from renderer.store.projectlock import ProjectLock, prepare_state_dir, state_dir_for

    project = load_project(Path(args.spec), args.spec)
    state = state_dir_for(project.path)
    prepare_state_dir(state)
    with ProjectLock(state / "lock", args.spec):  # not while a render writes the lockfile
        entry = record_pick(project, args.asset, args.take)
    print(
        f"{args.asset}: take {args.take} ({entry.output}, sha256 {str(entry.sha256)[:12]}...); "
        f"render {args.spec} to make what needs it"
    )
    return 0


def _cost(args: argparse.Namespace) -> int:
    from renderer.spec.resolve import load_project
    from renderer.store.lockfile import lock_path, read_lock

    project = load_project(Path(args.spec), args.spec)
    entries = read_lock(lock_path(project.path))
    # an asset with takes is one of its takes: its cost is counted once, as the take's
    counted = {n: e for n, e in entries.items() if n in project.assets and project.assets[n].takes <= 1}
    assets = {n: e.cost_usd for n, e in sorted(counted.items())}
    providers: dict[str, float] = {}
    for entry in counted.values():
        providers[entry.provider] = round(providers.get(entry.provider, 0.0) + (entry.cost_usd or 0.0), 6)
    unknown = sorted(n for n, c in assets.items() if c is None)
    total = round(sum(c for c in assets.values() if c is not None), 6)
    missing = sorted(n for n, a in project.assets.items() if a.takes <= 1 and n not in entries)
    if args.json:
        import json

        report = {"total_usd": total, "unknown": unknown, "providers": providers, "assets": assets, "not_made": missing}
        print(json.dumps(report))
        return 0
    for name, cost in assets.items():
        print(f"  {name:<30} {'unknown' if cost is None else f'${cost:.4f}'}")
    for provider, cost in sorted(providers.items()):
        print(f"  {'[' + provider + ']':<30} ${cost:.4f}")
    extra = f" + {len(unknown)} unknown ({', '.join(unknown[:5])})" if unknown else ""
    not_made = f"; {len(missing)} not made yet" if missing else ""
    print(f"{args.spec}: the outputs cost ${total:.4f}{extra} in all{not_made}")
    return 0


def _review(args: argparse.Namespace) -> int:
    from renderer import review
    from renderer.spec.resolve import load_project

    project = load_project(Path(args.spec), args.spec, out_dir=Path(args.out) if args.out else None)
    if not project.output_dir.is_dir():
        from renderer.errors import UsageError

        raise UsageError(f"{_rel(project.output_dir)} does not exist yet; render {args.spec} first")
    index = review.write_gallery(project, serving=False)
    print(f"{_rel(index)}: {len(project.assets)} assets; open it in a browser")
    if not args.serve:
        return 0
    try:
        review.serve(project, args.host, args.port, lambda url: print(f"serving {url} (Ctrl-C stops)", flush=True))
    except OSError as exc:
        from renderer.errors import UsageError

        raise UsageError(f"cannot serve on {args.host}:{args.port} ({exc.strerror or exc}); try --port 0") from None
    except KeyboardInterrupt:
        return 130
    return 0


def _claims_remote(args: argparse.Namespace, project: Project) -> Remote | None:
    """The remote whose claims ``render resolve`` settles with the journal (other machines wait on them)."""
    from renderer.store.remote import RemoteError, open_remote

    url = args.remote or os.environ.get("RENDER_REMOTE") or (project.remote if project.remote_push else None)
    if not url:
        return None
    try:
        return open_remote(url)
    except RemoteError as exc:
        print(f"render: note: {exc}; its claim on this job is left to time out", file=sys.stderr)
        return None


def _cancel(args: argparse.Namespace) -> int:
    import anyio

    from renderer.engine.pool import ProviderPool
    from renderer.errors import ProviderError
    from renderer.providers.base import Job, JobState, ProviderContext

    project, journal, pending = _remote_jobs(args)
    if not pending:
        print(f"{args.spec}: no remote jobs pending.")
        return 0
    failures = 0

    async def cancel_all() -> None:
        nonlocal failures
        pool = ProviderPool(project.providers, ProviderContext(_cache_dir(args) / "tmp", dict(os.environ)))
        try:
            for entry in pending:
                if not entry.job_id:
                    print(f"  {entry.asset}: unconfirmed, no job id to cancel (see render resolve)", file=sys.stderr)
                    continue
                job = Job(id=entry.job_id, state=JobState.RUNNING, data=dict(entry.data))
                try:
                    await pool.get(entry.provider).cancel(job)
                except ProviderError as exc:
                    failures += 1
                    print(f"  could not cancel {entry.asset} (job {job.id}): {exc.message}", file=sys.stderr)
                    continue
                journal.remove(entry.key)
                print(f"  cancelled {entry.asset} (job {job.id} on {entry.provider})")
        finally:
            await pool.aclose()

    anyio.run(cancel_all)
    return 1 if failures else 0


def _usage(args: argparse.Namespace) -> int:

    import anyio

    from renderer.engine.pool import ProviderPool
    from renderer.errors import SetupError
    from renderer.providers.base import ProviderContext, ReportsUsage
    from renderer.spec.resolve import load_project

    project = load_project(Path(args.spec), args.spec)
    shown = 0

    async def show() -> None:
        nonlocal shown
        pool = ProviderPool(project.providers, ProviderContext(_cache_dir(args) / "tmp", dict(os.environ)))
        try:
            for name in project.providers:
                provider = pool.get(name)
                if not isinstance(provider, ReportsUsage):
                    continue
                problems = provider.preflight()
                if problems:
                    raise SetupError("; ".join(problems))
                print(f"{name}: {human_usage(await provider.usage())}")
                shown += 1
        finally:
            await pool.aclose()

    anyio.run(show)
    if not shown:
        print(f"{args.spec}: no provider in this project reports a quota.")
    return 0
