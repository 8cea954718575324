"""One render at a time per project."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from renderer.store.projectlock import ProjectLock


def test_a_second_holder_waits_and_is_told_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "p.lock"
    order: list[str] = []
    first = ProjectLock(lock, "p.yaml").__enter__()
    second_in = threading.Event()

    def second() -> None:
        with ProjectLock(lock, "p.yaml"):
            order.append("second")
            second_in.set()

    thread = threading.Thread(target=second)
    thread.start()
    assert not second_in.wait(0.3)  # still waiting: the first holds the lock
    order.append("first done")
    first.__exit__(None, None, None)
    thread.join(timeout=60)
    assert order == ["first done", "second"]
    assert "another render of p.yaml is running" in capsys.readouterr().err
