"""varg.ai: video, image, speech and music; API v1 as documented (the default) and v2 (``api: v2``)."""

from __future__ import annotations

from typing import Any, ClassVar

from renderer import recipe_versions
from renderer.errors import ProviderError
from renderer.media.types import kind_of, media_type_of
from renderer.providers.base import InputFile, Job, JobRequest, JobState
from renderer.providers.remote import RemoteProvider
from renderer.records import written_digest
from renderer.spec.model import Asset, input_path
from renderer.spec.schema import did_you_mean

VIDEO_MODELS = (
    "kling-v3",
    "kling-v3-standard",
    "seedance-2-preview",
    "seedance-2-fast-preview",
    "sora-2",
    "sora-2-pro",
    "wan-2.5",
    "wan-2.5-preview",
    "minimax",
    "ltx-2-19b-distilled",
    "grok-imagine",
    "grok-imagine-edit",
    "sora-2-remix",
    "kling-v2.6-motion",
    "kling-v2.6",
    "kling-v2.5",
    "kling-v2.1",
    "kling-v2",
)
LIPSYNC_MODELS = ("veed-fabric-1.0", "sync-v2", "sync-v2-pro", "omnihuman-v1.5")
VIDEO_UPSCALE_MODELS = ("seedvr-video", "topaz-video", "bytedance-upscaler", "sima-video-upscaler")
MUSIC_MODELS = ("music_v1",)
ASPECT_RATIOS = ("1:1", "16:9", "9:16", "4:3", "3:4")
DEFAULT_MODEL = {"video": "kling-v3", "music": "music_v1", "lipsync": "sync-v2", "upscale": "topaz-video"}
VOICES = ("rachel", "domi", "sarah", "antoni", "elli", "josh", "arnold", "adam", "sam")
STATES = {
    "submitting": JobState.QUEUED,
    "queued": JobState.QUEUED,
    "processing": JobState.RUNNING,
    "running": JobState.RUNNING,
    "completed": JobState.SUCCEEDED,
    "failed": JobState.FAILED,
    "cancelled": JobState.CANCELLED,
}
MAX_UPLOAD = {"v1": 50 * 1024**2, "v2": 200 * 1024**2}


def allowed_durations(model: str) -> tuple[str, Any] | None:
    """("range", (lo, hi)) for whole seconds in a range, ("set", {...}) for fixed choices, None if free."""
    if model.startswith("kling-v3"):
        return "range", (3, 15)
    if model.startswith("seedance"):
        return "set", (5, 10, 15)
    if model.startswith("wan-2.5") or model in ("kling-v2.5", "kling-v2.1", "kling-v2"):
        return "set", (5, 10)
    if model.startswith("sora-2"):
        return "set", (4, 8, 12)
    return None


