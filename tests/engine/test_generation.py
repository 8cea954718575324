"""Generation: slots, the executor seam, probing, the cache before the journal, and lockfile history."""

from __future__ import annotations

import hashlib
from pathlib import Path

import anyio

from renderer.engine.generation import Generation
from renderer.engine.journal import Journal
from renderer.engine.pool import ProviderPool
from renderer.providers.base import ProviderContext
from renderer.records import LockEntry
from renderer.spec.model import Asset
from renderer.store.cache import Cache
from tests.fakes.executors import PNG, RecordingExecutor


def make(tmp_path: Path, locked: dict[str, LockEntry]) -> tuple[Generation, RecordingExecutor, Cache, Journal]:
    cache = Cache(tmp_path / "c")
    journal = Journal(tmp_path / "c" / "journal")
    executor = RecordingExecutor(cache.scratch)
    started: list[str] = []
    generation = Generation(
        ProviderPool({}, ProviderContext(cache.scratch, {})),
        executor,
        cache,
        journal,
        locked,
        jobs=2,
        priority={},
        on_start=lambda name, provider: started.append(name),
        project_root=tmp_path,
        clock=lambda: "2030-01-01T00:00:00Z",
    )
    return generation, executor, cache, journal


ASSET = Asset(
    name="a", type="image", provider="local", model=None, seed=1, params={"prompt": "x"}, inputs=[], output="a.png"
)


def test_a_generated_output_is_probed_cached_and_its_journal_entry_removed(tmp_path: Path) -> None:
    generation, executor, cache, journal = make(tmp_path, {})
    journal.submitted(journal.intend("k" * 64, "local", "a", "r"), "job-9", {})
    record = anyio.run(generation.generate, ASSET, "k" * 64, [])
    assert executor.tasks[0].request.key == "k" * 64 and executor.tasks[0].provider == "local"
    assert (record.probe.width, record.probe.height, record.media_type) == (3, 2, "image/png")
    assert (record.job_id, record.cost_usd, record.created) == ("job-9", 0.5, "2030-01-01T00:00:00Z")
    assert cache.get("k" * 64) == record and journal.get("k" * 64) is None
    cache.close()


def test_a_deterministic_remake_keeps_the_lockfile_history(tmp_path: Path) -> None:
    digest = hashlib.sha256(PNG).hexdigest()
    locked = {
        "a": LockEntry(key="k" * 64, provider="local", job_id="job-1", created="2026-01-01T00:00:00Z", sha256=digest)
    }
    generation, _, cache, _ = make(tmp_path, locked)
    record = anyio.run(generation.generate, ASSET, "k" * 64, [])
    assert (record.job_id, record.created) == ("job-1", "2026-01-01T00:00:00Z")
    other = anyio.run(generation.generate, ASSET, "z" * 64, [])  # another recipe: its own history
    assert (other.job_id, other.created) == ("job-9", "2030-01-01T00:00:00Z")
    cache.close()
