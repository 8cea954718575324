"""What a person sees while render works: a live display on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import IO, Any

SYMBOL = {
    "generated": "made",
    "cached": "cached",
    "failed": "FAILED",
    "skipped": "skipped",
    "interrupted": "stopped",
    "waiting": "WAITS",
}


class PlainReporter:
    """One line per asset that was made, failed or skipped; cached ones are only counted."""

    def __init__(self, stream: IO[str], *, quiet: bool = False, verbose: bool = False) -> None:
        self.stream = stream
        self.quiet = quiet
        self.verbose = verbose
        self.total = 0
        self.done = 0
        self.started_at = time.monotonic()

    def _print(self, text: str) -> None:
        if not self.quiet:
            print(text, file=self.stream, flush=True)

    def begin(self, total: int) -> None:
        self.total = total
        self.started_at = time.monotonic()

    def started(self, name: str, provider: str) -> None:
        if self.verbose:
            self._print(f"  start    {name} ({provider})")

    def finished(self, outcome: Any) -> None:
        self.done += 1
        if outcome.status == "cached" and not self.verbose:
            return
        detail = outcome.output if outcome.ok else outcome.error
        if self.verbose and getattr(outcome, "reason", None):
            detail = f"{detail} ({outcome.reason})"
        elapsed = time.monotonic() - self.started_at
        self._print(
            f"  [{self.done}/{self.total} {elapsed:5.1f}s] {SYMBOL.get(outcome.status, outcome.status):7} "
            f"{outcome.name}: {detail}"
        )

    def progress(self, name: str, state: str) -> None:
        if self.verbose and state.startswith("retrying"):  # retries and backoff are visible at -v
            self._print(f"  retry    {name}: {state}")
        elif self.verbose and state.startswith(("making on ", "made on ")):  # which Dask worker ran it
            self._print(f"  worker   {name}: {state}")

    def note(self, message: str) -> None:
        self._print(message)

    def end(self) -> None:
        return None


class LiveReporter(PlainReporter):
    """A rich live display: running assets, counts and elapsed time; finished lines scroll above it."""

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        from rich.console import Console  # rich only on a terminal: plain output needs none of it
        from rich.live import Live

        self.console = Console(file=stream)
        self.running: dict[str, str] = {}
        self.states: dict[str, str] = {}  # what each running job is doing
        self.began: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self.live = Live(console=self.console, refresh_per_second=8, transient=True, get_renderable=self._render)

    def _render(self) -> Any:
        from rich.table import Table

        table = Table.grid(padding=(0, 1))
        elapsed = time.monotonic() - self.started_at
        counts = ", ".join(f"{n} {s}" for s, n in sorted(self.counts.items())) or "starting"
        table.add_row(f"[bold]{self.done}/{self.total}[/] assets  {counts}  [dim]{elapsed:.1f}s[/]")
        now = time.monotonic()
        for name, provider in list(self.running.items())[:12]:
            state = self.states.get(name, "starting")
            table.add_row(
                f"  [cyan]⠿[/] {name} [dim]({provider})[/] {state} [dim]{now - self.began.get(name, now):.0f}s[/]"
            )
        if len(self.running) > 12:
            table.add_row(f"  [dim]… and {len(self.running) - 12} more running[/]")
        return table

    def begin(self, total: int) -> None:
        super().begin(total)
        self.live.start()

    def started(self, name: str, provider: str) -> None:
        self.running[name] = provider
        self.began[name] = time.monotonic()

    def progress(self, name: str, state: str) -> None:
        self.states[name] = state

    def finished(self, outcome: Any) -> None:
        self.running.pop(outcome.name, None)
        self.states.pop(outcome.name, None)
        self.began.pop(outcome.name, None)
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.done += 1
        if outcome.status == "cached":
            return
        style = {"generated": "green", "failed": "red", "skipped": "yellow"}.get(outcome.status, "")
        detail = outcome.output if outcome.ok else outcome.error
        self.console.print(
            f"  [{style}]{SYMBOL.get(outcome.status, outcome.status):7}[/] {outcome.name}: {detail}",
            highlight=False,
            markup=True,
        )

    def note(self, message: str) -> None:
        self.console.print(message, highlight=False, markup=False)

    def end(self) -> None:
        self.live.stop()


def make_reporter(stream: IO[str], *, quiet: bool, verbose: bool, live: bool | None = None) -> PlainReporter:
    if live is None:
        live = stream.isatty() and not quiet and not verbose
    return LiveReporter(stream) if live else PlainReporter(stream, quiet=quiet, verbose=verbose)
