"""What a person sees while render works: each running job's state and time, retries at -v."""

from __future__ import annotations

import io

from renderer.report import LiveReporter, PlainReporter


def test_the_live_display_shows_what_each_running_job_is_doing() -> None:
    reporter = LiveReporter(io.StringIO())
    reporter.begin(3)
    try:
        reporter.started("clip", "varg")
        reporter.started("theme", "vrex")
        reporter.progress("clip", "retrying in 12 s after 429 RATE_LIMITED: slow down")
        reporter.progress("theme", "running")
        shown = io.StringIO()
        from rich.console import Console

        Console(file=shown, width=160).print(reporter._render())
    finally:
        reporter.end()
    text = shown.getvalue()
    assert "clip (varg) retrying in 12 s after 429" in text and "theme (vrex) running 0s" in text


def test_retries_are_visible_at_verbose_only() -> None:
    loud, quiet = io.StringIO(), io.StringIO()
    PlainReporter(loud, verbose=True).progress("clip", "retrying in 2 s after 503")
    PlainReporter(quiet).progress("clip", "retrying in 2 s after 503")
    PlainReporter(loud, verbose=True).progress("clip", "running")  # states go to the live display only
    assert loud.getvalue() == "  retry    clip: retrying in 2 s after 503\n" and quiet.getvalue() == ""
