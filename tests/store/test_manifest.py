"""manifest.json: one output a line, in path order, put together from lines the no-op path keeps."""

from __future__ import annotations

import json

from renderer.records import ManifestEntry
from renderer.store.manifest import assemble_manifest, manifest_line, render_manifest

A = ManifestEntry("a.png", "a", "cached", "a" * 64, 3, "image/png", width=2, height=2, key="d" * 64)
B = ManifestEntry("b/c.mp4", "b", "generated", "b" * 64, 9, "video/mp4", duration=1.0, key="c" * 64)


def test_lines_put_together_are_the_manifest() -> None:
    data = render_manifest("p", "p.yaml", [B, A])
    assert data == assemble_manifest("p", "p.yaml", [manifest_line(A), manifest_line(B)])
    assert data.decode().count("\n    {") == 2  # one output a line: diffs stay readable
    document = json.loads(data)
    assert document["project"] == "p" and [o["asset"] for o in document["outputs"]] == ["a", "b"]
    assert "duration" not in document["outputs"][0]  # nothing empty is written


def test_an_empty_manifest_is_valid_json() -> None:
    assert json.loads(render_manifest("p", "p.yaml", []))["outputs"] == []


def test_the_manifest_in_pieces_is_the_manifest_at_once() -> None:
    from renderer.store.manifest import manifest_pieces

    for count in (0, 1, 3, 4, 9):
        lines = [manifest_line(A._replace(path=f"o{i:02}.png", asset=f"o{i}")) for i in range(count)]
        pieces = list(manifest_pieces("p", "p.yaml", iter(lines), lines_at_once=3))
        assert b"".join(pieces) == assemble_manifest("p", "p.yaml", lines)
        assert len(pieces) == (1 if count == 0 else 2 + -(-count // 3))  # head, a piece per 3 lines, the end
