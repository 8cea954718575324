"""The provider pool: one instance per block, slots from the block or the provider's own default."""

from __future__ import annotations

from pathlib import Path

import pytest

from renderer.engine.pool import ProviderPool
from renderer.providers.base import ProviderContext
from renderer.providers.local import LocalProvider
from renderer.providers.vrex import VrexProvider
from renderer.spec.model import ProviderSettings


def test_one_instance_per_block_and_slots_from_the_block_or_the_provider(tmp_path: Path) -> None:
    pool = ProviderPool(
        {
            "vrex": ProviderSettings("vrex", "vrex", {}),
            "fast": ProviderSettings("fast", "vrex", {"max_concurrency": 9}),
        },
        ProviderContext(tmp_path, {}),
    )
    assert pool.get("vrex") is pool.get("vrex") and pool.get("vrex") is not pool.get("fast")
    assert isinstance(pool.get("fast"), VrexProvider)
    assert pool.slots("vrex").capacity == VrexProvider.default_max_concurrency
    assert pool.slots("fast").capacity == 9
    assert pool.class_of("local") is LocalProvider  # a block not in the spec is the implementation itself
    assert pool.slots("local").capacity == LocalProvider.default_max_concurrency
    with pytest.raises(KeyError):
        pool.get("nonexistent")
