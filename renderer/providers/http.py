"""What every HTTP provider shares: keys, pacing, retries, and downloads that are safe and constant-memory.

Retries: connection errors, 429 and 5xx, with exponential backoff and jitter, waiting at least
``Retry-After``. Never retried: 400, 401, 402, 403, 404, 409, 422, and any code the provider marks final.
A create request whose answer does not prove whether a job was made (a lost answer, a timeout, 500, 502,
504, a body that is not the job) is not retried either, unless the provider has idempotency keys or the
provider block says ``retry_unconfirmed_submit: true``: it raises UnconfirmedSubmit, for the journal.
Every answer is read within an overall deadline and a size cap; provider text has the key taken out.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
import httpx

from renderer.errors import DownloadError, ProviderError, UnconfirmedSubmit
from renderer.media.sniff import SNIFF_BYTES, sniff_kind
from renderer.media.types import kind_of
from renderer.providers.base import HttpSession, mark_submit_sending, report_progress
from renderer.spec.model import Tuning
from renderer.store.remote import is_loopback  # one rule for plain http, remotes and providers alike

FINAL_STATUSES = {400, 401, 402, 403, 404, 409, 413, 422}
USER_AGENT = "render (+https://render.dev)"


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
    """At most ``limit`` requests in any ``window`` seconds: one per API key, shared by submits and polls.

    The server counts a request from when it arrives, which we cannot see; we know it arrived before its
    answer came back. So each request holds its place in the window from when it leaves until its answer
    (or failure) is in, and counts from that moment: however slow the machine or the network, no request
    can land in the server's window early. A margin covers the clocks' differences."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = max(1, limit)
        self.window = window
        self.margin = max(0.2, 0.02 * window)
        self.stamps: list[list[float]] = []  # one cell per request; inf while it is in flight
        self.lock = anyio.Lock()
        self.settled = anyio.Event()

    async def acquire(self) -> list[float]:
        """A place in the window; give it back with ``settle`` once the answer is in."""
        async with self.lock:
            while True:
                now = time.monotonic()
                self.stamps = [cell for cell in self.stamps if now - cell[0] < self.window + self.margin]
                if len(self.stamps) < self.limit:
                    cell = [math.inf]
                    self.stamps.append(cell)
                    return cell
                earliest = min(cell[0] for cell in self.stamps)
                if math.isinf(earliest):  # every place is held by a request in flight: wait for an answer
                    self.settled = anyio.Event()
                    await self.settled.wait()
                else:
                    await anyio.sleep(earliest + self.window + self.margin - now)

    def settle(self, cell: list[float]) -> None:
        cell[0] = time.monotonic()
        self.settled.set()

    def observe_remaining(self, remaining: int) -> None:
        """The server counts requests we did not see (another process, another tool): trust the smaller number."""
        now = time.monotonic()
        self.stamps = [cell for cell in self.stamps if now - cell[0] < self.window]
        ours = self.limit - len(self.stamps)
        self.stamps += [[now] for _ in range(max(0, ours - remaining))]

    def block_for(self, seconds: float) -> None:
        """After a 429: count the window as full until ``seconds`` from now."""
        until = time.monotonic() + seconds - self.window
        self.stamps += [[until] for _ in range(self.limit)]


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


