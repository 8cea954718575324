"""Claims on the remote: no two machines pay for the same job.

Before a paid job, the machine claims its cache key in the remote (``claims/<key>.json``, created only if
absent). The claim says who holds it, the attempt token the job's idempotency key derives from, whether
the create request has been sent, and (once the provider answers) the provider and job id. Its owner
rewrites it every ``timeout / 4`` seconds (a heartbeat) by compare-and-swap on its version.

A machine that finds someone else's claim does not submit. It waits for the record to appear in the
remote and takes that output (its lockfile entry then equals the owner's). A claim whose version has not
changed for ``timeout`` seconds, as this machine's own clock measures it (so clock skew between machines
does not matter), is taken over by compare-and-swap, and the taker goes on from where the owner stopped:

    nothing sent yet     it submits, as the owner would have
    job id known         it resumes that job (written into its own journal, as if it had submitted it)
    sent, no answer      the job may exist: the asset waits, as an unconfirmed submit does (journal.py),
                         unless the provider can find the job by the claim's attempt token

The claim goes when the output's record is in the remote, or when the journal proves no job is pending
(the provider refused it, or the job failed); otherwise it stays for a taker. A read-only remote takes
no part: its machine cannot write claims.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from renderer.engine.journal import Journal, JournalEntry
from renderer.providers.base import Job
from renderer.records import OutputRecord
from renderer.store.remote import Remote

DEFAULT_TIMEOUT = 120.0  # seconds without a heartbeat before a claim may be taken over


@dataclass(eq=False)
class Held:
    """What ``Claims.hold`` settled: an output another machine made (``found``), or the right to make it."""

    found: OutputRecord | None = None
    attempt: str | None = None  # the attempt token the submit must use (idempotency keys derive from it)
    claims: Claims | None = None
    key: str = ""
    body: dict[str, Any] = field(default_factory=dict)
    version: str = ""
    lost: bool = False  # another machine took the claim over: this one's heartbeat stopped
    lock: anyio.Lock = field(default_factory=anyio.Lock)

    async def sending(self) -> None:
        """The create request is about to leave: from here on a taker must not submit blindly."""
        await self._update(sent=True)

    async def submitted(self, job: Job, provider: str) -> None:
        await self._update(provider=provider, job_id=job.id, submitted_at=time.time(), data=dict(job.data))

    async def _update(self, **changes: Any) -> None:
        if self.claims is not None:
            await self.claims.rewrite(self, changes)


class Claims:
    def __init__(
        self,
        remote: Remote,
        journal: Journal,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        on_state: Callable[[str, str], None] = lambda asset, state: None,
        on_note: Callable[[str], None] = lambda note: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        self.remote = remote
        self.journal = journal
        self.timeout = timeout
        self.on_state = on_state
        self.on_note = on_note
        self.clock = clock
        self.sleep = sleep
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.broken = False  # the remote failed: this run goes on without claims (and says so once)
        self.held: set[Held] = set()

    @asynccontextmanager
    async def hold(
        self, key: str, asset: str, provider: str, found: Callable[[], Awaitable[OutputRecord | None]]
    ) -> AsyncIterator[Held]:
        """Claim ``key`` for making ``asset`` with ``provider``, waiting while another machine holds it.
        Yields a ``Held`` with ``found`` set when the other machine's output arrived instead."""
        if self.broken:
            yield Held()
            return
        if self.journal.get(key) is not None:
            yield Held()  # this machine has a job for it already: its journal resumes it, no claim needed
            with anyio.move_on_after(30, shield=True):
                await self._clear_leftover(key)
            return
        try:
            held = await self._acquire(key, asset, provider, found)
        except OSError:
            self._give_up()
            yield Held()
            return
        if held.found is not None or held.claims is None:
            yield held
            return
        self.held.add(held)
        try:
            yield held
        finally:
            self.held.discard(held)
            with anyio.move_on_after(30, shield=True):
                await self._release(held)

    async def _acquire(
        self, key: str, asset: str, provider: str, found: Callable[[], Awaitable[OutputRecord | None]]
    ) -> Held:
        seen: tuple[str, float] | None = None  # the other claim's version, and when this machine first saw it
        delay = min(1.0, self.timeout / 8)
        while True:
            if await anyio.to_thread.run_sync(self.remote.get_record, key) is not None:
                record = await found()
                if record is not None:
                    return Held(found=record)
            attempt = uuid.uuid4().hex[:16]
            body: dict[str, Any] = {
                "owner": self.owner,
                "asset": asset,
                "provider": provider,
                "attempt": attempt,
                "claimed_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "beat": 0,
            }
            version = await anyio.to_thread.run_sync(self.remote.create_claim, key, _encode(body))
            if version is not None:
                return Held(attempt=attempt, claims=self, key=key, body=body, version=version)
            current = await anyio.to_thread.run_sync(self.remote.read_claim, key)
            if current is None:
                continue  # released between the two calls: try again at once
            raw, other_version = current
            other = _decode(raw)
            now = self.clock()
            if seen is None or seen[0] != other_version:
                seen = (other_version, now)
                self.on_state(asset, f"waiting for {_machine(other)}")
            elif now - seen[1] > self.timeout:
                taken = await self._take_over(key, asset, provider, other, other_version)
                if taken is not None:
                    return taken
                continue
            await self.sleep(delay)
            delay = min(delay * 1.5, 5.0, max(0.5, self.timeout / 4))

    async def _take_over(self, key: str, asset: str, provider: str, other: dict[str, Any], version: str) -> Held | None:
        """Take a claim whose owner stopped, going on from where it was (see the module docstring)."""
        body = {**other, "owner": self.owner, "taken_from": other.get("owner"), "beat": int(other.get("beat", 0)) + 1}
        body.setdefault("attempt", uuid.uuid4().hex[:16])
        new_version = await anyio.to_thread.run_sync(self.remote.replace_claim, key, _encode(body), version)
        if new_version is None:
            return None  # someone else took it first, or it was released
        was = _machine(other)
        self.on_note(f"note: '{asset}': took over the claim of {was}, which stopped refreshing it")
        job_provider = str(other.get("provider") or provider)
        if other.get("job_id"):
            entry = JournalEntry(
                key,
                job_provider,
                asset,
                attempt=str(body["attempt"]),
                job_id=str(other["job_id"]),
                intended_at=time.time(),
                submitted_at=_number(other.get("submitted_at")),
                data=other["data"] if isinstance(other.get("data"), dict) else {},
            )
            await anyio.to_thread.run_sync(self.journal.write, entry)
        elif other.get("sent"):
            entry = JournalEntry(
                key,
                job_provider,
                asset,
                attempt=str(body["attempt"]),
                intended_at=time.time(),
                unconfirmed=(
                    f"{was} claimed it on the remote, sent the create request and stopped before "
                    f"{job_provider} answered"
                ),
            )
            await anyio.to_thread.run_sync(self.journal.write, entry)
        return Held(attempt=str(body["attempt"]), claims=self, key=key, body=body, version=new_version)

    async def rewrite(self, held: Held, changes: dict[str, Any]) -> None:
        async with held.lock:
            if held.lost or self.broken:
                return
            body = {**held.body, **changes, "beat": int(held.body.get("beat", 0)) + 1}
            try:
                version = await anyio.to_thread.run_sync(
                    self.remote.replace_claim, held.key, _encode(body), held.version
                )
            except OSError:
                self._give_up()
                return
            if version is None:
                held.lost = True
                self.on_note(
                    f"note: another machine took over the claim of '{held.body.get('asset')}' while this one "
                    "held it (raise the remote's claim_timeout if heartbeats are slow to arrive)"
                )
                return
            held.body, held.version = body, version

    async def heartbeat(self) -> None:
        """Refresh every claim this run holds, every ``timeout / 4`` seconds, until cancelled."""
        while True:
            await anyio.sleep(self.timeout / 4)
            for held in list(self.held):
                if not held.lost:
                    await self.rewrite(held, {})

    async def _release(self, held: Held) -> None:
        """Remove the claim unless a job may still be pending (the journal says): that one is for a taker."""
        if held.lost or self.broken or self.journal.get(held.key) is not None:
            return
        try:
            async with held.lock:
                await anyio.to_thread.run_sync(self.remote.delete_claim, held.key, held.version)
        except OSError:
            self._give_up()

    async def _clear_leftover(self, key: str) -> None:
        """The claim a killed run of this machine left for a job its journal has now collected."""
        if self.journal.get(key) is not None:
            return
        try:
            found = await anyio.to_thread.run_sync(self.remote.read_claim, key)
            if found is not None and await anyio.to_thread.run_sync(self.remote.get_record, key) is not None:
                await anyio.to_thread.run_sync(self.remote.delete_claim, key, found[1])
        except OSError:
            self._give_up()

    def _give_up(self) -> None:
        """The remote failed (GuardedRemote has said so): the rest of the run makes its jobs unclaimed."""
        self.broken = True


def settle_claim(remote: Remote, key: str, job_id: str | None, provider: str) -> None:
    """What ``render resolve`` tells the other machines: the job that exists (a taker resumes it), or that
    none does (the claim goes, and the next render submits)."""
    found = remote.read_claim(key)
    if found is None:
        return
    raw, version = found
    if job_id:
        body = {**_decode(raw), "provider": provider, "job_id": job_id, "sent": True, "submitted_at": time.time()}
        remote.replace_claim(key, _encode(body), version)
    else:
        remote.delete_claim(key, version)


def _encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True).encode()


def _decode(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _machine(claim: dict[str, Any]) -> str:
    owner = str(claim.get("owner") or "another machine")
    host, pid, _ = owner.rsplit(":", 2) if owner.count(":") >= 2 else (owner, "", "")
    return f"{host} (pid {pid})" if pid else host


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) else None
