from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from renderer.errors import LockfileError
from renderer.records import LockEntry
from renderer.schemas import load_schema
from renderer.store.lockfile import read_lock, render_lock, write_lock

DIGEST = "a" * 64


def entry(**overrides: object) -> LockEntry:
    base = {
        "key": "b" * 64,
        "provider": "local",
        "model": None,
        "resolved_model": "local:image",
        "job_id": "j1",
        "output": "x.png",
        "sha256": DIGEST,
        "bytes": 10,
        "media_type": "image/png",
        "width": 4,
        "height": 4,
        "cost_usd": 0.0,
        "created": "2026-01-01T00:00:00Z",
        "inputs": {"0": "c" * 64},
    }
    return LockEntry(**{**base, **overrides})  # type: ignore[arg-type]


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=6))
def test_any_names_and_text_round_trip_through_yaml(names: dict[str, str]) -> None:
    entries = {name: entry(output=text or "x", job_id=text) for name, text in names.items()}
    loaded = yaml.safe_load(render_lock("p.yaml", entries))
    assert loaded["lock-version"] == 1
    assert set(loaded["assets"]) == set(entries)
    for name, text in names.items():
        assert loaded["assets"][name]["output"] == (text or "x")
        assert loaded["assets"][name]["job_id"] == text


def test_deterministic_sorted_and_valid_against_its_schema(tmp_path: Path) -> None:
    entries = {"zeta": entry(), "alpha": entry(output="a.png"), "yes": entry(job_id="1e3")}
    data = render_lock("p.yaml", entries)
    assert data == render_lock("p.yaml", dict(reversed(list(entries.items()))))
    assert data.index(b'"alpha"') < data.index(b'"yes"') < data.index(b'"zeta"')
    document = yaml.safe_load(data)
    jsonschema.Draft7Validator(load_schema("lockfile")).validate(document)
    assert document["assets"]["yes"]["job_id"] == "1e3"  # stays text, not a number
    path = tmp_path / "p.lock"
    write_lock(path, "p.yaml", entries)
    mtime = path.stat().st_mtime_ns
    write_lock(path, "p.yaml", entries)
    assert path.stat().st_mtime_ns == mtime  # unchanged content is not rewritten
    assert read_lock(path)["alpha"] == entries["alpha"]
    assert document["assets"]["alpha"]["key"] == "sha256:" + "b" * 64  # prefixed where written out


def test_a_broken_lockfile_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "p.lock"
    path.write_text("<<<<<<< HEAD\nassets: [\n")
    with pytest.raises(LockfileError, match="merge conflict") as info:
        read_lock(path)
    assert info.value.line == 2 and str(path) in str(info.value)
    path.write_text("lock-version: 99\nassets: {}\n")
    with pytest.raises(LockfileError, match="written by a newer render .* upgrade render") as info:
        read_lock(path)
    assert info.value.line == 1 and "delete" not in str(info.value)
    path.write_text("lock-version: 0\nassets: {}\n")
    with pytest.raises(LockfileError, match="not a lockfile of version 1"):
        read_lock(path)
    path.write_text('[{"lock-version": 1}]')
    with pytest.raises(LockfileError, match="holds a list where a mapping belongs"):
        read_lock(path)
    assert read_lock(tmp_path / "missing.lock") == {}


@pytest.mark.parametrize(
    ("field", "junk", "says"),
    [
        ("sha256", '"not-a-digest"', "is not a sha256 digest"),
        ("bytes", '"lots"', "is not a whole number"),
        ("bytes", "-5", "is not a whole number"),
        ("key", '"sha256:1234"', "is not a sha256 digest"),
        ("cost_usd", '"free"', "is not a number"),
        ("job_id", "[1, 2]", "is not text"),
    ],
)
def test_junk_in_a_hand_edited_entry_is_refused_with_its_line(tmp_path: Path, field: str, junk: str, says: str) -> None:
    path = tmp_path / "p.lock"
    write_lock(path, "p.yaml", {"a": entry(), "b": entry(job_id="j1")})
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"    {field}:") and i > lines.index('  "b":'))
    lines[at] = f"    {field}: {junk}"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(LockfileError) as info:
        read_lock(path)
    assert says in str(info.value) and "asset 'b'" in str(info.value)
    assert info.value.line == lines.index('  "b":') + 1


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), max_size=6))
def test_the_fast_reader_agrees_with_yaml(names: dict[str, str]) -> None:
    from renderer.store.lockfile import _parse_own_format

    slots = [{}, {"0": "c" * 64}, {name: "d" * 64 for name in names}]  # none, one, and any slot names
    entries = {
        name: entry(output=text or "x", job_id=text, duration=1.5, inputs=slots[k % 3])
        for k, (name, text) in enumerate(names.items())
    }
    data = render_lock("p.yaml", entries)
    parsed = _parse_own_format(data)
    parsed = parsed[0] if parsed is not None else None
    expected = {n: LockEntry.from_written(e) for n, e in (yaml.safe_load(data)["assets"] or {}).items()}
    assert expected == entries
    assert parsed is None or parsed == expected  # None only sends it to the YAML parser
    if all(text.isprintable() for text in [*names, *names.values()]):
        assert parsed == expected


