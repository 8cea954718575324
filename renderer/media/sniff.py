"""What kind of media a file's first bytes say it is, whatever its name or Content-Type claims.

Signatures: PNG, JPEG, GIF, WebP (images); MP4/MOV (``ftyp``), WebM/Matroska (EBML) (video); MP3 (ID3 or
an MPEG frame sync), WAV (RIFF/WAVE), FLAC, OGG, M4A (``ftyp`` with an audio brand) (audio).
"""

from __future__ import annotations

SNIFF_BYTES = 64
AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


def sniff_kind(head: bytes) -> str | None:
    """ "image", "video", "audio", or None for bytes that are no media render knows."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff") or head[:6] in (b"GIF87a", b"GIF89a"):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio"
    if head[4:8] == b"ftyp":
        return "audio" if head[8:12] in AUDIO_BRANDS else "video"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video"
    if head.startswith((b"ID3", b"fLaC", b"OggS")):
        return "audio"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:  # an MPEG audio frame, no ID3 tag
        return "audio"
    return None