AMBIGUOUS_STATUSES = {500, 502, 504}  # the gateway may have passed the create on before it failed
MAX_ANSWER_BYTES = 4 * 1024**2  # an API answer is a small JSON document


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
        self.download_deadline = tuning.download_deadline
        self.limiter = limiter_for(session, self.base_url, api_key, tuning, per_minute)
        self.sleep = session.sleep
        # Outputs may come from this machine only when the API itself is here (the sandbox).
        self.private_outputs = is_loopback(urlsplit(self.base_url).hostname or "")
        self.resolve = session.resolver or resolve_host
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

    def scrub(self, text: str) -> str:
        """Text from the provider with our key taken out (a server may echo the Authorization header)."""
        return text.replace(self.api_key, "***") if len(self.api_key) >= 4 else text

    def refuse(self, code: str, message: str, **kwargs: Any) -> ProviderError:
        return ProviderError(self.provider, code, self.scrub(message), **kwargs)

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

        ``create`` marks a request that makes a paid job. Unless ``idempotent``, an answer that does not
        prove whether the job was made (a broken connection, a timeout, 500/502/504, a body that is not
        JSON) raises UnconfirmedSubmit instead of a retry. Only a refused connection, 429 and 503 are
        retried: they prove nothing was made.
        """
        headers = {"Authorization": f"Bearer {self.api_key}", **kwargs.pop("headers", {})}
        ambiguous_is_final = create and not idempotent
        if create:
            mark_submit_sending(False)
        maybe_created = False  # an idempotent create retried after an answer that proved nothing
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            place = await self.limiter.acquire() if self.limiter is not None else None
            self.requests += 1
            wait: float | None = None
            try:
                debug_request(method, self.url(path), headers)
                if create:
                    mark_submit_sending(True)
                try:
                    response = await self._send(method, self.url(path), headers, kwargs)
                finally:
                    if place is not None and self.limiter is not None:
                        self.limiter.settle(place)
                debug_response(response)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                problem = f"cannot connect ({type(exc).__name__})"  # nothing was sent: safe to retry
                if create and not maybe_created:
                    mark_submit_sending(False)
            except (httpx.TransportError, _AnswerTooLarge, TimeoutError) as exc:
                reason = _describe(exc)
                if ambiguous_is_final:
                    raise UnconfirmedSubmit(self.provider, "SUBMIT_UNCONFIRMED", reason) from None
                problem, maybe_created = reason, create
            else:
                self._observe(response)
                if response.status_code < 300:
                    if not expect_json or response.status_code == 204 or _json_object(response):
                        return response
                    if ambiguous_is_final:
                        raise UnconfirmedSubmit(
                            self.provider, "SUBMIT_UNCONFIRMED", "the answer was not the job (not a JSON object)"
                        )
                    problem, maybe_created = "the answer was not JSON", create
                else:
                    code, message = default_error(response)
                    message = self.scrub(message)
                    status = response.status_code
                    transient = status == 429 or status >= 500
                    if status in FINAL_STATUSES or not transient or code in final_codes:
                        raise ProviderError(self.provider, code, message)
                    if ambiguous_is_final and status in AMBIGUOUS_STATUSES:
                        raise UnconfirmedSubmit(
                            self.provider, "SUBMIT_UNCONFIRMED", f"the server answered {status} {code}: {message}"
                        )
                    if create and status in AMBIGUOUS_STATUSES:
                        maybe_created = True
                    elif create and not maybe_created:
                        mark_submit_sending(False)  # 429 and 503: turned away before any job was made
                    problem = f"{status} {code}: {message}"
                    wait = _retry_after(response)
                    if status == 429 and self.limiter is not None and wait:
                        self.limiter.block_for(wait)
            if attempt == self.max_retries:
                # Only an UnconfirmedSubmit may leave a job behind: the journal keeps it for the next run.
                error = UnconfirmedSubmit if maybe_created else ProviderError
                raise error(
                    self.provider,
                    "SUBMIT_UNCONFIRMED" if maybe_created else "RETRIES_EXHAUSTED",
                    f"gave up after {attempt + 1} attempts: {problem}",
                    retryable=True,
                )
            # Jitter spreads retries out; on top of Retry-After, never below it, or some would come early.
            pause = max(wait, delay) * (1.0 + 0.2 * random.random()) if wait else delay * (0.8 + 0.4 * random.random())
            report_progress(f"retrying in {pause:.0f} s after {problem}")
            await self.sleep(pause)
            delay = min(delay * 2, 60.0)
        raise AssertionError("unreachable")

    async def _send(self, method: str, url: str, headers: dict[str, str], kwargs: dict[str, Any]) -> httpx.Response:
        """One request whose answer is read within an overall deadline and a size cap: httpx's timeout is
        per read, so a server that trickles a byte at a time would otherwise hold us for ever."""
        request = self.client.build_request(method, url, headers=headers, **kwargs)
        deadline = 3 * self.timeout + int(request.headers.get("content-length") or 0) / 250_000
        with anyio.fail_after(deadline):
            response = await self.client.send(request, stream=True)
            try:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_ANSWER_BYTES:
                        raise _AnswerTooLarge(f"the answer passed {MAX_ANSWER_BYTES:,} bytes")
            finally:
                await response.aclose()
        return httpx.Response(response.status_code, headers=response.headers, content=bytes(body), request=request)

    def _observe(self, response: httpx.Response) -> None:
        if self.limiter is not None and "X-RateLimit-Remaining" in response.headers:
            try:
                self.limiter.observe_remaining(int(response.headers["X-RateLimit-Remaining"]))
            except ValueError:
                pass

    async def download(self, url: str, dest: Path, *, expect_kind: str) -> tuple[str, str]:
        """Stream ``url`` into ``dest`` in constant memory, hashed as it streams; return (media type,
        sha256 hex). Connection faults and 5xx answers are retried; other schemes and private addresses
        (also through redirects), more than ``max_download_bytes``, more than ``download_deadline``
        seconds, and bytes that are not media of the expected kind are refused. Writes and the fsync run
        in worker threads, off the event loop."""
        delay = 1.0
        for attempt in range(self.max_retries + 1):
            try:
                with anyio.fail_after(self.download_deadline):
                    return await self._download_once(url, dest, expect_kind=expect_kind)
            except TimeoutError:
                raise DownloadError(
                    self.provider,
                    "DOWNLOAD_TOO_SLOW",
                    f"the download took more than {self.download_deadline:g} s "
                    "(raise 'download_deadline' in the provider block for very large outputs)",
                ) from None
            except (httpx.TransportError, _Transient) as exc:
                if attempt == self.max_retries:
                    raise DownloadError(
                        self.provider, "DOWNLOAD_FAILED", f"gave up after {attempt + 1} attempts: {exc}"
                    ) from None
            await self.sleep(delay * (0.8 + 0.4 * random.random()))
            delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")

    async def check_output_url(self, url: str) -> None:
        problem = url_problem(url)
        if problem:
            raise DownloadError(self.provider, "BAD_OUTPUT_URL", f"the output URL was refused: {problem}")
        if self.private_outputs:
            return
        host = urlsplit(url).hostname or ""
        addresses = await self.resolve(host)
        inside = sorted({a for a in addresses if _is_private(a)})
        if inside or is_loopback(host):
            raise DownloadError(
                self.provider,
                "BAD_OUTPUT_URL",
                f"the output URL points inside this network ({host} is {', '.join(inside) or 'this machine'}); "
                "render downloads outputs only from public addresses",
            )

    async def _download_once(self, url: str, dest: Path, *, expect_kind: str) -> tuple[str, str]:
        for _ in range(6):
            await self.check_output_url(url)
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
                head = b""
                async with await anyio.open_file(dest, "wb") as handle:
                    async for chunk in response.aiter_bytes(1 << 20):
                        if len(head) < SNIFF_BYTES:
                            head += chunk[: SNIFF_BYTES - len(head)]
                            if len(head) >= SNIFF_BYTES:
                                self._check_content(head, expect_kind, media_type)
                        size += len(chunk)
                        digest.update(chunk)
                        if size > self.max_download:
                            raise DownloadError(
                                self.provider,
                                "TOO_LARGE",
                                f"the output passed the limit of {self.max_download:,} bytes",
                            )
                        await handle.write(chunk)
                    if len(head) < SNIFF_BYTES:
                        self._check_content(head, expect_kind, media_type)
                    await handle.flush()
                    await anyio.to_thread.run_sync(os.fsync, handle.wrapped.fileno())
                return media_type, digest.hexdigest()
        raise DownloadError(self.provider, "TOO_MANY_REDIRECTS", "the output URL redirected too often")

    def _check_content(self, head: bytes, expect_kind: str, media_type: str) -> None:
        found = sniff_kind(head)
        if found != expect_kind:
            what = f"{found} data" if found else "not media render knows (it may be an error page)"
            raise DownloadError(
                self.provider,
                "WRONG_CONTENT",
                f"the output was served as '{media_type}', but its bytes are {what}, not {expect_kind}",
            )


class _AnswerTooLarge(Exception):
    pass


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "the answer did not come in time (the server sent it too slowly)"
    if isinstance(exc, _AnswerTooLarge):
        return str(exc)
    return f"the connection broke ({type(exc).__name__})"


def _is_private(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return True  # what cannot be read cannot be trusted
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def resolve_host(host: str) -> list[str]:
    """The addresses ``host`` resolves to (an IP literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, 443)
    except OSError:
        return []  # the download itself will fail to connect and say so
    return [str(info[4][0]) for info in infos]


class _Transient(Exception):
    pass


def _json_object(response: httpx.Response) -> bool:
    try:
        return isinstance(response.json(), dict)
    except ValueError:
        return False


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
