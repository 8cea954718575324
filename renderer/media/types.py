"""Media types by file extension, and what kind of media each asset type makes."""

from __future__ import annotations

import os
from pathlib import PurePath

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".m4a": "audio/mp4",
}


def media_type_of(path: str | PurePath) -> str:
    # splitext on the text: what PurePath.suffix says for every name these types have, without a PurePath
    return MEDIA_TYPES.get(os.path.splitext(path)[1].lower(), "application/octet-stream")


def kind_of(media_type: str) -> str:
    """ "image", "video", "audio" or "other"."""
    head = media_type.split("/", 1)[0]
    return head if head in ("image", "video", "audio") else "other"
