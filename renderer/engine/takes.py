"""Takes: N candidates of an asset, one of them picked before what builds on it is made.

The spec's resolver turns an asset with ``takes: N`` into N take assets (``NAME.take1`` ... ``NAME.takeN``,
each an ordinary asset with its own seed, so its own cache key and output ``STEM.takeK.EXT``) and the asset
itself, whose only inputs are its takes. The asset is never generated: it *is* the picked take. Its output
holds the picked take's bytes, so what depends on it sees the picked output's hash in its own key, and a
new pick re-renders exactly what depends on it.

The pick comes from the spec (``pick: K``), else from the lockfile (``render pick SPEC ASSET K`` writes it
there). With neither, the asset is held, and so is everything that needs it: a render made the takes and
exits 0, saying which picks it needs; ``--check`` exits 1.
"""

from __future__ import annotations

from renderer.errors import UsageError
from renderer.records import LockEntry
from renderer.spec.model import Asset, Project, take_name
from renderer.store.lockfile import lock_path, read_lock_text, write_lock


def chosen_take(asset: Asset, locked: LockEntry | None) -> int | None:
    """The take ``asset`` is: the spec's pick, else the lockfile's (if there is still such a take)."""
    if asset.pick is not None:
        return asset.pick
    if locked is not None and locked.pick is not None and 1 <= locked.pick <= asset.takes:
        return locked.pick
    return None


def held_message(asset: Asset, spec: str) -> str:
    return (
        f"its {asset.takes} takes are made; pick one to go on: render pick {spec} {asset.name} N "
        f"(or 'pick: N' in the spec)"
    )


def record_pick(project: Project, name: str, take: int) -> LockEntry:
    """Write into the lockfile that ``name`` is its take ``take`` (``render pick``, and the review page's
    Pick button): the next render copies that take into the asset's output and makes what depends on it."""
    asset = project.assets.get(name)
    if asset is None or asset.takes <= 1:
        with_takes = sorted(n for n, a in project.assets.items() if a.takes > 1)
        raise UsageError(
            f"asset '{name}' has no takes in {project.display}"
            + (f" (assets with takes: {', '.join(with_takes)})" if with_takes else "")
        )
    if not 1 <= take <= asset.takes:
        raise UsageError(f"asset '{name}' has takes 1 to {asset.takes}; there is no take {take}")
    if asset.pick is not None and asset.pick != take:
        raise UsageError(f"the spec pins asset '{name}' to take {asset.pick} ('pick: {asset.pick}'); change it there")
    path = lock_path(project.path)
    entries, text = read_lock_text(path)
    made = entries.get(take_name(name, take))
    if made is None or made.sha256 is None:
        raise UsageError(f"take {take} of '{name}' is not made yet; render {project.display} first")
    entry = made._replace(output=asset.output, pick=take, inputs={f"take{take}": made.sha256})
    entries[name] = entry
    write_lock(path, project.path.name, entries, text)
    return entry
