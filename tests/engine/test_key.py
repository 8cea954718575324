"""The cache key rule (renderer.engine.key), from spec text to key: every field that can change the result
changes the key; every field that cannot leaves it alone; and the committed demo lockfile's keys are
exactly what the rule gives today."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer.engine.key import asset_key, cache_key, recipe
from renderer.providers.registry import provider_class
from renderer.spec.model import Asset, Project
from renderer.spec.resolve import load_project
from renderer.store.lockfile import read_lock

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = "e" * 64  # the sha256 the input asset's output is taken to have

BASE = """\
version: 1
vars: {mood: calm}
providers:
  varg: {base_url: "https://api.varg.ai/v1", api_key_env: VARG_API_KEY, max_concurrency: 2, max_retries: 3, poll_interval: 1, timeout: 30}
assets:
  still: {type: image, prompt: "a harbour", seed: 1, width: 64, aspect_ratio: "16:9"}
  clip: {type: video, provider: varg, model: kling-v3, prompt: "waves, ${vars.mood}", duration: 5, aspect_ratio: "16:9", inputs: [still, refs/a.png], output: clip.mp4}
"""


def keys_of(project: Project, upstream: dict[str, str]) -> dict[str, str]:
    keys = {}
    for name, asset in project.assets.items():
        hashes = {}
        for ref in asset.inputs:
            if ref.kind == "file":
                hashes[ref.slot] = hashlib.sha256((project.root / ref.target).read_bytes()).hexdigest()
            else:
                hashes[ref.slot] = upstream.get(ref.target, UPSTREAM)
        block = project.providers.get(asset.provider)
        use = block.use if block else asset.provider
        keys[name] = asset_key(asset, use, provider_class(use).recipe_version, hashes)
    return keys


def clip_key(tmp_path: Path, text: str, picture: bytes = b"picture", upstream: str = UPSTREAM) -> str:
    (tmp_path / "refs").mkdir(exist_ok=True)
    (tmp_path / "refs" / "a.png").write_bytes(picture)
    spec = tmp_path / "p.yaml"
    spec.write_text(text)
    project = load_project(spec, "p.yaml")
    clip = next(name for name, a in project.assets.items() if a.type == "video")
    return keys_of(project, {"still": upstream})[clip]


CHANGES_THE_KEY = {
    "prompt": ('prompt: "waves, ${vars.mood}"', 'prompt: "storm, ${vars.mood}"'),
    "a variable the prompt uses": ("mood: calm", "mood: wild"),
    "duration": ("duration: 5,", "duration: 6,"),
    "model": ("model: kling-v3,", "model: kling-v3-standard,"),
    "seed": ("model: kling-v3,", "model: kling-v3, seed: 4,"),
    "aspect ratio": ('duration: 5, aspect_ratio: "16:9"', 'duration: 5, aspect_ratio: "9:16"'),
    "provider options": ("model: kling-v3,", "model: kling-v3, provider_options: {motion: 2},"),
    "provider implementation": ("provider: varg, model: kling-v3,", "provider: local, model: kling-v3,"),
    "output format": ("output: clip.mp4", "output: clip.mov"),
    "input order": ("inputs: [still, refs/a.png]", "inputs: [refs/a.png, still]"),
}

LEAVES_THE_KEY = {
    "asset name": ("  clip: {", "  shot: {"),
    "output name and folder": ("output: clip.mp4", "output: final/shot.mp4"),
    "concurrency, retries, polling, timeouts": (
        "max_concurrency: 2, max_retries: 3, poll_interval: 1, timeout: 30",
        "max_concurrency: 9, max_retries: 0, poll_interval: 5, timeout: 300",
    ),
    "base URL and key variable": (
        'base_url: "https://api.varg.ai/v1", api_key_env: VARG_API_KEY',
        'base_url: "https://proxy.example.com/v1", api_key_env: OTHER_KEY',
    ),
    "provider block name": ("  varg: {base_url", "  vg: {use: varg, base_url"),
    "a whole number written as a float": ("duration: 5,", "duration: 5.0,"),
    "text reached another way": ('prompt: "waves, ${vars.mood}"', 'prompt: "waves, calm"'),
    "an unrelated asset": ('prompt: "a harbour"', 'prompt: "a harbour", caption: "x"'),
}


@pytest.mark.parametrize("case", sorted(CHANGES_THE_KEY))
def test_a_field_that_can_change_the_result_changes_the_key(tmp_path: Path, case: str) -> None:
    old, new = CHANGES_THE_KEY[case]
    assert old in BASE
    edited = BASE.replace(old, new).replace("provider: vg", "provider: varg")
    assert clip_key(tmp_path, edited) != clip_key(tmp_path, BASE)


@pytest.mark.parametrize("case", sorted(LEAVES_THE_KEY))
def test_a_field_that_cannot_change_the_result_leaves_the_key(tmp_path: Path, case: str) -> None:
    old, new = LEAVES_THE_KEY[case]
    assert old in BASE
    edited = BASE.replace(old, new)
    if case == "provider block name":
        edited = edited.replace("provider: varg,", "provider: vg,")
    assert clip_key(tmp_path, edited) == clip_key(tmp_path, BASE)


def test_the_content_of_every_input_is_in_the_key(tmp_path: Path) -> None:
    base = clip_key(tmp_path, BASE)
    assert clip_key(tmp_path, BASE, picture=b"another picture") != base
    assert clip_key(tmp_path, BASE, upstream="f" * 64) != base
    assert clip_key(tmp_path, BASE) == base  # and the same content gives the same key again


def test_the_committed_demo_lockfile_has_todays_keys() -> None:
    """Keys must never change by accident: every key in specs/demo.lock is what the rule gives now."""
    project = load_project(ROOT / "specs" / "demo.yaml", "demo.yaml")
    locked = read_lock(ROOT / "specs" / "demo.lock")
    keys = keys_of(project, {name: entry.sha256 or "" for name, entry in locked.items()})
    assert keys == {name: entry.key for name, entry in locked.items()}


def test_keys_are_bare_hex_of_the_canonical_recipe() -> None:
    asset = Asset(
        name="a", type="image", provider="local", model=None, seed=1, params={"prompt": "x"}, inputs=[], output="a.png"
    )
    value = recipe(asset, "local", "v1", {"0": "ab" * 32})
    assert value["inputs"] == [["0", "sha256:" + "ab" * 32]]  # written as the lockfile writes digests
    key = cache_key(value)
    assert len(key) == 64 and set(key) <= set("0123456789abcdef")


scalars = st.one_of(
    st.text(max_size=20), st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False), st.booleans()
)
params = st.dictionaries(
    st.sampled_from(["prompt", "duration", "aspect_ratio", "fps", "voice", "lyrics"]), scalars, max_size=5
)
hashes = st.dictionaries(
    st.sampled_from(["0", "1", "ref_audio", "audio"]), st.text("0123456789abcdef", min_size=64, max_size=64), max_size=3
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


def make(kind: str, model: str | None, seed: int | None, p: dict) -> Asset:
    return Asset(
        name="a", type=kind, provider="local", model=model, seed=seed, params=dict(p), inputs=[], output="x.png"
    )


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
