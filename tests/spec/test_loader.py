from __future__ import annotations

from pathlib import Path

import pytest

from renderer.errors import SpecError
from renderer.spec.loader import load_yaml


def load(tmp_path: Path, data: bytes) -> tuple[object, dict]:
    path = tmp_path / "p.yaml"
    path.write_bytes(data)
    return load_yaml(path, "p.yaml")


def problems(tmp_path: Path, data: bytes) -> list[str]:
    with pytest.raises(SpecError) as info:
        load(tmp_path, data)
    return [str(p) for p in info.value.problems]


def test_marks_give_line_and_column_of_every_key(tmp_path: Path) -> None:
    data, marks = load(tmp_path, b"version: 1\nassets:\n  cliff:\n    type: image\n    inputs: [a, b]\n")
    assert data == {"version": 1, "assets": {"cliff": {"type": "image", "inputs": ["a", "b"]}}}
    assert marks[("assets", "cliff")] == (3, 3)
    assert marks[("assets", "cliff", "type")] == (4, 5)
    assert marks[("assets", "cliff", "inputs", 1)] == (5, 17)


def test_duplicate_keys_are_errors(tmp_path: Path) -> None:
    found = problems(tmp_path, b"version: 1\nversion: 2\n")
    assert found == ["p.yaml:2:1: duplicate key 'version' (first given on line 1); remove one of them"]


def test_tabs_syntax_errors_and_empty_files(tmp_path: Path) -> None:
    assert "tab" in problems(tmp_path, b"assets:\n\tx: 1\n")[0]
    assert problems(tmp_path, b"a: [1, 2\n")[0].startswith("p.yaml:2:1: this is not valid YAML")
    assert "empty" in problems(tmp_path, b"  \n")[0]


def test_bytes_that_are_not_utf8(tmp_path: Path) -> None:
    assert problems(tmp_path, b"version: 1\nname: \xff\xfe\n") == [
        "p.yaml:2:1: the file is not UTF-8 text; save it as UTF-8"
    ]


def test_alias_bomb_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]"
        for i in range(1, 9)
    ]
    assert "alias bomb" in problems(tmp_path, "\n".join(lines).encode())[0]
    assert "deeper than" in problems(tmp_path, b"a: " + b"[" * 100 + b"]" * 100)[0]


def test_a_directory_and_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="directory"):
        load_yaml(tmp_path, "dir")
    with pytest.raises(SpecError, match="no such file"):
        load_yaml(tmp_path / "none.yaml", "none.yaml")


def test_plain_values_read_as_yaml_1_2_as_editors_read_them(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(
        "ratio: 16:9\nanswer: no\nflag: true\nold: yes\nday: 2024-01-01\nhex: 0x1f\nn: -12\nx: 1.5e3\n"
        "nothing: ~\nquoted: '12'\nforced: !!str 5\n"
    )
    data, _ = load_yaml(spec, "p.yaml")
    assert data == {
        "ratio": "16:9",  # YAML 1.1 (PyYAML): the number 969
        "answer": "no",  # YAML 1.1: false
        "flag": True,
        "old": "yes",
        "day": "2024-01-01",  # YAML 1.1: a date
        "hex": 31,
        "n": -12,
        "x": 1500.0,
        "nothing": None,
        "quoted": "12",
        "forced": "5",
    }


PARTED = """# yaml-language-server: $schema=x
version: 1
name: parts
vars: {who: "a fox"}
assets:
  # a comment at the top of the block
  a: {type: image, prompt: "one", seed: 16:9}
  b:
    type: image
    prompt: |
      two lines

      with a blank one
    size: !!str 5
  "c d": {type: image, prompt: 'three', inputs: [a, b]}
  e: {type: image, prompt: no}
# after the assets
defaults: {provider: local}
"""


@pytest.mark.parametrize("part_size", [1, 2, 1000])
def test_a_spec_composed_in_parts_reads_as_the_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, part_size: int
) -> None:
    """The light pass composes asset entries a thousand at a time; the data, and the marks it keeps (to the
    level of assets), are those of composing the whole document."""
    import renderer.spec.loader as loader

    monkeypatch.setattr(loader, "PART_SIZE", part_size)
    whole, whole_marks = load_yaml(tmp_path / "p.yaml", "p.yaml", PARTED.encode())
    parts, part_marks = load_yaml(tmp_path / "p.yaml", "p.yaml", PARTED.encode(), marks_depth=2)
    assert parts == whole and list(parts) == list(whole) and list(parts["assets"]) == ["a", "b", "c d", "e"]
    assert parts["assets"]["b"]["size"] == "5" and parts["assets"]["a"]["seed"] == "16:9"
    for name in ("a", "b", "c d", "e"):
        assert part_marks[("assets", name)] == whole_marks[("assets", name)]
    assert all(len(path) <= 2 for path in part_marks)
    # a problem inside an entry (a duplicate key) is refused in parts too: the caller reads it whole then
    with pytest.raises(SpecError):
        load_yaml(
            tmp_path / "p.yaml", "p.yaml", PARTED.replace("seed: 16:9", "seed: 1, seed: 2").encode(), marks_depth=2
        )
