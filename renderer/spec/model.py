"""What a project file means once it is loaded, checked and resolved."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from renderer.dag import topological_order

ASSET_TYPES = ("image", "video", "music", "speech", "lipsync", "upscale", "compose")

# Output format by asset type when the spec names no output file.
DEFAULT_EXTENSION = {
    "image": ".png",
    "video": ".mp4",
    "music": ".wav",
    "speech": ".wav",
    "lipsync": ".mp4",
    "upscale": ".png",
    "compose": ".mp4",
}

# Fields that never change what a provider makes, so they stay out of the cache key.
NOT_IN_RECIPE = frozenset({"type", "provider", "model", "seed", "output", "matrix", "inputs", "takes", "pick"})


@dataclass(frozen=True, slots=True)
class InputRef:
    """One input of an asset: another asset's output or a file in the project."""

    slot: str  # "0", "1" for a list; the key for a mapping; "clips.0", "audio" for compose
    kind: str  # "asset" or "file"
    target: str  # asset name, or file path relative to the project directory (posix)


@dataclass(slots=True)  # no dict per instance: a project may hold 100,000 of them
class Asset:
    name: str
    type: str
    provider: str  # the provider block's name (settings), which may `use` another implementation
    model: str | None
    seed: int | None
    params: dict[str, Any]  # every other field that can change the result
    inputs: list[InputRef]
    output: str  # relative posix path inside the output directory
    line: int = 0
    entry: str = ""  # the spec entry this came from (differs from name for matrix variants)
    takes: int = 1  # more than 1: this asset is the picked one of its takes ("NAME.takeK" assets)
    pick: int | None = None  # the take the spec pins ('pick:'); else the lockfile's, else none yet
    take: int = 0  # of a take asset: which take it is

    @property
    def take_names(self) -> list[str]:
        return [take_name(self.name, k) for k in range(1, self.takes + 1)] if self.takes > 1 else []

    @property
    def output_format(self) -> str:
        # PurePosixPath(output).suffix of the output as resolve leaves it, without a PurePath for each of
        # 100,000 assets (it is in every key)
        name = self.output.rsplit("/", 1)[-1]
        dot = name.rfind(".")
        return name[dot:].lower() if 0 < dot < len(name) - 1 else ""

    def depends_on(self) -> list[str]:
        seen: dict[str, None] = {}
        for ref in self.inputs:
            if ref.kind == "asset":
                seen.setdefault(ref.target, None)
        return list(seen)


def take_name(name: str, take: int) -> str:
    return f"{name}.take{take}"


def input_path(ref: InputRef, assets: dict[str, Asset]) -> str:
    """Where an input's file will be: the output name of the asset it names, or the file path itself."""
    return assets[ref.target].output if ref.kind == "asset" and ref.target in assets else ref.target


DEFAULT_MAX_DOWNLOAD = 4 * 1024**3


@dataclass(frozen=True)
class Tuning:
    """How render works with one provider block: every tuning key of the block, typed, with its default."""

    max_concurrency: int | None = None  # None: the provider's own default
    poll_interval: float = 2.0  # seconds before the first poll; grows by half each time
    max_poll_interval: float = 30.0
    timeout: float = 60.0  # per HTTP request
    max_retries: int = 6
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD
    rate_limit: tuple[int, float] | None = None  # (requests, seconds) per API key
    retry_unconfirmed_submit: bool = False
    job_deadline: float = 4 * 3600.0  # seconds a job may stay queued or running before render gives up on it
    download_deadline: float = 3600.0  # seconds one download may take in all, however the bytes trickle

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Tuning:
        rate = options.get("rate_limit")
        per_minute = options.get("requests_per_minute")
        return cls(
            max_concurrency=int(options["max_concurrency"]) if options.get("max_concurrency") else None,
            poll_interval=float(options.get("poll_interval", cls.poll_interval)),
            max_poll_interval=float(options.get("max_poll_interval", cls.max_poll_interval)),
            timeout=float(options.get("timeout", cls.timeout)),
            max_retries=int(options.get("max_retries", cls.max_retries)),
            max_download_bytes=int(options.get("max_download_bytes", cls.max_download_bytes)),
            rate_limit=(
                (int(rate["requests"]), float(rate["seconds"]))
                if rate
                else (int(per_minute), 60.0)
                if per_minute
                else None
            ),
            retry_unconfirmed_submit=bool(options.get("retry_unconfirmed_submit", False)),
            job_deadline=float(options.get("job_deadline", cls.job_deadline)),
            download_deadline=float(options.get("download_deadline", cls.download_deadline)),
        )


@dataclass
class ProviderSettings:
    """One provider block: its name, the implementation it uses, and its options as written."""

    name: str
    use: str
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def tuning(self) -> Tuning:
        return Tuning.from_options(self.options)


@dataclass
class Project:
    path: Path  # the spec file, absolute
    display: str  # the spec file as the user named it, for messages
    root: Path  # the directory of the spec file; file inputs are relative to it
    name: str
    output_dir: Path
    providers: dict[str, ProviderSettings]
    assets: dict[str, Asset]  # in spec order
    line_of: dict[str, int] = field(default_factory=dict)
    confine: bool = True  # inputs inside the project, outputs inside the output directory
    remote: str | None = None  # the shared cache the spec names (issue 11): a URL or a path
    remote_push: bool = True  # False: read-only (only CI writes, say)
    claim_timeout: float = 120.0  # seconds a claim on the remote lives without a heartbeat
    executor: dict[str, Any] | None = None  # where jobs run: {address, workers, shared_cache} (issue 12)
    budget: float | None = None  # USD one render may spend on paid jobs
    # worked out once (the loader has them from its cycle check): 100,000 assets take a second to order
    known_deps: dict[str, list[str]] | None = field(default=None, repr=False, compare=False)
    known_order: list[str] | None = field(default=None, repr=False, compare=False)

    def deps(self) -> dict[str, list[str]]:
        """Each asset's asset inputs, in order, by name (not to be changed: it is shared)."""
        if self.known_deps is None:
            self.known_deps = {name: asset.depends_on() for name, asset in self.assets.items()}
        return self.known_deps

    def order(self) -> list[str]:
        """Every asset after all of its inputs; ties in spec order (not to be changed: it is shared)."""
        if self.known_order is None:
            self.known_order = topological_order(self.deps())
        return self.known_order

    def file_inputs(self) -> list[str]:
        return sorted({ref.target for a in self.assets.values() for ref in a.inputs if ref.kind == "file"})
