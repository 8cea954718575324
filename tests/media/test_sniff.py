"""Media recognised by its bytes, whatever its name or Content-Type claims."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.media.sniff import SNIFF_BYTES, sniff_kind


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 8, "image"),
        (b"\xff\xd8\xff\xe0\0\x10JFIF", "image"),
        (b"RIFF\0\0\0\0WEBPVP8 ", "image"),
        (b"RIFF\0\0\0\0WAVEfmt ", "audio"),
        (b"\0\0\0\x18ftypisom\0\0\x02\0", "video"),
        (b"\0\0\0\x14ftypqt  \0\0\0\0", "video"),
        (b"\0\0\0\x1cftypM4A \0\0\0\0", "audio"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video"),
        (b"ID3\x04\0\0\0\0\0\0", "audio"),
        (b"\xff\xfb\x90\x64\0\0", "audio"),
        (b"fLaC\0\0\0\x22", "audio"),
        (b"OggS\0\x02\0\0", "audio"),
        (b"<!doctype html><title>login</title>", None),
        (b'{"error": "not found"}', None),
        (b"", None),
    ],
)
def test_signatures(head: bytes, kind: str | None) -> None:
    assert sniff_kind(head) == kind


def test_what_render_makes_is_recognised(tmp_path: Path) -> None:
    from renderer.providers.local import audio, image
    from tests.fakes.requests import request

    image.make_image(request("image", prompt="p", width=32), tmp_path / "a.png")
    audio.make_music(request("music", output_format=".wav", prompt="p", duration=1), tmp_path / "b.wav")
    assert sniff_kind((tmp_path / "a.png").read_bytes()[:SNIFF_BYTES]) == "image"
    assert sniff_kind((tmp_path / "b.wav").read_bytes()[:SNIFF_BYTES]) == "audio"
