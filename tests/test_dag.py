from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.dag import closure, critical_path_lengths, find_cycle, topological_order


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    n = draw(st.integers(1, 40))
    names = [f"n{i}" for i in draw(st.permutations(range(n)))]
    deps: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        deps[name] = draw(st.lists(st.sampled_from(names[:i]), max_size=4, unique=True)) if i else []
    shuffled = draw(st.permutations(names))
    return {name: deps[name] for name in shuffled}


@given(dags())
@settings(max_examples=200)
def test_order_respects_every_dependency(deps: dict[str, list[str]]) -> None:
    order = topological_order(deps)
    assert sorted(order) == sorted(deps)
    position = {name: i for i, name in enumerate(order)}
    for name, needs in deps.items():
        for dep in needs:
            assert position[dep] < position[name]
    assert find_cycle(deps) is None


@given(dags(), st.data())
@settings(max_examples=200)
def test_an_added_back_edge_is_found_as_a_cycle(deps: dict[str, list[str]], data: st.DataObject) -> None:
    # ``top`` needs ``needed`` (directly, indirectly, or is it); making ``needed`` need ``top`` closes a cycle
    top = data.draw(st.sampled_from(sorted(deps)))
    needed = data.draw(st.sampled_from(sorted(closure(deps, [top]))))
    cyclic = {name: list(needs) for name, needs in deps.items()}
    cyclic[needed].append(top)
    cycle = find_cycle(cyclic)
    assert cycle is not None and top in cycle and needed in cycle
    for i, name in enumerate(cycle):
        assert cycle[(i + 1) % len(cycle)] in cyclic[name]


def test_closure_and_critical_path() -> None:
    deps = {"a": [], "b": ["a"], "c": ["b"], "d": [], "e": ["a", "d"]}
    assert closure(deps, ["c"]) == {"a", "b", "c"}
    lengths = critical_path_lengths(deps, topological_order(deps))
    assert lengths == {"a": 3, "b": 2, "c": 1, "d": 2, "e": 1}


def test_self_loop_is_a_cycle() -> None:
    assert find_cycle({"a": ["a"]}) == ["a"]
