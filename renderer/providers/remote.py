"""What varg, Vrex and other HTTP providers share: the key from the environment, the preflight check,
the HttpApi, uploads remembered by content hash, and downloads into the engine's scratch space."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from renderer.errors import ProviderError, UnconfirmedSubmit
from renderer.media.types import kind_of, media_type_of
from renderer.providers.base import InputFile, Job, JobRequest, ProviderContext
from renderer.providers.http import HttpApi, api_key_from, key_id, url_problem
from renderer.spec.model import ProviderSettings


class RemoteProvider:
    name: ClassVar[str] = ""
    free: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False
    recipe_version: ClassVar[str] = "1"
    default_max_concurrency: ClassVar[int] = 4
    default_base_url: ClassVar[str] = ""
    default_key_env: ClassVar[str] = ""
    requests_per_minute: ClassVar[float | None] = None

    def __init__(self, settings: ProviderSettings, context: ProviderContext) -> None:
        self.settings = settings
        self.options = settings.options
        self.tuning = settings.tuning
        self.context = context
        self.base_url = str(self.options.get("base_url") or self.default_base_url)
        self.key_env = str(self.options.get("api_key_env") or self.default_key_env)
        self._api: HttpApi | None = None

    def preflight(self) -> list[str]:
        problems = []
        if api_key_from(self.context.environ, self.key_env) is None:
            problems.append(
                f"provider '{self.settings.name}' needs an API key in the environment variable "
                f"{self.key_env}; set it (or set 'api_key_env' in the provider block)"
            )
        bad_url = url_problem(self.base_url)
        if bad_url:
            problems.append(f"provider '{self.settings.name}': base_url {bad_url}")
        return problems

    @property
    def api(self) -> HttpApi:
        if self._api is None:
            key = api_key_from(self.context.environ, self.key_env) or ""
            self._api = HttpApi(
                self.settings.name,
                self.base_url,
                key,
                self.tuning,
                session=self.context.http,
                per_minute=self.requests_per_minute,
            )
        return self._api

    async def upload(self, item: InputFile) -> str:
        """Upload an input once per content hash (per endpoint and key, for the run), within the
        provider's size limit."""
        uploads = self.context.http.uploads
        ident = (self.base_url, key_id(self.api.api_key), item.sha256)
        if ident in uploads:
            return uploads[ident]
        size = item.path.stat().st_size
        limit = self.max_upload_bytes()
        if size > limit:
            raise ProviderError(
                self.settings.name,
                "FILE_TOO_LARGE",
                f"input '{item.path.name}' is {size:,} bytes; {self.name} takes at most {limit:,}",
            )
        uploads[ident] = url = await self.send_upload(item)
        return url

    def max_upload_bytes(self) -> int:
        raise NotImplementedError

    async def send_upload(self, item: InputFile) -> str:
        """Send one file; return the URL the provider gave it."""
        raise NotImplementedError

    @staticmethod
    def job_data(request: JobRequest, **extra: Any) -> dict[str, Any]:
        """What polling and fetching need later, also in another process (it is journaled): plain JSON."""
        return {"asset": request.asset, "expect": kind_of(media_type_of("x" + request.output_format)), **extra}

    async def fetch(self, job: Job, dest: Path) -> str:
        assert job.output_url, "a succeeded job has an output URL"
        _, digest = await self.api.download(job.output_url, dest, expect_kind=job.data.get("expect", "other"))
        return digest

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()

    def retry_unconfirmed(self) -> bool:
        return self.tuning.retry_unconfirmed_submit

    def created(self, job: Job) -> Job:
        """A create answer must name the job; one that does not leaves it unknown whether one was made."""
        if not job.id:
            raise UnconfirmedSubmit(self.settings.name, "SUBMIT_UNCONFIRMED", "the answer named no job id")
        return job

    async def find_job(self, request: JobRequest) -> Job | None:
        """Only when the provider block allows sending an unconfirmed submit again (it may pay twice)."""
        return await self.submit(request) if self.retry_unconfirmed() else None

    async def submit(self, request: JobRequest) -> Job:
        raise NotImplementedError
