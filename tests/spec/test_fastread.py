"""The fast entry reader reads what the YAML parser reads, or declines."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renderer.spec.fastread import read_entry
from renderer.spec.loader import _Loader, _Walker


def parsed(chunk: str) -> tuple[str, Any, int] | None:
    """What the loader's YAML path reads from an entry: (name, value, values counted), or None for a problem."""
    text = "assets:\n" + chunk
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    walker = _Walker("p.yaml", text, 2)
    try:
        data = walker.walk(node, (), 0)
    except yaml.YAMLError:
        return None
    if walker.problems or not isinstance(data, dict) or not isinstance(data.get("assets"), dict):
        return None
    if len(data["assets"]) != 1:
        return None
    [(name, value)] = data["assets"].items()
    return name, value, walker.nodes - 2  # less the document and the assets mapping


def typed(value: Any) -> Any:
    """A value with its types spelled out: 1, 1.0 and True compare equal in Python, not in a spec."""
    if isinstance(value, dict):
        return ("map", [(key, typed(item)) for key, item in value.items()])
    if isinstance(value, list):
        return ("list", [typed(item) for item in value])
    return (type(value).__name__, repr(value))


COMMON = [
    '  a0: {type: image, prompt: "asset 0", seed: 0, width: 16, height: 16}\n',
    '  a7: {type: image, prompt: "asset 7", seed: 7, width: 16, height: 16, inputs: [a1, a3, refs/r0.png]}\n',
    "  cliffs:\n    type: image\n    prompt: rocky cliffs above the sea at ${vars.style}\n    seed: 7\n",
    "  score:\n    type: music\n    prompt: uplifting cinematic strings and piano, 96bpm, major\n    duration: 10\n\n",
    "  talking:\n    type: lipsync\n    model: sync-v2\n    inputs: {video: boats, audio: welcome}\n",
    "  \"c d\": {type: image, prompt: 'it''s three', inputs: [a, b]}  # a comment\n",
    '  still:\n    # what it is\n    type: image\n    aspect_ratio: "16:9"\n    seed: 16:9  # text, not 969\n',
    "  v:\n    type: video\n    matrix: {seed: [1, 2, 3], style: [dawn, dusk]}\n    duration: 2.5\n    loop: no\n",
]


@pytest.mark.parametrize("chunk", COMMON)
def test_the_common_layouts_are_read_fast_and_as_yaml_reads_them(chunk: str) -> None:
    fast = read_entry(chunk)
    assert fast is not None
    slow = parsed(chunk)
    assert slow is not None
    assert (fast[0], typed(fast[1]), fast[2]) == (slow[0], typed(slow[1]), slow[2])


UNSURE = [
    '  a: {prompt: "line\\nbreak"}\n',  # an escape
    "  a: {prompt: !!str 5}\n",  # a tag
    "  a:\n    prompt: |\n      two lines\n",  # a block scalar
    "  a:\n    prompt: a long\n      wrapped line\n",  # a plain scalar over two lines
    "  a:\n    inputs:\n      - b\n",  # a nested block
    "  a: {type: image,\n    prompt: x}\n",  # a flow mapping over two lines
    "  a: {seed: 1, seed: 2}\n",  # a duplicate key (the YAML path says where)
    "  a:\n    prompt: a: b\n",  # not YAML
    "  a: {prompt: x}}\n",  # not YAML
    "  a: [b, c,]\n",
    "  a:\n    prompt:\n",
]


@pytest.mark.parametrize("chunk", UNSURE)
def test_what_it_is_unsure_of_goes_to_the_yaml_parser(chunk: str) -> None:
    assert read_entry(chunk) is None


# text made to trip a reader: indicators, quotes, comment marks, YAML 1.1 words, odd spaces and breaks
_PIECES = st.sampled_from(
    [
        "a", "b c", "x", "16:9", "no", "yes", "on", "~", "null", "true", "0x1f", "0o17", "1e3", "-2", ".5", "-.inf",
        ".nan", "2024-01-01", "1_000", "+1", "0.", "$", "${vars.style}", "a:b", "a: b", ":", ": ", "#", " #", "a#b",
        "-", "- ", "?", "? ", ",", ", ", "[", "]", "{", "}", "'", "''", '"', "&", "*", "!", "|", ">", "%", "@", "`",
        " ", "  ", "é", "\xa0", "\u2028", "\x85", "\ufeff", "\\", "\\n", "/", "=", "<", "(", ")",
    ]
)  # fmt: skip
_TEXT = st.lists(_PIECES, min_size=0, max_size=5).map("".join)


def _scalar() -> st.SearchStrategy[str]:
    return st.one_of(
        _TEXT,
        _TEXT.map(lambda t: f'"{t}"'),
        _TEXT.map(lambda t: f"'{t}'"),
        st.integers(-1000, 1000).map(str),
    )


def _flow(depth: int) -> st.SearchStrategy[str]:
    if depth <= 0:
        return _scalar()
    inner = _flow(depth - 1)
    key = st.one_of(st.sampled_from(["type", "prompt", "seed", "k_1", "a.b", "x-y"]), _scalar())
    comma = st.sampled_from([", ", ",", " , ", ",  "])
    colon = st.sampled_from([": ", ":", ":  ", " : "])
    seq = st.tuples(st.lists(inner, max_size=3), comma).map(lambda t: "[" + t[1].join(t[0]) + "]")
    pairs = st.lists(st.tuples(key, colon, inner).map("".join), max_size=3)
    mapping = st.tuples(pairs, comma).map(lambda t: "{" + t[1].join(t[0]) + "}")
    return st.one_of(_scalar(), seq, mapping)


_NAME = st.sampled_from(["a", "a1", "x.y", "n-1", '"c d"', "1", "true"])
_AFTER = st.sampled_from(["", " ", "  # c", " #c", "#c", "  x"])


@st.composite
def _entries(draw: st.DrawFn) -> str:
    name = draw(_NAME)
    if draw(st.booleans()):
        return f"  {name}: {draw(_flow(2))}{draw(_AFTER)}\n" + draw(st.sampled_from(["", "\n", "    # c\n"]))
    indent = " " * draw(st.integers(3, 6))
    lines = [f"  {name}:{draw(st.sampled_from(['', ' ', ' # c']))}\n"]
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from(["type", "prompt", "seed", '"q k"', "'s k'", "k: x", "-k"]))
        extra = draw(st.sampled_from(["", "", " ", "  "]))
        lines.append(f"{indent}{extra}{key}: {draw(_flow(2))}{draw(_AFTER)}\n")
        if draw(st.integers(0, 5)) == 0:
            lines.append(draw(st.sampled_from(["\n", "  # c\n", f"{indent}  more\n", f"{indent}- x\n"])))
    return "".join(lines)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_entries())
def test_whatever_it_reads_the_yaml_parser_reads_the_same(chunk: str) -> None:
    fast = read_entry(chunk)
    if fast is None:
        return
    slow = parsed(chunk)
    assert slow is not None, f"read fast, refused by YAML: {chunk!r}"
    assert (fast[0], typed(fast[1]), fast[2]) == (slow[0], typed(slow[1]), slow[2]), chunk