class VargProvider(RemoteProvider):
    name: ClassVar[str] = "varg"
    recipe_version: ClassVar[str] = recipe_versions.VARG
    default_base_url: ClassVar[str] = "https://api.varg.ai/v1"
    default_key_env: ClassVar[str] = "VARG_API_KEY"
    default_formats: ClassVar[dict[str, str]] = {"music": ".mp3", "speech": ".mp3"}

    @property
    def version(self) -> str:
        return str(self.options.get("api") or ("v2" if self.base_url.rstrip("/").endswith("/v2") else "v1"))

    @classmethod
    def check(cls, asset: Asset, assets: dict[str, Asset]) -> list[str]:
        problems: list[str] = []
        model = asset.model or DEFAULT_MODEL.get(asset.type)
        if asset.type == "compose":
            return ["varg does not compose; use the local provider for compose assets"]
        if model is None:
            return [f"varg needs 'model' for {asset.type} assets (see the models in your varg dashboard)"]
        known = {"video": VIDEO_MODELS, "lipsync": LIPSYNC_MODELS, "music": MUSIC_MODELS}.get(asset.type)
        if asset.type == "upscale" and _source_kind(asset, assets) == "video":
            known = VIDEO_UPSCALE_MODELS
        if known and model not in known:
            problems.append(
                f"'{model}' is not a varg {asset.type} model{did_you_mean(model, known)} (models: {', '.join(known)})"
            )
        duration = asset.params.get("duration")
        rule = allowed_durations(model) if asset.type == "video" else None
        if rule and duration is not None:
            kind, allowed = rule
            if kind == "range" and not (float(duration).is_integer() and allowed[0] <= duration <= allowed[1]):
                problems.append(
                    f"{model} takes a whole number of seconds from {allowed[0]} to {allowed[1]} "
                    f"as duration, not {duration}"
                )
            if kind == "set" and duration not in allowed:
                problems.append(
                    f"{model} takes duration {', '.join(map(str, allowed[:-1]))} or {allowed[-1]}, not {duration}"
                )
        ratio = asset.params.get("aspect_ratio")
        if ratio is not None and asset.type in ("image", "video") and ratio not in ASPECT_RATIOS:
            problems.append(f"varg takes aspect_ratio {', '.join(ASPECT_RATIOS)}, not '{ratio}'")
        if asset.type == "lipsync":
            kinds = sorted(_kind(ref, assets) for ref in asset.inputs)
            if kinds not in (["audio", "video"], ["audio", "image"]):
                problems.append("lipsync takes one video or image and one audio input")
        if asset.type == "upscale" and len(asset.inputs) != 1:
            problems.append("upscale takes exactly one input")
        return problems

    # ---- the seam

    def max_upload_bytes(self) -> int:
        return MAX_UPLOAD[self.version]

    async def send_upload(self, item: InputFile) -> str:
        headers = {"X-Content-Hash": written_digest(item.sha256), "Content-Type": item.media_type}
        if self.version == "v2":
            headers["X-Filename"] = item.path.name
        response = await self.api.request("POST", "files", content=item.path.read_bytes(), headers=headers)
        return str(response.json()["url"])

    def endpoint_and_body(self, request: JobRequest) -> tuple[str, dict[str, Any]]:
        params = request.params
        model = request.model or DEFAULT_MODEL.get(request.type)
        files = [{"url": item.url} for item in _ordered(request)]
        options = params.get("provider_options")
        if request.type == "speech":
            body: dict[str, Any] = {"model": model, "text": params["text"]}
            if params.get("voice"):
                body["voice"] = params["voice"]
            endpoint = "speech"
        elif request.type == "music":
            body = {"model": model, "prompt": params.get("prompt", "")}
            if params.get("duration") is not None:
                body["duration"] = params["duration"]
            endpoint = "music"
        elif request.type == "image" or (
            request.type == "upscale" and request.output_format in (".png", ".jpg", ".jpeg", ".webp")
        ):
            body = {"model": model, "prompt": params.get("prompt", "")}
            if params.get("aspect_ratio"):
                body["aspect_ratio"] = params["aspect_ratio"]
            endpoint = "image"
        else:  # video, lipsync, video upscale
            body = {"model": model, "prompt": params.get("prompt", "")}
            if request.type == "video":
                if params.get("duration") is not None:
                    body["duration"] = params["duration"]
                if params.get("aspect_ratio"):
                    body["aspect_ratio"] = params["aspect_ratio"]
            endpoint = "video"
        if files:
            body["files"] = files
        if options:
            body["provider_options"] = options
        return endpoint, body

    async def submit(self, request: JobRequest) -> Job:
        endpoint, body = self.endpoint_and_body(request)
        headers = {}
        if self.version == "v2":
            headers["Idempotency-Key"] = "render-" + (request.idempotency_key or request.key)
        if request.take > 1:  # another candidate of the same request: a new generation, not the server's cached one
            headers["Cache-Control"] = "no-cache"
        response = await self.api.request(
            "POST",
            endpoint,
            json=body,
            headers=headers,
            create=True,
            idempotent=self.version == "v2" or self.retry_unconfirmed(),
        )
        return self.created(self.parse_job(response.json(), self.job_data(request, api=self.version)))

    async def find_job(self, request: JobRequest) -> Job | None:
        """v2: the same Idempotency-Key answers with the job the lost submit made, or makes it now if
        that submit never arrived: one job either way. v1 has no way to find it."""
        if self.version == "v2" or self.retry_unconfirmed():
            return await self.submit(request)
        return None

    def parse_job(self, body: dict[str, Any], data: dict[str, Any]) -> Job:
        job_id = str(body.get("job_id") or body.get("id") or "")
        state = STATES.get(str(body.get("status")), JobState.RUNNING)
        output = body.get("output") or {}
        if isinstance(output.get("outputs"), list) and output["outputs"]:
            output = output["outputs"][0]
        cost = body.get("actual_cost_cents")
        error = body.get("error")
        code, message = (
            ("JOB_FAILED", error)
            if isinstance(error, str)
            else (
                (str(error.get("code") or "JOB_FAILED"), str(error.get("message") or ""))
                if isinstance(error, dict)
                else (None, None)
            )
        )
        return Job(
            id=job_id,
            state=state,
            resolved_model=body.get("model"),
            output_url=output.get("url"),
            media_type=output.get("media_type"),
            cost_usd=cost / 100 if isinstance(cost, (int, float)) else None,
            error_code=code,
            error=message,
            data=data,
        )

    async def poll(self, job: Job) -> Job:
        response = await self.api.request("GET", f"jobs/{job.id}")
        return self.parse_job(response.json(), job.data)

    async def cancel(self, job: Job) -> None:
        try:
            if job.data.get("api", self.version) == "v2":
                await self.api.request("POST", f"jobs/{job.id}/cancel")
            else:
                await self.api.request("DELETE", f"jobs/{job.id}")
        except ProviderError as exc:
            if exc.code not in ("HTTP_409", "CONFLICT", "ALREADY_FINISHED"):
                raise

    async def estimate(self, request: JobRequest) -> float | None:
        if self.version != "v2" or self.preflight():
            return None
        endpoint, body = self.endpoint_and_body(request)
        body.pop("files", None)
        response = await self.api.request("POST", "estimate", json={"type": endpoint, **body})
        cents = response.json().get("estimated_cost_cents")
        return cents / 100 if isinstance(cents, (int, float)) else None


def _kind(ref: Any, assets: dict[str, Asset]) -> str:
    return kind_of(media_type_of(input_path(ref, assets)))


def _source_kind(asset: Asset, assets: dict[str, Asset]) -> str:
    return _kind(asset.inputs[0], assets) if asset.inputs else "image"


def _ordered(request: JobRequest) -> list[InputFile]:
    """Files in the order that carries meaning: as given, except lipsync's picture before its audio."""
    if request.type == "lipsync":
        return sorted(request.inputs, key=lambda item: kind_of(item.media_type) == "audio")
    return list(request.inputs)
