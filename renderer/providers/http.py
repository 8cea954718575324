"""What every HTTP provider shares: keys, pacing, retries, and downloads that are safe and constant-memory.

Retries: connection errors, 429 and 5xx, with exponential backoff and jitter, honouring ``Retry-After``.
Never retried: 400, 401, 402, 403, 404, 409, 422, and any code the provider marks final. A create request
whose answer was lost after it was sent is not retried either, unless the provider has idempotency keys or
the provider block says ``retry_unconfirmed_submit: true``: the job may exist and cost money.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import random
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from renderer.errors import DownloadError, ProviderError
from renderer.media.types import kind_of
from renderer.providers.base import HttpSession
from renderer.spec.model import Tuning

FINAL_STATUSES = {400, 401, 402, 403, 404, 409, 413, 422}
USER_AGENT = "render (+https://render.dev)"


def is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def url_problem(url: str) -> str | None:
    """Why ``url`` may not be used, or None: only https, or plain http to this machine."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return None
    if parts.scheme == "http":
        return f"plain http is allowed only to this machine (127.0.0.1, ::1, localhost), not to '{parts.hostname}'; use https"
    return f"'{parts.scheme or url}' URLs are not allowed; use https"


def key_id(api_key: str) -> str:
    """A name for a key that reveals nothing about it (for limiter maps and logs)."""
    return hashlib.sha256(api_key.encode()).hexdigest()[:12]


class SlidingWindowLimiter:
    """At most ``limit`` requests in any ``window`` seconds: one per API key, shared by submits and polls."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = max(1, limit)
        self.window = window
        self.margin = max(0.2, 0.02 * window)
        self.sent: deque[float] = deque()
        self.lock = anyio.Lock()

    async def acquire(self) -> None:
        async with self.lock:
            while True:
                now = time.monotonic()
                while self.sent and now - self.sent[0] >= self.window + self.margin:
                    self.sent.popleft()
                if len(self.sent) < self.limit:
                    self.sent.append(now)
                    return
                # The server counts from when a request arrives, we from when it leaves: a margin keeps
                # network jitter from pushing a request into the server's previous window.
                await anyio.sleep(self.window - (now - self.sent[0]) + self.margin)

    def observe_remaining(self, remaining: int) -> None:
        """The server counts requests we did not see (another process, another tool): trust the smaller number."""
        now = time.monotonic()
        while self.sent and now - self.sent[0] >= self.window:
            self.sent.popleft()
        ours = self.limit - len(self.sent)
        for _ in range(max(0, ours - remaining)):
            self.sent.append(now)

    def block_for(self, seconds: float) -> None:
        """After a 429: count the window as full until ``seconds`` from now."""
        until = time.monotonic() + seconds - self.window
        self.sent = deque(sorted([*self.sent, *([until] * self.limit)]))


def limiter_for(
    session: HttpSession, base_url: str, api_key: str, tuning: Tuning, per_minute: float | None
) -> SlidingWindowLimiter | None:
    """The session's one limiter for this endpoint and key: ``rate_limit: {requests, seconds}``, or
    ``requests_per_minute``, or the provider's documented limit."""
    if tuning.rate_limit:
        requests, seconds = tuning.rate_limit
    elif per_minute:
        requests, seconds = int(per_minute), 60.0
    else:
        return None
    ident = (base_url, key_id(api_key))
    known = session.limiters.get(ident)
    if known is None or (known.limit, known.window) != (requests, seconds):
        known = session.limiters[ident] = SlidingWindowLimiter(requests, seconds)
    return known


class SubmitUnconfirmed(Exception):
    """The request went out but its answer did not come back."""


