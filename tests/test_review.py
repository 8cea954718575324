"""The review page as text: relative links only, takes side by side, the pick marked, the prompt escaped."""

from __future__ import annotations

from pathlib import Path

from renderer.records import LockEntry
from renderer.review import write_gallery
from renderer.spec.resolve import load_project
from renderer.store.lockfile import lock_path, write_lock

SPEC = """version: 1
defaults: {provider: local}
assets:
  still: {type: image, prompt: "a <b>bold</b> sky & sea", width: 32, height: 32, takes: 2}
  song: {type: music, prompt: calm, duration: 1}
"""


def entry(output: str, digest: str, **fields: object) -> LockEntry:
    return LockEntry(key=digest * 64, provider="local", output=output, sha256=digest * 64, bytes=10, **fields)  # type: ignore[arg-type]


def test_takes_side_by_side_with_the_pick_marked_and_nothing_from_elsewhere(tmp_path: Path) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    project = load_project(spec, "p.yaml")
    out = project.output_dir
    out.mkdir()
    for name in ("still.take1.png", "still.take2.png", "song.wav"):
        (out / name).write_bytes(b"x")
    write_lock(
        lock_path(spec),
        "p.yaml",
        {
            "still.take1": entry("still.take1.png", "a", media_type="image/png", cost_usd=0.04),
            "still.take2": entry("still.take2.png", "b", media_type="image/png", cost_usd=0.04),
            "still": entry("still.png", "b", media_type="image/png", cost_usd=0.04, pick=2),
            "song": entry("song.wav", "c", media_type="audio/wav"),
        },
    )
    page = write_gallery(project).read_text()
    assert 'src="../still.take1.png"' in page and 'src="../still.take2.png"' in page
    assert '<audio src="../song.wav"' in page
    assert "a &lt;b&gt;bold&lt;/b&gt; sky &amp; sea" in page  # a prompt is text, never markup
    assert page.count('class="tile picked"') == 1 and 'id="still.take2-tile"' in page
    assert "2 takes; take 2 picked" in page
    assert "outputs cost $0.0800 + 1 unknown in all" in page  # the takes, not the pick twice
    assert "http" not in page and "<button" not in page  # no network; Pick buttons only when served
    served = write_gallery(project, serving=True).read_text()
    assert served.count('<button class="pick"') == 2 and 'fetch("/pick"' in served


def test_the_served_pick_refuses_other_origins_and_forms(tmp_path: Path) -> None:
    import threading
    import urllib.error
    import urllib.request

    from renderer.review import serve

    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    project = load_project(spec, "p.yaml")
    project.output_dir.mkdir()
    found: list[str] = []
    threading.Thread(target=serve, args=(project, "127.0.0.1", 0, found.append), daemon=True).start()
    for _ in range(200):
        if found:
            break
        threading.Event().wait(0.05)
    base = found[0].rsplit("/review/", 1)[0]

    def post(headers: dict[str, str]) -> int:
        request = urllib.request.Request(base + "/pick", data=b'{"asset": "still", "take": 1}', headers=headers)
        try:
            return urllib.request.urlopen(request, timeout=30).status
        except urllib.error.HTTPError as error:
            return error.code

    assert post({"Content-Type": "text/plain"}) == 403  # a plain form from anywhere
    assert post({"Content-Type": "application/json", "Origin": "http://evil.example"}) == 403
    assert post({"Content-Type": "application/json"}) == 400  # allowed through: take 1 is not made yet
