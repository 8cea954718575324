"""The HTTP layer through httpx.MockTransport: retries, Retry-After, faults, redirects and size caps,
with backoff recorded instead of waited for. The sandbox end-to-end tests are in tests/e2e."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import anyio
import httpx
import pytest

from renderer.errors import DownloadError, ProviderError, UnconfirmedSubmit
from renderer.providers.base import HttpSession
from renderer.providers.http import HttpApi, SlidingWindowLimiter, default_error, url_problem
from renderer.spec.model import Tuning
from tests.fakes.transports import Resolver, Routes, Script, dropped, job, session_with

BASE = "https://api.example.test/v1"


MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


def api_for(handler, *, retries: int = 3, resolver=None, **tuning) -> tuple[HttpApi, list[float]]:  # type: ignore[no-untyped-def]
    session, sleeps = session_with(handler, resolver)
    return HttpApi("varg", BASE, "varg_secret", Tuning(max_retries=retries, **tuning), session=session), sleeps.waits


def call(api: HttpApi, method: str = "GET", path: str = "jobs/1", **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    async def main() -> httpx.Response:
        try:
            return await api.request(method, path, **kwargs)
        finally:
            await api.aclose()

    return anyio.run(main)


def test_only_https_or_loopback_http() -> None:
    assert url_problem("https://api.varg.ai/v1") is None
    assert url_problem("http://127.0.0.1:9/v1") is None and url_problem("http://[::1]:9/") is None
    assert url_problem("http://localhost/x") is None
    assert "only to this machine" in url_problem("http://10.0.0.1/v1")
    assert "not allowed" in url_problem("file:///etc/passwd")
    assert "not allowed" in url_problem("ftp://example.com/x")


def test_5xx_is_retried_with_growing_backoff_then_answers() -> None:
    script = Script(httpx.Response(503), httpx.Response(502), job("running"))
    api, waits = api_for(script)
    assert call(api).json()["status"] == "running"
    assert script.count() == 3 and len(waits) == 2 and waits[1] > waits[0]
    assert script.requests[0].headers["authorization"] == "Bearer varg_secret"


def test_retry_after_is_honoured() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "7"}), job())
    api, waits = api_for(script)
    call(api)
    assert waits and waits[0] >= 7  # jitter goes on top of the server's figure, never below it


def test_retries_run_out_with_a_retryable_error() -> None:
    script = Script(httpx.Response(500, json={"error": {"code": "INTERNAL", "message": "oops"}}))
    api, waits = api_for(script, retries=2)
    with pytest.raises(ProviderError) as info:
        call(api)
    assert info.value.code == "RETRIES_EXHAUSTED" and info.value.retryable and script.count() == 3
    assert "INTERNAL" in info.value.message and info.value.asset is None  # the engine names the asset


def test_a_final_status_is_not_retried() -> None:
    script = Script(httpx.Response(402, json={"error": {"code": "INSUFFICIENT_BALANCE", "message": "top up"}}))
    api, waits = api_for(script)
    with pytest.raises(ProviderError) as info:
        call(api)
    assert info.value.code == "INSUFFICIENT_BALANCE" and script.count() == 1 and not waits
    assert str(info.value) == "varg refused the job: INSUFFICIENT_BALANCE: top up"


def test_a_dropped_answer_to_a_create_is_unconfirmed_unless_idempotent() -> None:
    script = Script(dropped(), job())
    api, _ = api_for(script)
    with pytest.raises(UnconfirmedSubmit):
        call(api, "POST", "video", json={}, create=True, idempotent=False)
    assert script.count() == 1  # never sent twice: the job may exist
    script = Script(dropped(), job())
    api, _ = api_for(script)
    assert call(api, "POST", "video", json={}, create=True, idempotent=True).json()["job_id"] == "job_1"
    assert script.count() == 2


def test_a_body_that_is_not_json_is_unconfirmed_for_a_create_and_retried_for_a_read() -> None:
    garbled = httpx.Response(200, text="<html>proxy error</html>")
    api, _ = api_for(Script(garbled, job()))
    with pytest.raises(UnconfirmedSubmit):
        call(api, "POST", "video", json={}, create=True, idempotent=False)
    script = Script(garbled, job())
    api, _ = api_for(script)
    assert call(api).json()["job_id"] == "job_1" and script.count() == 2


def test_a_refused_connection_is_retried_even_for_a_create() -> None:
    script = Script(httpx.ConnectError("refused"), job())
    api, _ = api_for(script)
    assert call(api, "POST", "video", json={}, create=True, idempotent=False).json()["job_id"] == "job_1"


def test_error_shapes_of_both_providers() -> None:
    v1 = httpx.Response(400, json={"error": "validation_error", "message": "model is required", "statusCode": 400})
    v2 = httpx.Response(402, json={"error": {"code": "INSUFFICIENT_BALANCE", "message": "top up"}})
    html = httpx.Response(502, text="<html>bad gateway</html>")
    assert default_error(v1) == ("validation_error", "model is required")
    assert default_error(v2) == ("INSUFFICIENT_BALANCE", "top up")
    assert default_error(html) == ("HTTP_502", "<html>bad gateway</html>")


def download(api: HttpApi, url: str, dest: Path, expect: str = "video") -> tuple[str, str]:
    async def main() -> tuple[str, str]:
        try:
            return await api.download(url, dest, expect_kind=expect)
        finally:
            await api.aclose()

    return anyio.run(main)


def test_a_download_streams_to_disk_hashed_on_the_way(tmp_path: Path) -> None:
    body = MP4 + b"x" * 300_000
    routes = Routes({"/out/clip.mp4": httpx.Response(200, content=body, headers={"content-type": "video/mp4"})})
    api, _ = api_for(routes)
    media_type, digest = download(api, "https://cdn.example.test/out/clip.mp4", tmp_path / "o")
    assert (media_type, digest) == ("video/mp4", hashlib.sha256(body).hexdigest())
    assert (tmp_path / "o").read_bytes() == body


@pytest.mark.parametrize(
    ("answer", "limit", "expect", "code"),
    [
        (httpx.Response(200, content=b"x" * 5000, headers={"content-type": "video/mp4"}), 1000, "video", "TOO_LARGE"),
        (
            httpx.Response(200, content=b"x" * 5000, headers={"content-type": "video/mp4", "content-length": "99999"}),
            10_000,
            "video",
            "TOO_LARGE",
        ),
        (
            httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"}),
            10**9,
            "video",
            "WRONG_MEDIA_TYPE",
        ),
        (httpx.Response(403, text="denied"), 10**9, "video", "HTTP_403"),
    ],
)
def test_downloads_refuse_what_is_not_the_output(tmp_path: Path, answer, limit, expect, code) -> None:  # type: ignore[no-untyped-def]
    api, _ = api_for(Routes({"/o.mp4": answer}), max_download_bytes=limit)
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/o.mp4", tmp_path / "o", expect)
    assert info.value.code == code and "could not be downloaded" in info.value.message


@pytest.mark.parametrize("target", ["file:///etc/passwd", "http://192.0.2.1/clip.mp4", "ftp://example.com/clip.mp4"])
def test_redirects_are_checked_at_every_hop(tmp_path: Path, target: str) -> None:
    routes = Routes({"/hop": httpx.Response(302, headers={"location": target})})
    api, _ = api_for(routes)
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/hop", tmp_path / "o")
    assert info.value.code == "BAD_OUTPUT_URL"


def test_a_redirect_loop_ends_and_a_good_redirect_is_followed(tmp_path: Path) -> None:
    routes = Routes(
        {
            "/loop": httpx.Response(302, headers={"location": "/loop"}),
            "/moved": httpx.Response(301, headers={"location": "https://cdn.example.test/final.mp4"}),
            "/final.mp4": httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"}),
        }
    )
    api, _ = api_for(routes)
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/loop", tmp_path / "o")
    assert info.value.code == "TOO_MANY_REDIRECTS"
    api, _ = api_for(routes)
    assert download(api, "https://cdn.example.test/moved", tmp_path / "o")[0] == "video/mp4"


def test_a_download_that_keeps_failing_says_so(tmp_path: Path) -> None:
    api, waits = api_for(Routes({"/o.mp4": dropped()}), retries=2)
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/o.mp4", tmp_path / "o")
    assert info.value.code == "DOWNLOAD_FAILED" and len(waits) == 2
    assert "refused the job" not in str(info.value)


def test_limiters_belong_to_the_session_not_the_process() -> None:
    tuning = Tuning(rate_limit=(10, 60.0))
    shared = HttpSession()
    first = HttpApi("varg", BASE, "k1", tuning, session=shared)
    second = HttpApi("varg2", BASE, "k1", tuning, session=shared)
    other_key = HttpApi("varg", BASE, "k2", tuning, session=shared)
    other_run = HttpApi("varg", BASE, "k1", tuning, session=HttpSession())
    assert first.limiter is second.limiter
    assert first.limiter is not other_key.limiter and first.limiter is not other_run.limiter


def test_the_limiter_never_lets_more_than_the_limit_through_a_window() -> None:
    limiter = SlidingWindowLimiter(5, 0.5)
    sent: list[float] = []

    async def main() -> None:
        for _ in range(12):
            limiter.settle(await limiter.acquire())  # answered at once
            sent.append(time.monotonic())

    anyio.run(main)
    for i in range(len(sent) - 5):
        assert sent[i + 5] - sent[i] >= 0.5  # any 6 consecutive requests span more than the window


def test_the_limiter_believes_the_server_about_what_is_left() -> None:
    limiter = SlidingWindowLimiter(10, 60)
    limiter.observe_remaining(2)
    assert len(limiter.stamps) == 8


def test_a_request_counts_from_its_answer_so_a_slow_one_cannot_land_early() -> None:
    limiter = SlidingWindowLimiter(1, 0.3)
    marks: dict[str, float] = {}

    async def main() -> None:
        async with anyio.create_task_group() as group:
            place = await limiter.acquire()

            async def second() -> None:
                await limiter.acquire()  # waits for the first answer, then for a whole window after it
                marks["second"] = time.monotonic()

            group.start_soon(second)
            await anyio.sleep(0.2)  # the first request is still in flight
            marks["answered"] = time.monotonic()
            limiter.settle(place)

    anyio.run(main)
    assert marks["second"] - marks["answered"] >= 0.3


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_gateway_error_after_a_create_is_unconfirmed_not_retried(status: int) -> None:
    script = Script(httpx.Response(status, json={"error": {"code": "GATEWAY", "message": "upstream"}}), job())
    api, _ = api_for(script)
    with pytest.raises(UnconfirmedSubmit) as info:
        call(api, "POST", "video", json={}, create=True, idempotent=False)
    assert script.count() == 1 and str(status) in info.value.message


def test_429_and_503_prove_nothing_was_made_and_are_retried_for_a_create() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "2"}), httpx.Response(503), job())
    api, waits = api_for(script)
    assert call(api, "POST", "video", json={}, create=True, idempotent=False).json()["job_id"] == "job_1"
    assert script.count() == 3 and waits[0] >= 2


def test_an_idempotent_create_that_runs_out_of_retries_after_a_504_is_unconfirmed() -> None:
    script = Script(httpx.Response(504))
    api, _ = api_for(script, retries=1)
    with pytest.raises(UnconfirmedSubmit):
        call(api, "POST", "video", json={}, create=True, idempotent=True)
    script = Script(httpx.Response(503))
    api, _ = api_for(script, retries=1)
    with pytest.raises(ProviderError) as info:  # 503s only: no job can exist
        call(api, "POST", "video", json={}, create=True, idempotent=True)
    assert not isinstance(info.value, UnconfirmedSubmit)


def test_an_answer_that_trickles_hits_the_overall_deadline() -> None:
    async def trickle():  # type: ignore[no-untyped-def]
        for _ in range(1000):
            await anyio.sleep(0.05)
            yield b" "

    script = Script(lambda request: httpx.Response(200, content=trickle()))
    api, _ = api_for(script, retries=0, timeout=0.1)  # deadline 0.3 s; the answer would take 50 s
    started = time.monotonic()
    with pytest.raises(UnconfirmedSubmit) as info:
        call(api, "POST", "video", json={}, create=True, idempotent=False)
    assert "did not come in time" in info.value.message and time.monotonic() - started < 30


def test_an_oversized_answer_is_refused() -> None:
    script = Script(httpx.Response(200, content=b"[" + b"0," * 3_000_000 + b"0]"))
    api, _ = api_for(script, retries=0)
    with pytest.raises(ProviderError) as info:
        call(api)
    assert "passed" in info.value.message and "bytes" in info.value.message


def test_an_echoed_key_is_scrubbed_from_errors() -> None:
    script = Script(httpx.Response(401, json={"error": {"code": "UNAUTHORIZED", "message": "bad key varg_secret"}}))
    api, _ = api_for(script)
    with pytest.raises(ProviderError) as info:
        call(api)
    assert "varg_secret" not in str(info.value) and "***" in str(info.value)


def test_html_served_as_a_png_is_refused(tmp_path: Path) -> None:
    page = httpx.Response(200, content=b"<!doctype html><p>login</p>" * 10, headers={"content-type": "image/png"})
    api, _ = api_for(Routes({"/o.png": page}))
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/o.png", tmp_path / "o", "image")
    assert info.value.code == "WRONG_CONTENT" and "error page" in info.value.message


@pytest.mark.parametrize("address", ["10.1.2.3", "169.254.169.254", "127.0.0.1", "::1", "fd00::1", "192.168.1.9"])
def test_an_output_url_that_resolves_inside_the_network_is_refused(tmp_path: Path, address: str) -> None:
    routes = Routes({"/o.mp4": httpx.Response(200, content=MP4, headers={"content-type": "video/mp4"})})
    api, _ = api_for(routes, resolver=Resolver({"cdn.example.test": ["93.184.215.14", address]}))
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/o.mp4", tmp_path / "o")
    assert info.value.code == "BAD_OUTPUT_URL" and "inside this network" in info.value.message
    assert routes.requests == []  # refused before anything was asked


def test_a_redirect_to_a_private_address_is_refused(tmp_path: Path) -> None:
    routes = Routes({"/hop": httpx.Response(302, headers={"location": "https://metadata.internal/latest"})})
    api, _ = api_for(routes, resolver=Resolver({"metadata.internal": ["169.254.169.254"]}))
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/hop", tmp_path / "o")
    assert info.value.code == "BAD_OUTPUT_URL" and len(routes.requests) == 1


def test_a_download_that_trickles_hits_its_deadline(tmp_path: Path) -> None:
    async def trickle():  # type: ignore[no-untyped-def]
        yield MP4
        for _ in range(1000):
            await anyio.sleep(0.05)
            yield b"x"

    routes = Routes(
        {"/o.mp4": lambda request: httpx.Response(200, content=trickle(), headers={"content-type": "video/mp4"})}
    )
    api, _ = api_for(routes, download_deadline=0.3)
    started = time.monotonic()
    with pytest.raises(DownloadError) as info:
        download(api, "https://cdn.example.test/o.mp4", tmp_path / "o")
    assert info.value.code == "DOWNLOAD_TOO_SLOW" and "download_deadline" in info.value.message
    assert time.monotonic() - started < 30
