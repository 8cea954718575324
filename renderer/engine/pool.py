"""The run's providers: one instance per provider block, made when first needed, with the block's slots
(its ``max_concurrency``, else the provider's own ``default_max_concurrency``). The engine reaches
providers only through this pool and the ``Provider`` Protocol; it knows no provider by name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from renderer.engine.scheduler import PrioritySlots
from renderer.providers.base import Estimates, Provider, ProviderContext
from renderer.providers.registry import plugin_files, provider_class
from renderer.spec.model import ProviderSettings
from renderer.store.state import stat_pair


class ProviderPool:
    """One provider instance per provider block, made when first needed, and the block's slots."""

    def __init__(self, settings: Mapping[str, ProviderSettings], context: ProviderContext) -> None:
        self.settings = settings
        self.context = context
        self._instances: dict[str, Provider] = {}
        self._slots: dict[str, PrioritySlots] = {}
        self._estimators: dict[str, Estimates | None] = {}

    def settings_for(self, name: str) -> ProviderSettings:
        return self.settings.get(name) or ProviderSettings(name, name, {})

    def plugin_stamps(self, names: Iterable[str]) -> dict[str, tuple[int, int]]:
        """(size, mtime_ns) of the module file of each third-party implementation the provider blocks
        ``names`` use (registry.plugin_files), for the no-op snapshot."""
        files = plugin_files({self.settings_for(name).use for name in names})
        return {path: stamp for path in files if (stamp := stat_pair(path)) is not None}

    def class_of(self, name: str) -> type[Provider]:
        cls: type[Provider] = provider_class(self.settings_for(name).use)
        return cls

    def get(self, name: str) -> Provider:
        if name not in self._instances:
            self._instances[name] = self.class_of(name)(self.settings_for(name), self.context)
        return self._instances[name]

    def slots(self, name: str) -> PrioritySlots:
        if name not in self._slots:
            limit = self.settings_for(name).tuning.max_concurrency
            self._slots[name] = PrioritySlots(limit or self.class_of(name).default_max_concurrency)
        return self._slots[name]

    def estimator(self, name: str) -> Estimates | None:
        """Block ``name``'s provider if it can estimate costs (a Protocol check is slow: once per block)."""
        if name not in self._estimators:
            provider = self.get(name)
            self._estimators[name] = provider if isinstance(provider, Estimates) else None
        return self._estimators[name]

    async def aclose(self) -> None:
        for provider in self._instances.values():
            await provider.aclose()
