"""Claims on the remote: waiting for a live owner, taking over a stale claim from where its owner stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from renderer.engine.claims import Claims, Held
from renderer.engine.journal import Journal
from renderer.records import OutputRecord
from renderer.store.remote import DirectoryRemote

KEY = "k" * 64


class Clock:
    """Time moves only when the claims wait: each wait is ``step`` seconds long."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.waits = 0.0, step, 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += self.step
        self.waits += 1


def setup(tmp_path: Path, other: dict[str, Any] | None, step: float = 10) -> tuple[Claims, DirectoryRemote, Clock]:
    (tmp_path / "remote").mkdir()
    remote = DirectoryRemote(tmp_path / "remote", str(tmp_path / "remote"))
    if other is not None:
        remote.create_claim(
            KEY, json.dumps({"owner": "laptop:41:abcd", "asset": "still", "provider": "varg", **other}).encode()
        )
    clock = Clock(step)
    claims = Claims(remote, Journal(tmp_path / "journal"), timeout=60, clock=clock, sleep=clock.sleep)
    return claims, remote, clock


async def nothing_found() -> OutputRecord | None:
    return None


async def hold(claims: Claims, body: Any = None) -> Held:
    async with claims.hold(KEY, "still", "varg", nothing_found) as held:
        if body is not None:
            await body(held)
        return held


def claim_of(remote: DirectoryRemote) -> dict[str, Any] | None:
    found = remote.read_claim(KEY)
    return json.loads(found[0]) if found is not None else None


def test_a_free_key_is_claimed_released_after_the_job_and_kept_while_one_may_be_pending(tmp_path: Path) -> None:
    claims, remote, _ = setup(tmp_path, None)
    seen: list[dict[str, Any] | None] = []

    async def made(held: Held) -> None:
        seen.append(claim_of(remote))

    anyio.run(hold, claims, made)
    assert seen[0] is not None and seen[0]["owner"] == claims.owner and "sent" not in seen[0]
    assert claim_of(remote) is None  # done, nothing pending: released

    async def killed_after_sending(held: Held) -> None:
        await held.sending()
        claims.journal.intend(KEY, "varg", "still", "", attempt=held.attempt)  # a paid job may exist now
        seen.append(claim_of(remote))

    held = anyio.run(hold, claims, killed_after_sending)
    mine = seen[1]
    assert mine is not None and mine["sent"] is True and mine["attempt"] == held.attempt
    assert claim_of(remote) == mine  # the journal has an entry: kept for a taker


def test_a_live_claim_is_waited_for_and_its_output_taken(tmp_path: Path) -> None:
    claims, remote, clock = setup(tmp_path, {"sent": True, "job_id": "job_1"})
    record = OutputRecord(sha256="s" * 64, bytes=3, media_type="image/png", provider="varg")
    beats = iter(range(1, 100))

    async def owner_beats(seconds: float) -> None:  # the owner refreshes its claim, then finishes
        await clock.sleep(seconds)
        beat = next(beats)
        version = remote.read_claim(KEY)
        assert version is not None
        if beat < 20:
            remote.replace_claim(KEY, json.dumps({"owner": "laptop:41:abcd", "beat": beat}).encode(), version[1])
        else:
            remote.put_record(KEY, record.to_dict())
            remote.delete_claim(KEY, version[1])

    async def found() -> OutputRecord | None:
        return OutputRecord.from_dict(remote.get_record(KEY) or {})

    claims.sleep = owner_beats

    async def main() -> Held:
        async with claims.hold(KEY, "still", "varg", found) as held:
            return held

    held = anyio.run(main)
    assert held.found == record and clock.now > 60 * 3  # it waited past the timeout: the claim was alive
    assert claims.journal.pending() == []


@pytest.mark.parametrize(
    ("left", "expect"),
    [
        ({}, None),  # nothing was sent: the taker submits itself
        ({"sent": True, "job_id": "job_7", "submitted_at": 5.0, "data": {"api": "v1"}}, "job_7"),  # resumed
        ({"sent": True}, "unconfirmed"),  # the job may exist: the asset waits for the user
    ],
)
def test_a_stale_claim_is_taken_over_from_where_its_owner_stopped(
    tmp_path: Path, left: dict[str, Any], expect: str | None
) -> None:
    claims, remote, clock = setup(tmp_path, {"attempt": "a" * 16, **left})
    seen: list[dict[str, Any] | None] = []

    async def body(held: Held) -> None:
        seen.append(claim_of(remote))

    held = anyio.run(hold, claims, body)
    assert held.claims is claims and held.attempt == "a" * 16  # the owner's token: v2 can find its job
    assert clock.now > 60
    taken = seen[0]
    assert taken is not None and taken["owner"] == claims.owner and taken["taken_from"] == "laptop:41:abcd"
    entry = claims.journal.get(KEY)
    if expect is None:
        assert entry is None
    elif expect == "unconfirmed":
        assert entry is not None and entry.job_id is None and "laptop (pid 41)" in (entry.unconfirmed or "")
        assert entry.attempt == "a" * 16
    else:
        assert (
            entry is not None and entry.job_id == expect and entry.data == {"api": "v1"} and entry.submitted_at == 5.0
        )


def test_a_claim_taken_over_while_held_stops_its_heartbeat(tmp_path: Path) -> None:
    claims, remote, _ = setup(tmp_path, None)
    notes: list[str] = []
    claims.on_note = notes.append

    async def body(held: Held) -> None:
        found = remote.read_claim(KEY)
        assert found is not None
        remote.replace_claim(KEY, b'{"owner": "ci:7:ffff"}', found[1])  # another machine took it
        await claims.rewrite(held, {})
        assert held.lost
        await held.submitted(type("J", (), {"id": "x", "data": {}})(), "varg")  # type: ignore[arg-type]

    anyio.run(hold, claims, body)
    assert claim_of(remote) == {"owner": "ci:7:ffff"}  # neither overwritten nor deleted
    assert len(notes) == 1 and "took over the claim" in notes[0]
