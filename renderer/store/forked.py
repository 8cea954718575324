"""Work done on the other core: a function run in a forked child process while this one goes on.

A full-path run of a big project spends seconds on two independent things, loading its spec and parsing
its lockfile, one after the other on one core of two. ``Forked`` starts the second in a child (a fork:
nothing is pickled to start it, and it sees the modules already imported), which sends its answer back
through a pipe as ``marshal`` data (plain values only: fast to load, and no code can ride along).

Any trouble (no fork on this system, the child failed or was killed, its answer was cut short) gives
None, and the caller does the work itself: this only ever saves time.
"""

from __future__ import annotations

import marshal
import os
from collections.abc import Callable
from typing import Any


class Forked:
    def __init__(self, work: Callable[..., Any], *args: Any) -> None:
        self.pid = 0
        self.pipe = -1
        if not hasattr(os, "fork"):
            return
        try:
            read_end, write_end = os.pipe()
            pid = os.fork()
        except OSError:
            return
        if pid == 0:  # the child: answer, then leave without running the parent's exit handlers
            status = 1
            try:
                os.close(read_end)
                os.nice(5)  # the parent's work comes first: with two of these and it on two cores, it keeps one
                with os.fdopen(write_end, "wb") as out:
                    out.write(marshal.dumps(work(*args)))
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        self.pid, self.pipe = pid, read_end

    def result(self) -> Any | None:
        """The child's answer (waiting for it), or None; only once."""
        if not self.pid:
            return None
        pid, self.pid = self.pid, 0
        found = None
        try:
            with os.fdopen(self.pipe, "rb") as answer:
                data = answer.read()  # to its end, so that the child can leave
            found = marshal.loads(data)  # from the bytes: marshal.load from a file is four times slower
            del data
        except (OSError, EOFError, ValueError, TypeError):
            pass  # cut short
        try:
            _, status = os.waitpid(pid, 0)
        except OSError:
            return None
        return found if os.waitstatus_to_exitcode(status) == 0 else None

    def cancel(self) -> None:
        """Not needed after all: the child is stopped and reaped."""
        if self.pid:
            import signal

            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
            self.result()


_STARTED: dict[str, Forked] = {}  # what a run started, by what it is for, until the run takes it


def start(purpose: str, work: Callable[..., Any], *args: Any) -> None:
    """Start ``work(*args)`` in a child, for ``take(purpose)`` later (replacing one started for it before)."""
    earlier = _STARTED.pop(purpose, None)
    if earlier is not None:
        earlier.cancel()
    _STARTED[purpose] = Forked(work, *args)


def take(purpose: str) -> Any | None:
    """The answer of what was started for ``purpose`` (waiting for it), or None: not started, or no answer."""
    forked = _STARTED.pop(purpose, None)
    return forked.result() if forked is not None else None


def started(purpose: str) -> bool:
    return purpose in _STARTED and bool(_STARTED[purpose].pid)


def cancel_all() -> None:
    """What was started and not taken (the run stopped early): stopped and reaped."""
    while _STARTED:
        _STARTED.popitem()[1].cancel()
