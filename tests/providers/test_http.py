from __future__ import annotations

import hashlib
import time
from pathlib import Path

import anyio
import httpx
import pytest

from renderer.errors import ProviderError
from renderer.providers.http import HttpApi, SlidingWindowLimiter, default_error, url_problem


def test_only_https_or_loopback_http() -> None:
    assert url_problem("https://api.varg.ai/v1") is None
    assert url_problem("http://127.0.0.1:9/v1") is None and url_problem("http://[::1]:9/") is None
    assert url_problem("http://localhost/x") is None
    assert "only to this machine" in url_problem("http://10.0.0.1/v1")
    assert "not allowed" in url_problem("file:///etc/passwd")
    assert "not allowed" in url_problem("ftp://example.com/x")


def test_the_limiter_never_lets_more_than_the_limit_through_a_window() -> None:
    limiter = SlidingWindowLimiter(5, 0.5)
    sent: list[float] = []

    async def main() -> None:
        for _ in range(12):
            await limiter.acquire()
            sent.append(time.monotonic())

    anyio.run(main)
    for i in range(len(sent) - 5):
        assert sent[i + 5] - sent[i] >= 0.5  # any 6 consecutive requests span more than the window


def test_the_limiter_believes_the_server_about_what_is_left() -> None:
    limiter = SlidingWindowLimiter(10, 60)
    limiter.observe_remaining(2)
    assert len(limiter.sent) == 8


def test_error_shapes_of_both_providers() -> None:
    v1 = httpx.Response(400, json={"error": "validation_error", "message": "model is required", "statusCode": 400})
    v2 = httpx.Response(402, json={"error": {"code": "INSUFFICIENT_BALANCE", "message": "top up"}})
    html = httpx.Response(502, text="<html>bad gateway</html>")
    assert default_error(v1) == ("validation_error", "model is required")
    assert default_error(v2) == ("INSUFFICIENT_BALANCE", "top up")
    assert default_error(html) == ("HTTP_502", "<html>bad gateway</html>")


def test_downloads_refuse_bad_schemes_redirects_and_oversize(tmp_path: Path, sandbox) -> None:
    server = sandbox()
    (server.sandbox.root / "big.mp4").write_bytes(b"x" * 5000)

    async def fetch(url: str, limit: int = 10**9, expect: str = "video") -> tuple[str, str]:
        api = HttpApi("varg", server.url, "varg_k", {"max_download_bytes": limit, "max_retries": 0})
        try:
            return await api.download(url, tmp_path / "out.bin", asset="a", expect_kind=expect)
        finally:
            await api.aclose()

    media_type, digest = anyio.run(fetch, f"{server.url}/_outputs/big.mp4")
    assert media_type == "video/mp4" and digest == hashlib.sha256(b"x" * 5000).hexdigest()
    assert (tmp_path / "out.bin").stat().st_size == 5000
    for url, limit, expect, code in (
        (f"{server.url}/_outputs/big.mp4", 1000, "video", "TOO_LARGE"),
        (f"{server.url}/_outputs/big.mp4", 10**9, "audio", "WRONG_MEDIA_TYPE"),
        ("file:///etc/passwd", 10**9, "video", "BAD_OUTPUT_URL"),
        ("http://192.0.2.1/x.mp4", 10**9, "video", "BAD_OUTPUT_URL"),
    ):
        with pytest.raises(ProviderError) as info:
            anyio.run(fetch, url, limit, expect)
        assert info.value.code == code


def test_redirects_are_checked_at_every_hop(tmp_path: Path, sandbox) -> None:
    from urllib.parse import quote

    server = sandbox()
    (server.sandbox.root / "clip.mp4").write_bytes(b"v" * 100)

    async def fetch(url: str) -> tuple[str, str]:
        api = HttpApi("varg", server.url, "varg_k", {"max_retries": 0})
        try:
            return await api.download(url, tmp_path / "o.bin", asset="a", expect_kind="video")
        finally:
            await api.aclose()

    def via_redirect(target: str) -> str:
        return f"{server.url}/_sandbox/redirect?to={quote(target, safe='')}"

    assert anyio.run(fetch, via_redirect(f"{server.url}/_outputs/clip.mp4"))[0] == "video/mp4"
    for target in ("file:///etc/passwd", "http://192.0.2.1/clip.mp4", "ftp://example.com/clip.mp4"):
        with pytest.raises(ProviderError) as info:
            anyio.run(fetch, via_redirect(target))
        assert info.value.code == "BAD_OUTPUT_URL"
