"""Vrex: music from a caption (ACE-Step), optionally guided by reference audio.

Vrex allows 10 requests a minute per key, submits and polls together, so one limiter per key paces both.
It has no idempotency keys and no job listing: a submit whose answer was lost stays unconfirmed in the
journal (the user settles it with ``render resolve``) unless the provider block allows sending it again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from renderer import recipe_versions
from renderer.errors import ProviderError
from renderer.media.types import kind_of, media_type_of
from renderer.providers.base import InputFile, Job, JobRequest, JobState
from renderer.providers.remote import RemoteProvider
from renderer.spec.model import Asset, input_path

PRICE_PER_SECOND = 0.00015  # USD, from the Vrex music page
MAX_REF_AUDIO = 10 * 1024**2
REF_AUDIO_FORMATS = (".wav", ".mp3", ".flac")
FINAL_CODES = frozenset(
    {
        "DAILY_LIMIT_EXCEEDED",
        "INSUFFICIENT_BALANCE",
        "PROMPT_FILTER_REJECTED",
        "VALIDATION_ERROR",
        "TEXT_TOO_LONG",
        "INVALID_JSON",
        "UNAUTHORIZED",
        "KEY_EXPIRED",
        "KEY_REVOKED",
        "FORBIDDEN",
    }
)
STATES = {
    "pending": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}


class VrexProvider(RemoteProvider):
    name: ClassVar[str] = "vrex"
    recipe_version: ClassVar[str] = recipe_versions.VREX
    default_base_url: ClassVar[str] = "https://getvrex.com/api/v1"
    default_key_env: ClassVar[str] = "VREX_API_KEY"
    requests_per_minute: ClassVar[float | None] = 10
    default_formats: ClassVar[dict[str, str]] = {"music": ".mp3"}

    @classmethod
    def check(cls, asset: Asset, assets: dict[str, Asset]) -> list[str]:
        if asset.type != "music":
            return [f"Vrex makes music only, not {asset.type}; use another provider for this asset"]
        problems = []
        caption = asset.params.get("prompt", "")
        if not 100 <= len(caption) <= 500:
            problems.append(
                f"Vrex needs a prompt (its 'caption') of 100 to 500 characters; this one has {len(caption)}"
            )
        if len(asset.params.get("lyrics", "")) > 2000:
            problems.append("Vrex takes at most 2000 characters of lyrics")
        duration = asset.params.get("duration", 30)
        if not 5 <= duration <= 120:
            problems.append(f"Vrex makes 5 to 120 seconds of music, not {duration}")
        if asset.output_format != ".mp3":
            problems.append(f"Vrex delivers MP3; name the output '{Path(asset.output).stem}.mp3'")
        audio = [ref for ref in asset.inputs if input_path(ref, assets).lower().endswith(REF_AUDIO_FORMATS)]
        if len(asset.inputs) > 1 or len(audio) != len(asset.inputs):
            problems.append(
                "Vrex takes one reference audio input (WAV, MP3 or FLAC), e.g. inputs: {ref_audio: refs/theme.wav}"
            )
        return problems

    def max_upload_bytes(self) -> int:
        return MAX_REF_AUDIO

    async def send_upload(self, item: InputFile) -> str:
        response = await self.api.request(
            "POST",
            "music/ref-audio",
            final_codes=FINAL_CODES,
            files={"audio": (item.path.name, item.path.read_bytes(), media_type_of(item.path))},
        )
        return str(response.json()["ref_audio_url"])

    def body(self, request: JobRequest) -> dict[str, Any]:
        params = request.params
        body: dict[str, Any] = {
            "caption": params.get("prompt", ""),
            "duration_ms": int(round(float(params.get("duration", 30)) * 1000)),
        }
        if params.get("lyrics"):
            body["lyrics"] = params["lyrics"]
        reference = next((item for item in request.inputs if kind_of(item.media_type) == "audio"), None)
        if reference is not None:
            body["ref_audio_url"] = reference.url
        return body

    async def submit(self, request: JobRequest) -> Job:
        response = await self.api.request(
            "POST",
            "music",
            json=self.body(request),
            create=True,
            idempotent=self.retry_unconfirmed(),
            final_codes=FINAL_CODES,
        )
        body = response.json()
        job = self.created(self.parse(body, self.job_data(request)))
        if job.cost_usd is None and isinstance(body.get("estimated_cost_usd"), (int, float)):
            job.data["estimated_cost_usd"] = body["estimated_cost_usd"]
        return job

    def parse(self, body: dict[str, Any], data: dict[str, Any]) -> Job:
        state = STATES.get(str(body.get("status")), JobState.RUNNING)
        error = body.get("error")
        code, message = (None, None)
        if isinstance(error, dict):
            code, message = str(error.get("code") or "ENGINE_ERROR"), str(error.get("message") or "")
        elif error:
            code, message = "ENGINE_ERROR", str(error)
        cost = body.get("cost_usd")
        return Job(
            id=str(body.get("job_id") or ""),
            state=state,
            resolved_model="vrex:ace-step-v1.5",
            output_url=body.get("audio_url"),
            media_type=body.get("audio_format"),
            cost_usd=float(cost) if isinstance(cost, (int, float)) else None,
            error_code=code,
            error=message,
            data=data,
        )

    async def poll(self, job: Job) -> Job:
        response = await self.api.request("GET", f"music/{job.id}", final_codes=FINAL_CODES)
        return self.parse(response.json(), job.data)

    async def cancel(self, job: Job) -> None:
        raise ProviderError(
            self.settings.name,
            "NOT_SUPPORTED",
            "Vrex has no way to cancel a job; it will finish and be billed",
        )

    async def estimate(self, request: JobRequest) -> float | None:
        return round(float(request.params.get("duration", 30)) * PRICE_PER_SECOND, 6)

    async def usage(self) -> dict[str, Any]:
        response = await self.api.request("GET", "music/usage", final_codes=FINAL_CODES)
        return dict(response.json())
