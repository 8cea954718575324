"""The embedded provider: real media made offline, with no keys and no network.

Every generator is deterministic: the same request gives the same bytes in any process.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any, ClassVar

import anyio.to_thread

from renderer import recipe_versions
from renderer.errors import AssetError
from renderer.media.ffmpeg import job_processes, stop
from renderer.media.types import kind_of, media_type_of
from renderer.providers.base import InputFile, Job, JobRequest, JobState, ProviderContext
from renderer.spec.model import Asset, ProviderSettings, input_path

SUPPORTED_FORMATS = {
    "image": {".png", ".jpg", ".jpeg", ".webp"},
    "video": {".mp4"},
    "music": {".wav", ".flac", ".mp3"},
    "speech": {".wav", ".flac", ".mp3"},
    "upscale": {".png", ".jpg", ".jpeg", ".webp", ".mp4"},
    "compose": {".mp4"},
}


MISSING_SPEECH = (
    "offline speech needs espeak-ng on this machine: install it (apt-get install espeak-ng, "
    "brew install espeak-ng) or set a remote provider for this asset"
)


def speech_engine() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def _compose_problems(asset: Asset, assets: dict[str, Asset]) -> list[str]:
    """What would otherwise end in an ffmpeg filter dump at render time: media of the wrong kind, clips
    trimmed past their source's length, captions that end before they start."""
    problems = []
    for ref in asset.inputs:
        kind = kind_of(media_type_of(input_path(ref, assets)))
        if ref.slot in ("audio", "voiceover") and kind not in ("audio", "video"):
            problems.append(f"'{ref.slot}' must be sound (an audio asset or file), not {kind} '{ref.target}'")
    trims = asset.params.get("clips") or []
    clips = [ref for ref in asset.inputs if ref.slot.startswith("clips.")]
    for number, (ref, trim) in enumerate(zip(clips, trims, strict=False)):
        source = assets.get(ref.target) if ref.kind == "asset" else None
        length = source.params.get("duration") if source is not None and source.type == "video" else None
        if isinstance(length, (int, float)):
            for edge in ("from", "to"):
                if isinstance(trim.get(edge), (int, float)) and trim[edge] > length:
                    problems.append(
                        f"clip {number} ('{ref.target}') is {length:g} s long, so '{edge}: {trim[edge]:g}' is past "
                        f"its end; trim within 0 to {length:g}"
                    )
    for number, caption in enumerate(asset.params.get("captions") or []):
        start, end = caption.get("from"), caption.get("to")
        if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end <= start:
            problems.append(f"caption {number} ends ('to: {end:g}') before it starts ('from: {start:g}')")
    return problems


CLIP_SUFFIXES = (".mp4", ".mov", ".webm", ".png", ".jpg", ".jpeg")  # what compose takes as a clip


class LocalProvider:
    name: ClassVar[str] = "local"
    free: ClassVar[bool] = True
    deterministic: ClassVar[bool] = True
    recipe_version: ClassVar[str] = recipe_versions.LOCAL
    default_max_concurrency: ClassVar[int] = os.cpu_count() or 2  # CPU-bound: one job a core

    def __init__(self, settings: ProviderSettings, context: ProviderContext) -> None:
        self.settings = settings
        self.context = context

    @classmethod
    def check(cls, asset: Asset, assets: dict[str, Asset]) -> list[str]:
        if asset.type == "lipsync":
            return [
                "the local provider cannot lipsync; set 'provider:' to a remote provider such as varg for this asset"
            ]
        problems = []
        formats = SUPPORTED_FORMATS[asset.type]
        if asset.output_format not in formats:
            problems.append(
                f"the local provider writes {asset.type} as {', '.join(sorted(formats))}, "
                f"not '{asset.output_format}'; change 'output'"
            )
        if asset.type == "upscale" and len(asset.inputs) != 1:
            problems.append("upscale takes exactly one input (the image or video to enlarge)")
        if asset.type == "upscale" and not any(k in asset.params for k in ("width", "height", "scale")):
            problems.append("upscale needs 'scale' (for example 2) or a target 'width' / 'height'")
        if asset.type == "compose":
            problems += _compose_problems(asset, assets)
            for ref in asset.inputs:
                suffix = Path(input_path(ref, assets)).suffix.lower()
                if ref.slot.startswith("clips.") and suffix not in CLIP_SUFFIXES:
                    problems.append(f"clip '{ref.target}' is not a video or image")
        return problems

    @classmethod
    def machine_problems(cls, asset: Asset) -> list[str]:
        """What this machine lacks to make ``asset``: a warning, not a spec error; only this asset (and what
        needs it) fails if it is rendered here."""
        if asset.type == "speech" and speech_engine() is None:
            return [MISSING_SPEECH]
        return []

    def preflight(self) -> list[str]:
        return []

    async def upload(self, item: InputFile) -> str:
        return item.path.as_uri()

    async def submit(self, request: JobRequest) -> Job:
        # The job id comes from the cache key, so the lockfile is the same on every machine.
        job_id = "local-" + request.key[:16]
        out = self.context.scratch / f"{job_id}-{uuid.uuid4().hex[:8]}{request.output_format}"
        processes: list[Any] = []
        token = job_processes.set(processes)  # worker threads run in a copy of this context
        try:
            await anyio.to_thread.run_sync(_generate, request, out, abandon_on_cancel=True)
        except anyio.get_cancelled_exc_class():
            stop(processes)  # Ctrl-C: local work is free to redo, so stop it now
            out.unlink(missing_ok=True)
            raise
        except AssetError:  # said for the user already (a missing tool): not "local refused the job"
            out.unlink(missing_ok=True)
            raise
        except Exception as exc:
            out.unlink(missing_ok=True)
            return Job(id=job_id, state=JobState.FAILED, error_code=type(exc).__name__, error=str(exc))
        finally:
            job_processes.reset(token)
        return Job(
            id=job_id,
            state=JobState.SUCCEEDED,
            resolved_model=f"local:{request.type}",
            output_url=out.as_uri(),
            data={"path": str(out)},
            cost_usd=0.0,
        )

    async def poll(self, job: Job) -> Job:
        return job

    async def fetch(self, job: Job, dest: Path) -> None:
        os.replace(job.data["path"], dest)

    async def cancel(self, job: Job) -> None:
        Path(job.data.get("path", "")).unlink(missing_ok=True)

    async def estimate(self, request: JobRequest) -> float | None:
        return 0.0

    async def aclose(self) -> None:
        return None


def _generate(request: JobRequest, out: Path) -> None:
    from renderer.providers.local import (
        audio,
        image,
        video,
    )  # numpy and Pillow: loaded when media is made, not when a spec is checked

    generators: dict[str, Any] = {
        "image": image.make_image,
        "music": audio.make_music,
        "speech": audio.make_speech,
        "video": video.make_video,
        "upscale": video.make_upscale,
        "compose": video.make_compose,
    }
    generators[request.type](request, out)