class HttpApi:
    """One provider endpoint with one key: requests with pacing and retries, and downloads."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        api_key: str,
        tuning: Tuning,
        *,
        session: HttpSession,
        per_minute: float | None = None,
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/") + "/"
        self.api_key = api_key
        self.max_retries = tuning.max_retries
        self.timeout = tuning.timeout
        self.max_download = tuning.max_download_bytes
        self.limiter = limiter_for(session, self.base_url, api_key, tuning, per_minute)
        self.sleep = session.sleep
        self.client = httpx.AsyncClient(
            transport=session.transport,
            timeout=httpx.Timeout(self.timeout, connect=10.0),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        self.requests = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    async def request(
        self,
        method: str,
        path: str,
        *,
        create: bool = False,
        idempotent: bool = True,
        final_codes: frozenset[str] = frozenset(),
        expect_json: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with pacing and retries; return a 2xx response (with a JSON body when ``expect_json``) or
        raise ProviderError.

        ``create`` marks a request that makes a paid job; unless ``idempotent``, an answer lost after
        sending (a broken connection, a malformed body) raises SubmitUnconfirmed instead of a retry.
        """
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            if self.limiter is not None:
                await self.limiter.acquire()
            self.requests += 1
            try:
                debug_request(method, self.url(path), headers)
                response = await self.client.request(method, self.url(path), headers=headers, **kwargs)
                debug_response(response)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                problem = f"cannot connect ({type(exc).__name__})"  # nothing was sent: safe to retry
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError) as exc:
                if create and not idempotent:
                    raise SubmitUnconfirmed(f"the connection broke: {type(exc).__name__}") from None
                problem = f"the connection broke ({type(exc).__name__})"
            else:
                self._observe(response)
                if response.status_code < 300:
                    if not expect_json or response.status_code == 204 or _is_json(response):
                        return response
                    if create and not idempotent:
                        raise SubmitUnconfirmed("the answer was not JSON")
                    problem = "the answer was not JSON"
                else:
                    code, message = default_error(response)
                    transient = response.status_code == 429 or response.status_code >= 500
                    if response.status_code in FINAL_STATUSES or not transient or code in final_codes:
                        raise ProviderError(self.provider, code, message)
                    problem = f"{response.status_code} {code}: {message}"
                    wait = _retry_after(response)
                    if response.status_code == 429 and self.limiter is not None and wait:
                        self.limiter.block_for(wait)
                    delay = max(delay, wait or 0.0)
            if attempt == self.max_retries:
                raise ProviderError(
                    self.provider,
                    "RETRIES_EXHAUSTED",
                    f"gave up after {attempt + 1} attempts: {problem}",
                    retryable=True,
                )
            await self.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    def _observe(self, response: httpx.Response) -> None:
        if self.limiter is not None and "X-RateLimit-Remaining" in response.headers:
            try:
                self.limiter.observe_remaining(int(response.headers["X-RateLimit-Remaining"]))
            except ValueError:
                pass

    async def download(self, url: str, dest: Path, *, expect_kind: str) -> tuple[str, str]:
        """Stream ``url`` into ``dest`` in constant memory, hashed as it streams; return (media type,
        sha256 hex). Connection faults and 5xx answers are retried; other schemes (also through
        redirects), more than ``max_download_bytes`` and media of the wrong kind are refused. Writes and
        the fsync run in worker threads, off the event loop."""
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            try:
                return await self._download_once(url, dest, expect_kind=expect_kind)
            except (httpx.TransportError, _Transient) as exc:
                if attempt == self.max_retries:
                    raise DownloadError(
                        self.provider, "DOWNLOAD_FAILED", f"gave up after {attempt + 1} attempts: {exc}"
                    ) from None
            await self.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    async def _download_once(self, url: str, dest: Path, *, expect_kind: str) -> tuple[str, str]:
        for _ in range(6):
            problem = url_problem(url)
            if problem:
                raise DownloadError(self.provider, "BAD_OUTPUT_URL", f"the output URL was refused: {problem}")
            async with self.client.stream("GET", url) as response:
                if response.status_code in (301, 302, 303, 307, 308) and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                if response.status_code >= 500 or response.status_code == 429:
                    raise _Transient(f"HTTP {response.status_code}")
                if response.status_code >= 300:
                    raise DownloadError(
                        self.provider, f"HTTP_{response.status_code}", "the server refused the download"
                    )
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if kind_of(media_type) != expect_kind:
                    raise DownloadError(
                        self.provider,
                        "WRONG_MEDIA_TYPE",
                        f"the output is '{media_type or 'unknown'}', not {expect_kind}",
                    )
                declared = int(response.headers.get("content-length") or 0)
                if declared > self.max_download:
                    raise DownloadError(
                        self.provider,
                        "TOO_LARGE",
                        f"the output is {declared:,} bytes; the limit is {self.max_download:,}",
                    )
                size = 0
                digest = hashlib.sha256()
                async with await anyio.open_file(dest, "wb") as handle:
                    async for chunk in response.aiter_bytes(1 << 20):
                        size += len(chunk)
                        digest.update(chunk)
                        if size > self.max_download:
                            raise DownloadError(
                                self.provider,
                                "TOO_LARGE",
                                f"the output passed the limit of {self.max_download:,} bytes",
                            )
                        await handle.write(chunk)
                    await handle.flush()
                    await anyio.to_thread.run_sync(os.fsync, handle.wrapped.fileno())
                return media_type, digest.hexdigest()
        raise DownloadError(self.provider, "TOO_MANY_REDIRECTS", "the output URL redirected too often")


class _Transient(Exception):
    pass


def _is_json(response: httpx.Response) -> bool:
    try:
        response.json()
    except ValueError:
        return False
    return True


def default_error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from an error answer, for the shapes providers use."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP_{response.status_code}", (response.text[:200].strip() or response.reason_phrase)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("code") or f"HTTP_{response.status_code}"), str(error.get("message") or "")
        if isinstance(error, str):
            return error, str(body.get("message") or error)
    return f"HTTP_{response.status_code}", str(body)[:200]


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return min(max(float(value), 0.0), 300.0)
    except ValueError:
        return None


def redact(headers: dict[str, str]) -> dict[str, str]:
    """Headers safe to print: credentials replaced."""
    hidden = {"authorization", "x-api-key", "cookie", "proxy-authorization"}
    return {
        k: ("Bearer ***" if k.lower() == "authorization" else "***") if k.lower() in hidden else v
        for k, v in headers.items()
    }


def _debugging() -> bool:
    return os.environ.get("RENDER_DEBUG", "") not in ("", "0")


def debug_request(method: str, url: str, headers: dict[str, str]) -> None:
    if _debugging():
        shown = ", ".join(f"{k}: {v}" for k, v in redact(headers).items())
        print(f"render debug: -> {method} {url} [{shown}]", file=sys.stderr, flush=True)


def debug_response(response: httpx.Response) -> None:
    if _debugging():
        print(f"render debug: <- {response.status_code} {response.request.url}", file=sys.stderr, flush=True)


def api_key_from(environ: dict[str, str], variable: str) -> str | None:
    value = environ.get(variable, "").strip()
    return value or None
