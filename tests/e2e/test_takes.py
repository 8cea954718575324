"""Takes: N candidates of a paid asset, held dependents until one is picked, picks that re-render only what
depends on them, against the sandbox and the local provider."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tests.helpers import KEYS, read_lock, remote_spec, render, render_json, requests_of

ASSETS = """
still: {type: image, model: nano-banana, prompt: a lighthouse at dusk, takes: 3}
clip: {type: video, provider: local, prompt: a slow pan, inputs: [still], duration: 1, fps: 4, width: 64, height: 64}
"""


def created(server) -> int:  # type: ignore[no-untyped-def]
    return len(requests_of(server, "created"))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_takes_are_made_held_picked_extended_and_repicked_paying_once_each(tmp_path: Path, sandbox) -> None:
    server = sandbox()
    spec = remote_spec(tmp_path / "p.yaml", server.url, ASSETS)
    cache = tmp_path / "cache"
    code, made = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0, made  # a pick to make is no failure
    assert {n: a["status"] for n, a in made["assets"].items()} == {
        "still.take1": "generated",
        "still.take2": "generated",
        "still.take3": "generated",
        "still": "held",
        "clip": "held",
    }
    assert created(server) == 3 and made["totals"]["held"] == 2
    out = tmp_path / "out"
    takes = [sha(out / f"still.take{k}.png") for k in (1, 2, 3)]
    assert len(set(takes)) == 3  # three different candidates, not three server-cache hits
    assert set(made["assets"]["still"]["takes"]) == {"still.take1", "still.take2", "still.take3"}
    assert not (out / "still.png").exists() and not (out / "clip.mp4").exists()
    check = render(spec, "--check", cwd=tmp_path, cache=cache, env=KEYS)
    assert check.returncode == 1 and "held      still" in check.stdout

    picked = render("pick", spec, "still", "2", cwd=tmp_path, cache=cache)
    assert picked.returncode == 0, picked.stderr
    assert read_lock(spec.with_suffix(".lock"))["assets"]["still"]["pick"] == 2
    code, made = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and made["assets"]["clip"]["status"] == "generated" and made["assets"]["still"]["pick"] == 2
    assert sha(out / "still.png") == takes[1] and created(server) == 3  # nothing paid for the pick
    assert render(spec, "--check", cwd=tmp_path, cache=cache, env=KEYS).returncode == 0
    clip_of_two = sha(out / "clip.mp4")

    spec.write_text(spec.read_text().replace("takes: 3", "takes: 4"))
    code, made = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and created(server) == 4  # only the new take is made
    assert made["assets"]["still.take4"]["status"] == "generated"
    assert all(made["assets"][n]["status"] == "cached" for n in ("still.take1", "still.take2", "still", "clip"))

    assert render("pick", spec, "still", "3", cwd=tmp_path, cache=cache).returncode == 0
    code, made = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and made["assets"]["clip"]["status"] == "generated" and created(server) == 4
    assert sha(out / "still.png") == takes[2] and sha(out / "clip.mp4") != clip_of_two

    spec.write_text(spec.read_text().replace("takes: 4", "takes: 4, pick: 2"))  # the spec pins a take
    code, made = render_json(spec, cwd=tmp_path, cache=cache, env=KEYS)
    assert code == 0 and sha(out / "clip.mp4") == clip_of_two and created(server) == 4  # back from the cache
    refused = render("pick", spec, "still", "1", cwd=tmp_path, cache=cache)
    assert refused.returncode == 2 and "pins" in refused.stderr


def test_picks_that_cannot_be_made_are_refused_clearly(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(
        "version: 1\ndefaults: {provider: local}\nassets:\n"
        "  still: {type: image, prompt: a cliff, width: 32, height: 32, takes: 2}\n"
        "  plain: {type: image, prompt: a sea, width: 32, height: 32}\n"
    )
    cache = tmp_path / "cache"
    early = render("pick", spec, "still", "1", cwd=tmp_path, cache=cache)
    assert early.returncode == 2 and "not made yet" in early.stderr and "Traceback" not in early.stderr
    assert render(spec, "-q", cwd=tmp_path, cache=cache).returncode == 0
    for args, words in (
        (("still", "3"), "takes 1 to 2"),
        (("plain", "1"), "has no takes"),
        (("nothing", "1"), "has no takes"),
    ):
        result = render("pick", spec, *args, cwd=tmp_path, cache=cache)
        assert result.returncode == 2 and words in result.stderr, result.stderr
    spec.write_text(spec.read_text().replace("takes: 2}", "takes: 2, pick: 3}"))
    result = render(spec, cwd=tmp_path, cache=cache)
    assert result.returncode == 2 and "'pick: 3' but it has 2 takes" in result.stderr
