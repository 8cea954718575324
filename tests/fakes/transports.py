"""httpx MockTransport handlers: scripted answers and faults, every request recorded. No sockets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from renderer.providers.base import HttpSession

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Script:
    """Answers requests in order from ``answers`` (the last one repeats): a response, an exception to raise
    (a dropped connection), or a function of the request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer

    def count(self, method: str | None = None) -> int:
        return sum(1 for r in self.requests if method is None or r.method == method)


class Routes:
    """Answers by URL path; unknown paths are 404."""

    def __init__(self, routes: dict[str, Answer]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.routes.get(request.url.path)
        if answer is None:
            return httpx.Response(404, json={"error": {"code": "NOT_FOUND", "message": request.url.path}})
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


class Sleeps:
    """A sleep that only records how long it was asked to wait: backoff without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Resolver:
    """Names resolve as this table says (a public address otherwise): DNS without the network."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.table = table or {}

    async def __call__(self, host: str) -> list[str]:
        return self.table.get(host, ["93.184.215.14"])


def session_with(
    handler: Callable[[httpx.Request], httpx.Response], resolver: Resolver | None = None
) -> tuple[HttpSession, Sleeps]:
    sleeps = Sleeps()
    session = HttpSession(transport=httpx.MockTransport(handler), sleep=sleeps, resolver=resolver or Resolver())
    return session, sleeps


def dropped(message: str = "server closed the connection") -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(message)


def job(status: str = "queued", **extra: Any) -> httpx.Response:
    return httpx.Response(200, json={"job_id": "job_1", "status": status, **extra})
