"""Broken project files: every one exits 2 with a message naming the file, the place and the fix, prints no
traceback, and writes nothing."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer.dag import topological_order
from renderer.errors import SpecError
from renderer.spec.resolve import load_project
from tests.helpers import render, tree_snapshot

CORPUS = sorted((Path(__file__).parents[1] / "bad_specs").glob("*.yaml"))


@pytest.mark.parametrize("source", CORPUS, ids=lambda p: p.stem)
def test_every_corpus_file_says_what_it_expects_and_the_loader_says_it(source: Path, tmp_path: Path) -> None:
    first = source.read_text().splitlines()[0]
    assert first.startswith("# expect: ") and len(first) > len("# expect: ") + 3, source.name
    root = tmp_path / "project"
    root.mkdir()
    shutil.copy(source, root / source.name)
    with pytest.raises(SpecError) as info:
        load_project(root / source.name, source.name)
    assert first.removeprefix("# expect: ") in str(info.value)


def _assert_refused(spec: Path, root: Path, cache: Path, expected: str) -> None:
    before = tree_snapshot(root)
    result = render(spec, cwd=root, cache=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert expected in result.stderr, result.stderr
    assert re.search(rf"{re.escape(spec.name)}:\d+:\d+: ", result.stderr), result.stderr
    assert tree_snapshot(root) == before  # nothing written beside the spec, no out/, no lockfile


@pytest.mark.parametrize("source", CORPUS, ids=lambda p: p.stem)
def test_a_broken_spec_is_refused_clearly(source: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    spec = root / source.name
    shutil.copy(source, spec)
    expected = source.read_text().splitlines()[0].removeprefix("# expect: ")
    _assert_refused(spec, root, tmp_path / "cache", expected)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("latin1.yaml", b"version: 1\nassets:\n  a: {type: image, prompt: caf\xe9}\n", "not UTF-8 text"),
        ("empty.yaml", b"", "the file is empty"),
        ("blank.yaml", b"\n\n   \n", "the file is empty"),
        ("nested.yaml", b"version: 1\nassets: " + b"[" * 200 + b"]" * 200 + b"\n", "nests deeper than"),
        ("huge.yaml", None, "a project file may be at most"),
        ("folder.yaml", "directory", "this is a directory"),
    ],
)
def test_files_that_are_not_project_files(tmp_path: Path, name: str, content: Any, expected: str) -> None:
    root = tmp_path / "project"
    root.mkdir()
    spec = root / name
    if content == "directory":
        spec.mkdir()
    elif content is None:
        with open(spec, "wb") as handle:
            handle.write(b"version: 1\n" + b"#" * (51 * 1024 * 1024) + b"\n")
    else:
        spec.write_bytes(content)
    _assert_refused(spec, root, tmp_path / "cache", expected)


VALID = {
    "version": 1,
    "vars": {"style": "noir"},
    "assets": {
        "still": {"type": "image", "prompt": "a ${vars.style} street", "seed": 1, "width": 64},
        "clip": {"type": "video", "prompt": "rain", "duration": 2, "inputs": ["still"]},
        "tune": {"type": "music", "prompt": "sad piano", "duration": 3},
        "cut": {"type": "compose", "clips": ["clip", {"asset": "clip", "from": 0.5, "to": 1.5}], "audio": "tune"},
    },
}

junk = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*path, index))
    return found


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    import copy

    document = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(document)[1:]))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add", "rename-ref"]))
        if action == "replace":
            parent[path[-1]] = draw(junk)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(junk)
        elif (
            action == "rename-ref"
            and isinstance(parent, dict)
            and isinstance(parent.get("clips"), list)
            and parent["clips"]
        ):
            parent["clips"][0] = draw(st.sampled_from(["cut", "clp", "nope/x.mp4", "../x.mp4"]))
    return document


@given(mutated_specs())
@settings(
    max_examples=int(os.environ.get("MUTATIONS", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_mutation_is_either_valid_or_a_clear_spec_error(tmp_path: Path, document: dict[str, Any]) -> None:
    spec = tmp_path / "mutant.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False))
    try:
        project = load_project(spec, "mutant.yaml")
    except SpecError as exc:  # exit 2 in the command; anything else would be a traceback
        assert exc.problems
        for problem in exc.problems:
            assert problem.file == "mutant.yaml" and problem.line >= 1 and problem.column >= 1
            assert problem.message and "Traceback" not in problem.message
        return
    # accepted: then it is a project the engine can run, every input known and the graph acyclic
    assert project.assets
    deps = project.deps()
    assert all(d in project.assets for needs in deps.values() for d in needs)
    assert sorted(topological_order(deps)) == sorted(project.assets)
    outputs = [a.output for a in project.assets.values()]
    assert len({o.lower() for o in outputs}) == len(outputs)
