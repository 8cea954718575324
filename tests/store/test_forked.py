"""Work on the other core: the answer, or nothing, and never a hang."""

from __future__ import annotations

import time

from renderer.store.forked import Forked


def test_work_on_the_other_core_that_fails_gives_nothing_and_the_caller_does_it() -> None:
    assert Forked(sorted, [3, 1, 2]).result() == [1, 2, 3]
    assert Forked(bytes, 10_000_000).result() == bytes(10_000_000)  # more than a pipe holds at once
    assert Forked(int, "not a number").result() is None  # raised in the child
    assert Forked(object).result() is None  # no plain value to send back
    slow = Forked(time.sleep, 60)
    slow.cancel()  # stopped and reaped, not waited for
    assert slow.result() is None
