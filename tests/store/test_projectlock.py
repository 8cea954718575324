"""One render at a time per project."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from renderer.errors import SetupError
from renderer.store.projectlock import ProjectLock, prepare_state_dir, state_dir_for


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
    assert "another render of p.yaml (or of a spec beside it) is running" in capsys.readouterr().err


def test_the_state_directory_is_beside_the_spec_and_ignores_itself(tmp_path: Path) -> None:
    spec = tmp_path / "proj" / "p.yaml"
    state = state_dir_for(spec, {})
    assert state == tmp_path / "proj" / ".render"
    prepare_state_dir(state)
    assert (state / ".gitignore").read_text().splitlines()[-1] == "*"
    assert state_dir_for(spec, {"RENDER_STATE_DIR": str(tmp_path / "elsewhere")}) == tmp_path / "elsewhere"


def test_a_state_directory_that_cannot_be_made_says_where_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(SetupError) as info:
        prepare_state_dir(tmp_path / "file" / ".render")
    assert str(tmp_path / "file" / ".render") in str(info.value) and "RENDER_STATE_DIR" in str(info.value)
