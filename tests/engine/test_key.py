from __future__ import annotations

import json
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.engine.key import cache_key, recipe
from renderer.spec.model import Asset

scalars = st.one_of(
    st.text(max_size=20), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
)
params = st.dictionaries(
    st.sampled_from(["prompt", "duration", "aspect_ratio", "fps", "voice", "lyrics"]), scalars, max_size=5
)
hashes = st.dictionaries(
    st.sampled_from(["0", "1", "ref_audio", "audio"]),
    st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: "sha256:" + h),
    max_size=3,
)


def make(kind: str, model: str | None, seed: int | None, p: dict, output: str = "x.png", name: str = "a") -> Asset:
    return Asset(
        name=name, type=kind, provider="local", model=model, seed=seed, params=dict(p), inputs=[], output=output
    )


KEY_IN_SUBPROCESS = """
import json, sys
from renderer.engine.key import cache_key, recipe
from renderer.spec.model import Asset
out = []
for case in json.load(sys.stdin):
    asset = Asset(name="a", type=case["type"], provider="local", model=case["model"], seed=case["seed"],
                  params=case["params"], inputs=[], output="x.png")
    out.append(cache_key(recipe(asset, "local", "v1", case["hashes"])))
print(json.dumps(out))
"""


def test_keys_are_stable_across_processes() -> None:
    cases = []

    @given(
        st.sampled_from(["image", "video", "music"]),
        st.none() | st.text(max_size=10),
        st.none() | st.integers(0, 2**31),
        params,
        hashes,
    )
    @settings(max_examples=60)
    def collect(kind, model, seed, p, h) -> None:  # type: ignore[no-untyped-def]
        cases.append({"type": kind, "model": model, "seed": seed, "params": p, "hashes": h})

    collect()
    here = [
        cache_key(recipe(make(c["type"], c["model"], c["seed"], c["params"]), "local", "v1", c["hashes"]))
        for c in cases
    ]
    for hash_seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", KEY_IN_SUBPROCESS],
            input=json.dumps(cases),
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": hash_seed, "PATH": ""},
        )
        assert json.loads(result.stdout) == here


@given(
    params,
    hashes,
    st.sampled_from(["prompt", "duration", "seed", "model", "input", "type", "format", "provider"]),
    st.data(),
)
@settings(max_examples=300)
def test_any_result_affecting_change_changes_the_key(p: dict, h: dict, field: str, data: st.DataObject) -> None:
    base = make("image", "m1", 1, p)
    key = cache_key(recipe(base, "local", "v1", h))
    changed, provider, hashes_after = make("image", "m1", 1, p), "local", dict(h)
    if field in ("prompt", "duration"):
        old = p.get(field)
        new = data.draw(
            scalars.filter(
                lambda v: (
                    v != old and not (isinstance(v, float) and isinstance(old, (int, float)) and float(v) == float(old))
                )
            )
        )
        changed.params[field] = new
    elif field == "seed":
        changed.seed = 2
    elif field == "model":
        changed.model = "m2"
    elif field == "input":
        hashes_after["0"] = "sha256:" + ("f" * 64 if h.get("0") != "sha256:" + "f" * 64 else "e" * 64)
    elif field == "type":
        changed.type = "video"
    elif field == "format":
        changed.output = "x.jpg"
    elif field == "provider":
        provider = "varg"
    assert cache_key(recipe(changed, provider, "v1", hashes_after)) != key


@given(params, hashes)
def test_name_output_name_and_int_or_float_do_not_change_the_key(p: dict, h: dict) -> None:
    key = cache_key(recipe(make("music", None, 3, p), "local", "v1", h))
    assert (
        cache_key(recipe(make("music", None, 3, p, output="elsewhere/other.png", name="renamed"), "local", "v1", h))
        == key
    )
    as_float = {k: float(v) if isinstance(v, int) and not isinstance(v, bool) else v for k, v in p.items()}
    assert cache_key(recipe(make("music", None, 3, as_float), "local", "v1", h)) == key
