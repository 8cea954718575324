"""``render review``: a self-contained gallery of a project's outputs, to look at takes side by side and pick.

The page is ``review/index.html`` in the output directory, with relative links to the outputs beside it and
video posters in ``review/posters/``: no network, no script from elsewhere; it opens from the file system,
on a phone or a desktop. It shows every asset in the order of the graph (an asset with takes as its takes
side by side, the picked one marked), with its prompt, provider, model, cost, duration, size, whether the
last render made it or found it, and what it was made from (linked). The total cost is at the top.

``render review SPEC --serve`` serves the same page on 127.0.0.1 with a Pick button on every take; a click
records the pick exactly as ``render pick`` does (``takes.record_pick``) and re-renders nothing.
"""

from __future__ import annotations

import html
import json
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from renderer.dag import topological_order
from renderer.errors import UsageError
from renderer.records import LockEntry
from renderer.spec.model import Asset, Project
from renderer.store.lockfile import lock_path, read_lock

REVIEW_DIR = "review"


@dataclass
class Tile:
    """One output on the page: an asset's, or one take of it."""

    name: str
    entry: LockEntry | None
    status: str | None  # of the last render (manifest.json), when it names this output
    take: int = 0


def write_gallery(project: Project, *, serving: bool = False) -> Path:
    """Write ``review/index.html`` (and video posters) into the output directory; its path."""
    entries = read_lock(lock_path(project.path))
    root = project.output_dir / REVIEW_DIR
    (root / "posters").mkdir(parents=True, exist_ok=True)
    statuses = _statuses(project.output_dir)
    order = topological_order(project.deps())
    shown = [n for n in order if project.assets[n].take == 0]
    cards = []
    for name in shown:
        asset = project.assets[name]
        entry = entries.get(name)
        if asset.takes > 1:
            tiles = [Tile(t, entries.get(t), statuses.get(t), k) for k, t in enumerate(asset.take_names, 1)]
        else:
            tiles = [Tile(name, entry, statuses.get(name))]
        for tile in tiles:
            _poster(project, tile, root / "posters")
        cards.append(_card(project, asset, entry, tiles, serving))
    total = sum(e.cost_usd or 0.0 for n, e in entries.items() if n in project.assets and project.assets[n].takes <= 1)
    unknown = sum(1 for n, e in entries.items() if n in project.assets and e.cost_usd is None)
    page = PAGE.format(
        title=html.escape(project.name),
        total=f"${total:.4f}" + (f" + {unknown} unknown" if unknown else ""),
        count=len(shown),
        cards="\n".join(cards),
        script=SCRIPT if serving else "",
        mode="serving" if serving else "static",
    )
    index = root / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _statuses(out_dir: Path) -> dict[str, str]:
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
        return {str(o["asset"]): str(o["status"]) for o in manifest.get("outputs", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _poster(project: Project, tile: Tile, posters: Path) -> None:
    """A still of a video's first second, for the page to show before it plays."""
    entry = tile.entry
    if entry is None or not (entry.media_type or "").startswith("video") or not entry.output:
        return
    source = project.output_dir / entry.output
    target = posters / f"{tile.name}.jpg"
    if not source.is_file() or (target.is_file() and target.stat().st_mtime >= source.stat().st_mtime):
        return
    from renderer.media.ffmpeg import ffmpeg_exe

    at = "0.5" if (entry.duration or 0) > 1 else "0"
    subprocess.run(
        [ffmpeg_exe(), "-y", "-loglevel", "error", "-ss", at, "-i", str(source), "-frames:v", "1", str(target)],
        capture_output=True,
        check=False,
        timeout=120,
    )


def _media(tile: Tile, project: Project) -> str:
    entry = tile.entry
    if entry is None or not entry.output or not (project.output_dir / entry.output).is_file():
        return '<div class="missing">not made yet</div>'
    src = html.escape("../" + entry.output)
    kind = (entry.media_type or "").split("/")[0]
    label = html.escape(tile.name)
    if kind == "image":
        return f'<img src="{src}" alt="{label}" loading="lazy">'
    if kind == "video":
        poster = f' poster="posters/{html.escape(tile.name)}.jpg"'
        return f'<video src="{src}"{poster} controls preload="metadata" playsinline></video>'
    if kind == "audio":
        return f'<audio src="{src}" controls preload="metadata"></audio>'
    return f'<a href="{src}">{label}</a>'


def _facts(entry: LockEntry | None, status: str | None) -> str:
    if entry is None:
        return ""
    facts = []
    if status:
        facts.append(f'<span class="badge {html.escape(status)}">{html.escape(status)}</span>')
    facts.append("cost unknown" if entry.cost_usd is None else f"${entry.cost_usd:.4f}")
    if entry.duration:
        facts.append(f"{entry.duration:g} s")
    if entry.width and entry.height:
        facts.append(f"{entry.width}×{entry.height}")
    if entry.bytes is not None:
        facts.append(_size(entry.bytes))
    return " · ".join(facts)


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count = count / 1024  # type: ignore[assignment]
    return ""


def _card(project: Project, asset: Asset, entry: LockEntry | None, tiles: list[Tile], serving: bool) -> str:
    text = str(asset.params.get("prompt") or asset.params.get("text") or asset.params.get("title") or "")
    made_from = []
    for ref in asset.inputs:
        if ref.kind == "asset" and project.assets.get(ref.target, asset).take == 0:
            made_from.append(f'<a href="#{html.escape(ref.target)}">{html.escape(ref.target)}</a>')
        elif ref.kind == "file":
            made_from.append(f'<a href="{html.escape(_file_link(project, ref.target))}">{html.escape(ref.target)}</a>')
    picked = entry.pick if entry is not None and asset.takes > 1 else None
    parts = []
    for tile in tiles:
        chosen = tile.take and tile.take == (asset.pick or picked)
        button = ""
        if serving and tile.take and tile.entry is not None and asset.pick is None:
            button = (
                f'<button class="pick" data-asset="{html.escape(asset.name)}" data-take="{tile.take}">'
                f"{'Picked' if chosen else 'Pick'}</button>"
            )
        caption = f"take {tile.take}" if tile.take else ""
        parts.append(
            f'<figure class="tile{" picked" if chosen else ""}" id="{html.escape(tile.name)}-tile">'
            f"{_media(tile, project)}<figcaption>{caption} {_facts(tile.entry, tile.status)} {button}</figcaption>"
            "</figure>"
        )
    model = f" · {html.escape(asset.model)}" if asset.model else ""
    takes = ""
    if asset.takes > 1:
        state = f"take {asset.pick or picked} picked" if (asset.pick or picked) else "no take picked yet"
        takes = f'<span class="takes">{asset.takes} takes; {state}</span>'
    return f"""<section class="card" id="{html.escape(asset.name)}">
<h2>{html.escape(asset.name)} <small>{html.escape(asset.type)} · {html.escape(asset.provider)}{model}</small> {takes}</h2>
<div class="tiles">{"".join(parts)}</div>
<p class="prompt">{html.escape(text)}</p>
{f'<p class="from">made from {", ".join(made_from)}</p>' if made_from else ""}
</section>"""


def _file_link(project: Project, target: str) -> str:
    import os

    return os.path.relpath(project.root / target, project.output_dir / REVIEW_DIR)


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{title}: review</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; margin: 0; padding: 1rem; background: #f5f5f4; color: #1c1917; }}
header {{ display: flex; flex-wrap: wrap; gap: .5rem 2rem; align-items: baseline; }}
h1 {{ margin: 0 0 .5rem; font-size: 1.4rem; }}
.card {{ background: #fff; border-radius: 10px; padding: .8rem 1rem; margin: 1rem 0; box-shadow: 0 1px 3px #0002; }}
h2 {{ font-size: 1.1rem; margin: 0 0 .6rem; }} h2 small {{ color: #78716c; font-weight: normal; }}
.tiles {{ display: grid; gap: .8rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 260px), 1fr)); }}
.tile {{ margin: 0; border: 2px solid transparent; border-radius: 8px; padding: .3rem; }}
.tile.picked {{ border-color: #16a34a; }}
img, video {{ width: 100%; height: auto; border-radius: 6px; background: #e7e5e4; display: block; }}
audio {{ width: 100%; }}
figcaption {{ font-size: .85rem; color: #57534e; margin-top: .3rem; }}
.badge {{ border-radius: 4px; padding: 0 .35rem; background: #e7e5e4; }} .badge.generated {{ background: #fde68a; }}
.takes {{ font-size: .85rem; color: #166534; margin-left: .5rem; }}
.prompt {{ white-space: pre-wrap; margin: .6rem 0 .2rem; }} .from {{ font-size: .9rem; color: #57534e; }}
.missing {{ padding: 2rem; text-align: center; color: #a8a29e; background: #fafaf9; border-radius: 6px; }}
button.pick {{ font: inherit; padding: .2rem .8rem; border-radius: 6px; border: 1px solid #16a34a; background: #fff; }}
.picked button.pick {{ background: #16a34a; color: #fff; }}
</style>
</head>
<body data-mode="{mode}">
<header><h1>{title}</h1><span>{count} assets</span><span id="total">outputs cost {total} in all</span></header>
{cards}
{script}
</body>
</html>
"""

SCRIPT = """<script>
document.querySelectorAll("button.pick").forEach((button) => {
  button.addEventListener("click", async () => {
    const answer = await fetch("/pick", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({asset: button.dataset.asset, take: Number(button.dataset.take)}),
    });
    const said = await answer.json();
    if (!answer.ok) { alert(said.error); return; }
    location.reload();
  });
});
</script>"""


def serve(project: Project, host: str, port: int, ready: Callable[[str], None]) -> None:
    """Serve the gallery with Pick buttons until interrupted; ``ready`` gets the page's address."""
    from renderer.engine.takes import record_pick
    from renderer.store.projectlock import ProjectLock, prepare_state_dir, state_dir_for

    out_dir = project.output_dir.resolve()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return None

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            if path in ("/", "/review", "/review/"):
                write_gallery(project, serving=True)
                return self._send(302, b"", "text/plain", {"Location": f"/{REVIEW_DIR}/index.html"})
            target = (out_dir / path.lstrip("/")).resolve()
            if not target.is_relative_to(out_dir) or not target.is_file():
                return self._send(404, b"not found", "text/plain")
            if target == out_dir / REVIEW_DIR / "index.html":
                write_gallery(project, serving=True)
            types = {".html": "text/html; charset=utf-8", ".png": "image/png", ".jpg": "image/jpeg"}
            types |= {".mp4": "video/mp4", ".mp3": "audio/mpeg", ".wav": "audio/wav", ".webp": "image/webp"}
            self._send(200, target.read_bytes(), types.get(target.suffix.lower(), "application/octet-stream"))

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/pick":
                return self._send(404, b"not found", "text/plain")
            # Only this page may pick: JSON (which another site's form cannot send without asking first)
            # from this origin, so a page elsewhere in the same browser cannot change the lockfile.
            origin = self.headers.get("Origin")
            if not (self.headers.get("Content-Type") or "").startswith("application/json") or (
                origin is not None and origin != f"http://{self.headers.get('Host')}"
            ):
                return self._json(403, {"error": "picks come from the review page itself"})
            try:
                asked = json.loads(self.rfile.read(min(int(self.headers.get("Content-Length") or 0), 4096)))
                name, take = str(asked["asset"]), int(asked["take"])
                state = state_dir_for(project.path)
                prepare_state_dir(state)
                with ProjectLock(state / "lock", project.display):
                    entry = record_pick(project, name, take)
            except UsageError as exc:
                return self._json(400, {"error": str(exc)})
            except (ValueError, KeyError, TypeError):
                return self._json(400, {"error": "send {asset, take}"})
            self._json(200, {"asset": name, "pick": take, "sha256": entry.sha256})

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode(), "application/json")

        def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    server = Server((host.strip("[]"), port), Handler)
    bound, bound_port = str(server.server_address[0]), int(server.server_address[1])
    shown_host = f"[{bound}]" if ":" in bound else bound
    ready(f"http://{shown_host}:{bound_port}/{REVIEW_DIR}/index.html")
    try:
        server.serve_forever()
    finally:
        server.server_close()
