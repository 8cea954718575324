from __future__ import annotations

import os
from pathlib import Path

from renderer.records import FileStamp, Snapshot, StateAsset
from renderer.store.state import (
    file_digest,
    load_stamps,
    load_state,
    save_state,
    stamps_only,
    stat_pair,
    take_stamps,
    unchanged,
)


def make_state(tmp_path: Path) -> tuple[Snapshot, bytes, str]:
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.png").write_bytes(b"aaa")
    (out / "b.png").write_bytes(b"bbbb")
    (tmp_path / "in.wav").write_bytes(b"input")
    spec, lock = b"spec", str(tmp_path / "p.lock")
    Path(lock).write_bytes(b"lock")
    state = Snapshot(
        spec_sha=file_digest(spec),
        lock_sha=file_digest(b"lock"),
        out_dir=str(out),
        project="p",
        spec_name="p.yaml",
        files={str(tmp_path / "in.wav"): FileStamp(*stat_pair(str(tmp_path / "in.wav")), "d")},
        assets={
            "a": StateAsset("a.png", *stat_pair(str(out / "a.png")), (), "x", '{"path": "a.png"}'),
            "b": StateAsset("b.png", *stat_pair(str(out / "b.png")), ("a",), "y", '{"path": "b.png"}'),
        },
        lock_stamp=stat_pair(lock) or (-1, -1),
    )
    return state, spec, lock


def test_nothing_changed_means_nothing_to_do(tmp_path: Path) -> None:
    state, spec, lock = make_state(tmp_path)
    assert unchanged(state, spec, lock, None, []) == ["a", "b"]
    assert sorted(unchanged(state, spec, lock, None, ["b"])) == ["a", "b"]
    assert unchanged(state, spec, lock, None, ["a"]) == ["a"]


def test_every_kind_of_change_is_seen(tmp_path: Path) -> None:
    state, spec, lock = make_state(tmp_path)
    assert unchanged(state, b"spec2", lock, None, []) is None
    assert unchanged(state, spec, str(tmp_path / "missing.lock"), None, []) is None
    assert unchanged(state, spec, lock, str(tmp_path / "other"), []) is None
    assert unchanged(state, spec, lock, None, ["ghost"]) is None
    os.utime(tmp_path / "in.wav", ns=(1, 1))
    assert unchanged(state, spec, lock, None, []) is None


def test_a_third_party_provider_upgraded_is_a_change(tmp_path: Path) -> None:
    state, spec, lock = make_state(tmp_path)
    module = tmp_path / "shiny.py"
    module.write_text("recipe_version = 'shiny-1'\n")
    state = state._replace(providers={str(module): stat_pair(str(module))})
    assert unchanged(state, spec, lock, None, []) == ["a", "b"]
    module.write_text("recipe_version = 'shiny-10'\n")  # the plugin's module file, upgraded or edited
    assert unchanged(state, spec, lock, None, []) is None


def test_the_lockfile_is_known_by_its_stamp_or_else_by_its_digest(tmp_path: Path) -> None:
    state, spec, lock = make_state(tmp_path)
    os.utime(lock, ns=(7, 7))  # touched, the same text: its digest says it is the same lockfile
    assert unchanged(state, spec, lock, None, []) == ["a", "b"]
    Path(lock).write_bytes(b"lock, edited")  # another text, another stamp
    assert unchanged(state, spec, lock, None, []) is None
    Path(lock).write_bytes(b"LOCK")  # the same size, but written now: another mtime, another digest
    os.utime(lock, ns=(8, 8))
    assert unchanged(state, spec, lock, None, []) is None


def test_an_output_touched_or_removed_is_seen(tmp_path: Path) -> None:
    state, spec, lock = make_state(tmp_path)
    (tmp_path / "out" / "b.png").write_bytes(b"BBBB")
    os.utime(tmp_path / "out" / "b.png", ns=(5, 5))
    assert unchanged(state, spec, lock, None, []) is None
    assert unchanged(state, spec, lock, None, ["a"]) == ["a"]
    (tmp_path / "out" / "a.png").unlink()
    assert unchanged(state, spec, lock, None, ["a"]) is None


