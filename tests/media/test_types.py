from __future__ import annotations

from pathlib import PurePath

import pytest

from renderer.media.types import MEDIA_TYPES, media_type_of


@pytest.mark.parametrize(
    "name",
    ["a.png", "A.PNG", "x/y.z/clip.mp4", "archive.tar.gz", ".png", "trailing.", "no_suffix", "dir.d/file", "a..wav"],
)
def test_media_type_reads_the_suffix_as_pathlib_does(name: str) -> None:
    expected = MEDIA_TYPES.get(PurePath(name).suffix.lower(), "application/octet-stream")
    assert media_type_of(name) == expected
    assert media_type_of(PurePath(name)) == expected