def test_a_hand_edited_lockfile_is_read_by_the_yaml_parser(tmp_path: Path) -> None:
    path = tmp_path / "p.lock"
    write_lock(path, "p.yaml", {"a": entry()})
    path.write_text(path.read_text().replace('    provider: "local"', "    provider: local  # edited"))
    assert read_lock(path)["a"] == entry()


@pytest.mark.parametrize(
    "edit",
    [
        (
            '      "0": "sha256:' + "c" * 64 + '"',
            '      "0": "sha256:' + "c" * 64 + '", "1": "sha256:' + "d" * 64 + '"',
        ),
        ("    bytes: 10", "    bytes: 10, 11"),
        ('    job_id: "j1"', '    job_id: "j1"]'),
    ],
    ids=["two inputs on a line", "two values", "a bracket"],
)
def test_what_the_fast_reader_cannot_place_goes_to_the_yaml_parser(tmp_path: Path, edit: tuple[str, str]) -> None:
    from renderer.store.lockfile import _parse_own_format

    path = tmp_path / "p.lock"
    write_lock(path, "p.yaml", {"a": entry()})
    text = path.read_text()
    assert edit[0] in text
    path.write_text(text.replace(edit[0], edit[1]))
    assert _parse_own_format(path.read_bytes()) is None
    with pytest.raises(LockfileError, match="not valid YAML|is not"):
        read_lock(path)