def test_state_round_trip_and_version(tmp_path: Path) -> None:
    state, _, _ = make_state(tmp_path)
    path = tmp_path / "s" / "x.marshal"
    save_state(path, "1.0", state)
    assert load_state(path, "1.0") == state
    assert load_state(path, "2.0") is None
    path.write_bytes(b"garbage")
    assert load_state(path, "1.0") is None


def test_the_full_path_keeps_the_stamps_and_lets_the_manifest_lines_go(tmp_path: Path) -> None:
    state, _, _ = make_state(tmp_path)
    path = tmp_path / "s" / "x.marshal"
    save_state(path, "1.0", state._replace(chunks={"a": ("d" * 64, ("a",), ())}))
    loaded = load_state(path, "1.0")
    assert loaded is not None and loaded.chunks
    slim = stamps_only(loaded)
    for name, entry in state.assets.items():
        kept = slim.assets[name]
        assert (kept.size, kept.mtime_ns, kept.sha256) == (entry.size, entry.mtime_ns, entry.sha256)
        assert (kept.output, kept.deps, kept.manifest_line) == ("", (), "")
    assert slim.files == state.files and slim.chunks == {} and slim.lock_sha == state.lock_sha
    again = load_state(path, "1.0")  # read again from the file, whole: the no-op needs the lines
    assert again is not None and again is not loaded and again.assets["a"].manifest_line == '{"path": "a.png"}'


def test_stamps_loaded_before_a_run_are_what_it_takes_while_the_file_holds_still(tmp_path: Path) -> None:
    state, _, _ = make_state(tmp_path)
    path = tmp_path / "s" / "x.marshal"
    save_state(path, "1.0", state)
    early = load_stamps(path, "1.0")
    assert early is not None and early.assets["a"].sha256 == state.assets["a"].sha256
    assert take_stamps(path, "1.0") is early  # handed over, not read again
    assert take_stamps(path, "1.0") is not early  # once: then read again
    load_stamps(path, "1.0")
    save_state(path, "1.0", state._replace(lock_sha="changed"))  # another run saved one meanwhile
    os.utime(path, ns=(1, 1))
    taken = take_stamps(path, "1.0")
    assert taken is not None and taken.lock_sha == "changed"
    assert load_stamps(path, "2.0") is None and take_stamps(path, "2.0") is None  # another version's
    load_stamps(path, "1.0")
    plan = take_stamps(path, "1.0", outputs=False)  # a plan copies nothing out: only the inputs' stamps
    assert plan is not None and plan.assets == {} and plan.files == state.files


def test_a_snapshot_saved_in_pieces_reads_back_whole_and_in_order(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import marshal

    from renderer.store import state as state_module

    state, _, _ = make_state(tmp_path)
    many = {f"z{i}": state.assets["a"]._replace(output=f"z{i}.png") for i in range(7)}
    state = state._replace(assets={**state.assets, **many})
    monkeypatch.setattr(state_module, "ASSETS_AT_ONCE", 3)  # the head and three pieces of assets
    path = tmp_path / "s" / "x.marshal"
    save_state(path, "1.0", state)
    loaded = load_state(path, "1.0")
    assert loaded == state and list(loaded.assets) == list(state.assets)
    older = state._asdict() | {"version": (state_module.STATE_VERSION - 1, "1.0")}
    older["assets"] = {name: tuple(entry) for name, entry in state.assets.items()}
    older["files"] = {name: tuple(stamp) for name, stamp in state.files.items()}
    path.write_bytes(marshal.dumps(older))  # as render <= 0.1 wrote it: one marshal
    assert load_state(path, "1.0") is None
