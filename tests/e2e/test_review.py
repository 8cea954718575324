"""The review gallery in a real browser: headless Chromium (Debian's) driven by Playwright over the page the
`render review` command writes, and over `render review --serve`, whose Pick button changes the lockfile."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import RENDER, read_lock, render

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (apt install chromium)")
# As root, on a machine with no outside network: no sandbox, and none of Chromium's own connections.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("RENDER_TEST_ARTIFACTS", ROOT / "test-artifacts"))
SPEC = """version: 1
defaults: {provider: local}
assets:
  still: {type: image, prompt: a lighthouse at dusk, width: 160, height: 90, seed: 4, takes: 3}
  clip: {type: video, prompt: a slow pan, inputs: [still], duration: 1, fps: 8, width: 160, height: 90}
  theme: {type: music, prompt: calm piano, duration: 2}
"""


def open_page(browser: Any, url: str) -> tuple[Any, list[str]]:
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    return page, errors


def media_all_load(page: Any) -> None:
    """Every image decodes; every video and audio element has loaded its metadata."""
    page.wait_for_function(
        """() => [...document.images].every((i) => i.complete && i.naturalWidth > 0) &&
                 [...document.querySelectorAll("video, audio")].every((m) => m.readyState >= 1)""",
        timeout=60_000,
    )
    broken = page.evaluate(
        """() => [...document.images].filter((i) => !i.naturalWidth).map((i) => i.src)
                 .concat([...document.querySelectorAll("video, audio")].filter((m) => m.error).map((m) => m.src))"""
    )
    assert broken == []


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield launched
        launched.close()


def test_the_demo_gallery_opens_from_disk_with_every_output_loading(tmp_path: Path, browser) -> None:
    project = tmp_path / "demo"
    project.mkdir()
    for name in ("demo.yaml", "demo.lock"):
        shutil.copyfile(ROOT / "specs" / name, project / name)
    assert render(project / "demo.yaml", "-q", cwd=project, cache=tmp_path / "cache", timeout=600).returncode == 0
    written = render("review", project / "demo.yaml", cwd=project, cache=tmp_path / "cache")
    assert written.returncode == 0, written.stderr
    index = project / "out" / "review" / "index.html"
    text = index.read_text()
    assert "http://" not in text and "https://" not in text  # no network: everything is relative
    page, errors = open_page(browser, index.as_uri())
    media_all_load(page)
    assert page.locator("section.card").count() == 8 and page.locator("video").count() == 4
    assert page.locator("audio").count() == 1 and page.locator("#total").inner_text().startswith("outputs cost $")
    assert page.locator("#final .from a").count() >= 3  # what the final cut was made from, linked
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-demo.png"), full_page=True)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    phone.goto(index.as_uri())
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling on a phone
    assert errors == []


def test_the_served_page_picks_a_take_as_render_pick_does(tmp_path: Path, browser) -> None:
    spec = tmp_path / "p.yaml"
    spec.write_text(SPEC)
    cache = tmp_path / "cache"
    assert render(spec, "-q", cwd=tmp_path, cache=cache).returncode == 0
    environ = {k: v for k, v in os.environ.items() if not k.startswith("RENDER_")}
    environ["RENDER_CACHE_DIR"] = str(cache)
    server = subprocess.Popen(
        [RENDER, "review", str(spec), "--serve", "--port", "0"],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = ""
        deadline = time.monotonic() + 60
        while not url.startswith("serving "):
            assert time.monotonic() < deadline and server.poll() is None, server.stderr.read() if server.stderr else ""
            url = server.stdout.readline() if server.stdout else ""
        url = url.split()[1]
        assert url.startswith("http://127.0.0.1:")
        page, errors = open_page(browser, url)
        media_all_load(page)
        assert page.locator("button.pick").count() == 3 and page.locator(".tile.picked").count() == 0
        page.locator('button.pick[data-take="2"]').click()
        page.wait_for_selector("#still\\.take2-tile.picked", timeout=30_000)  # the page came back with the pick
        assert read_lock(spec.with_suffix(".lock"))["assets"]["still"]["pick"] == 2
        assert errors == []
    finally:
        server.terminate()
        server.wait(timeout=30)
    made = render(spec, "-q", "--json", cwd=tmp_path, cache=cache)
    assert made.returncode == 0 and '"clip": {"status": "generated"' in made.stdout  # the pick was taken up