@given(st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), min_size=1, max_size=6))
def test_text_remembered_from_a_read_rewrites_the_same_bytes(names: dict[str, str]) -> None:
    import tempfile

    from renderer.store.lockfile import read_lock_text

    entries = {name: entry(output=text or "x", job_id=text) for name, text in names.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.lock"
        data = write_lock(path, "p.yaml", entries)
        read, text = read_lock_text(path)
        assert text.render(read) == data
        changed = {**read, next(iter(read)): entry(output="changed.png")}
        assert text.render(changed) == render_lock("p.yaml", changed)
        # the next rewrite copies unchanged texts from the bytes the last one wrote
        later = {**changed, "zz added": entry(output="added.png")}
        del later[min(later)]
        assert text.render(later) == render_lock("p.yaml", later)
        assert text.render(later) == render_lock("p.yaml", later)


@given(
    st.dictionaries(st.text(min_size=1, max_size=12), st.text(max_size=30), min_size=1, max_size=8),
    st.data(),
)
def test_a_part_read_writes_back_what_the_whole_would(names: dict[str, str], data: st.DataObject) -> None:
    """read_lock_part parses only some entries; rendering the part's changes (an entry changed, one added,
    one dropped) gives the bytes a full read and rewrite would."""
    import tempfile

    from renderer.store.lockfile import read_lock_part

    entries = {name: entry(output=text or "x", job_id=text) for name, text in names.items()}
    part = set(data.draw(st.lists(st.sampled_from(sorted(entries)), unique=True)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.lock"
        written = write_lock(path, "p.yaml", entries)
        read = read_lock_part(path, part | {"new one"})
        if read is None:  # not render's plain format (unprintable text): the caller reads it all
            assert not all(text.isprintable() for text in [*names, *names.values()])
            return
        got, text = read
        assert got == {name: entries[name] for name in part}
        assert text.render(got) == written
        changed = {name: entry(output="changed.png") for name in part}
        changed["new one"] = entry(output="new.png")
        outside = sorted(set(entries) - part)
        if outside:
            text.drop({outside[0]})
        expected = {n: e for n, e in {**entries, **changed}.items() if not outside or n != outside[0]}
        assert text.render(changed) == render_lock("p.yaml", expected)
        newer = {**changed, "new one": entry(output="newer.png")}  # and again, from what that wrote
        assert text.render(newer) == render_lock("p.yaml", {**expected, "new one": newer["new one"]})


def test_a_three_way_merge_by_asset() -> None:
    from renderer.store.lockfile import merge_locks

    base = {"a": entry()}
    ours, theirs = {"a": entry(job_id="mine")}, {"a": entry(job_id="theirs"), "b": entry()}
    merged, conflicts = merge_locks(base, ours, theirs)
    assert conflicts == ["a"] and merged == {"a": entry(job_id="mine"), "b": entry()}
    assert merge_locks(base, {}, {"a": entry()}) == ({}, [])  # removed on one side, untouched on the other
    assert merge_locks(base, {"a": entry(), "c": entry()}, {"a": entry(job_id="x")}) == (
        {"a": entry(job_id="x"), "c": entry()},
        [],
    )


def test_a_lockfile_read_ahead_on_the_other_core_reads_as_one_read_here(tmp_path: Path) -> None:
    from renderer.store.forked import started
    from renderer.store.lockfile import read_ahead, read_lock_text

    path = tmp_path / "p.lock"
    entries = {f"a{i}": entry(output=f"a{i}.png", pick=i % 3 or None, duration=i / 7) for i in range(50)}
    write_lock(path, "p.yaml", entries)
    here = read_lock_text(path)
    read_ahead(path, min_bytes=0)
    assert started(f"lockfile {path}")  # a child process is parsing it
    ahead = read_lock_text(path)
    assert ahead[0] == here[0] == entries
    assert all(type(e) is LockEntry for e in ahead[0].values())
    changed = {**entries, "a1": entry(output="changed.png")}
    assert ahead[1].render(changed) == here[1].render(changed) == render_lock("p.yaml", changed)
    assert not started(f"lockfile {path}")  # taken once
    read_ahead(path, min_bytes=0)
    plain = read_lock_text(path, with_texts=False)  # a plan: the entries, and no texts
    assert plain[0] == entries and plain[1].render(changed) == render_lock("p.yaml", changed)


def test_a_digest_named_by_many_entries_is_one_string_read_here_or_ahead(tmp_path: Path) -> None:
    from renderer.store.lockfile import read_ahead, read_lock_text

    path = tmp_path / "p.lock"
    made = "c" * 64
    entries = {
        "a": entry(sha256=made, created="2026-01-01T00:00:00Z"),
        **{f"u{i}": entry(inputs={"0": made}, created="2026-01-01T00:00:00Z") for i in range(3)},
    }
    write_lock(path, "p.yaml", entries)
    for ahead in (False, True):
        if ahead:
            read_ahead(path, min_bytes=0, with_texts=False)
        read = read_lock_text(path, with_texts=False)[0]
        assert read == entries
        users = [read[f"u{i}"] for i in range(3)]
        assert all(u.inputs["0"] is read["a"].sha256 for u in users)  # 100,000 of them: 11 MB less
        assert all(u.created is read["a"].created for u in users)
    read_ahead(path, min_bytes=0, with_texts=False)  # read ahead for a plan, taken by a render
    read, text = read_lock_text(path)
    assert read == entries and text.render(read) == path.read_bytes()


def test_a_lockfile_rewritten_after_it_was_read_is_rendered_anew_not_copied_from(tmp_path: Path) -> None:
    from renderer.store.lockfile import read_lock_text

    path = tmp_path / "p.lock"
    entries = {"a": entry(output="a.png"), "b": entry(output="b.png")}
    write_lock(path, "p.yaml", entries)
    read, text = read_lock_text(path)  # where each entry's text is: the bytes are read at the first render
    write_lock(path, "p.yaml", {"a": entry(output="a much longer name than before.png"), "b": entry()})
    changed = {**read, "b": entry(output="c.png")}
    assert text.render(changed) == render_lock("p.yaml", changed)  # not a's text at b's old offsets


def test_a_lockfile_changed_after_the_read_ahead_is_read_again(tmp_path: Path) -> None:
    from renderer.store.lockfile import read_ahead, read_lock_text

    path = tmp_path / "p.lock"
    write_lock(path, "p.yaml", {"a": entry()})
    read_ahead(path, min_bytes=0)
    newer = {"a": entry(output="newer.png"), "b": entry()}
    write_lock(path, "p.yaml", newer)  # another render wrote it meanwhile
    assert read_lock_text(path)[0] == newer
