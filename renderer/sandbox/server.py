"""A local server that speaks varg v1, varg v2 and Vrex as documented, for trying a spec's remote path
without spending money, and for testing the clients end to end.

    /v1/...      varg API v1      (keys: varg_...)
    /v2/...      varg API v2      (keys: varg_...)
    /api/v1/...  Vrex             (keys: sk-...; 10 requests a minute per key, sliding window)
    /_sandbox/log                 every request seen, as JSON (also appended to ``log_path``)

Outputs are made by the local provider (small, to stay fast). Faults are injected by configuration:
429 with Retry-After, 500/502/503, dropped connections, malformed JSON, slow or failed jobs, a wrong media type,
an error that echoes the Authorization header (``echo``), and faults after a job was created (``created-500``, ``created-502``, ``created-504``, ``created-drop``,
``created-malformed``): the job exists and costs money, but the answer does not say so. Every created job
is logged (kind ``created``) with its prompt and a fingerprint of its body, to count duplicates.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import re
import shutil
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from renderer.providers.varg import LIPSYNC_MODELS, VIDEO_UPSCALE_MODELS, allowed_durations

VREX_PRICE_PER_SECOND = 0.00015
OUTPUT_TYPES = {".png": "image/png", ".mp4": "video/mp4", ".mp3": "audio/mpeg", ".wav": "audio/wav"}


@dataclass
class SandboxConfig:
    latency: float = 1.0  # seconds from submit to completed
    slow_prompts: dict[str, float] = field(default_factory=dict)  # prompt substring -> latency
    fail_prompts: list[str] = field(default_factory=list)  # prompt substring -> the job fails
    fault_rate: float = 0.0  # share of API requests that get a fault
    fault_kinds: list[str] = field(default_factory=lambda: ["429", "500", "502", "503", "drop", "malformed"])
    fault_on: list[str] = field(default_factory=lambda: ["poll", "submit", "upload", "download"])
    fault_seed: int = 0
    wrong_media_type: bool = False
    vrex_limit: int = 10
    vrex_window: float = 60.0
    vrex_daily_limit_ms: int = 3_600_000
    vrex_rate_headers: bool = True  # False: answers carry no X-RateLimit-* (a client must pace by itself)
    varg_server_cache: bool = True
    log_path: str | None = None

    @classmethod
    def from_file(cls, path: Path) -> SandboxConfig:
        """Settings from a YAML mapping of this class's fields (see the README); anything else is a
        ValueError that says what is allowed."""
        import dataclasses

        import yaml

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError("write a mapping of settings, e.g. latency: 2")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown setting {', '.join(map(repr, unknown))}; settings: {', '.join(known)}")
        config = cls(**data)
        if not 0 <= float(config.fault_rate) <= 1:
            raise ValueError(f"fault_rate is a share of requests from 0 to 1, not {config.fault_rate}")
        return config


class Dropped(Exception):
    """Close the connection without an answer."""


class Sandbox:
    """The state of all three fake services: jobs, files, idempotency keys, rate windows, the request log."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.root = Path(tempfile.mkdtemp(prefix="render-sandbox-"))
        self.lock = threading.Lock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.server_cache: dict[str, str] = {}
        self.windows: dict[str, deque[float]] = {}
        self.usage_ms: dict[str, int] = {}
        self.log: list[dict[str, Any]] = []
        self.ids = itertools.count(1)
        self.random = random.Random(config.fault_seed)
        self.workers = ThreadPoolExecutor(max_workers=2)
        self.base_url = ""

    def close(self) -> None:
        self.workers.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self.root, ignore_errors=True)

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.log.append(entry)
            if self.config.log_path:
                with open(self.config.log_path, "a") as handle:
                    handle.write(json.dumps(entry) + "\n")

    def fault_for(self, kind: str) -> str | None:
        if self.config.fault_rate <= 0 or kind not in self.config.fault_on:
            return None
        with self.lock:
            if self.random.random() >= self.config.fault_rate:
                return None
            return self.random.choice(self.config.fault_kinds)

    # ---- jobs

    def new_job(
        self,
        api: str,
        endpoint: str,
        body: dict[str, Any],
        key: str,
        prompt: str,
        inputs: list[Path],
        *,
        fresh: bool = False,
    ) -> dict[str, Any]:
        """``fresh``: a new generation was asked for (Cache-Control: no-cache), so a different output, as a
        real model's would be."""
        job_id = f"job_{next(self.ids):06d}" if api != "vrex" else f"{next(self.ids):08d}-0000-4000-8000-000000000000"
        latency = next((s for word, s in self.config.slow_prompts.items() if word in prompt), self.config.latency)
        failed = any(word in prompt for word in self.config.fail_prompts)
        self.record(
            {
                "t": time.time(),
                "api": api,
                "kind": "created",
                "job": job_id,
                "prompt": prompt,
                "fingerprint": hashlib.sha256(json.dumps([endpoint, body], sort_keys=True).encode()).hexdigest(),
            }
        )
        job = {
            "id": job_id,
            "api": api,
            "endpoint": endpoint,
            "body": body,
            "key": key,
            "created": time.time(),
            "done_at": time.time() + latency,
            "failed": failed,
            "output": None,
            "error": None,
            "cancelled": False,
            "fresh": fresh,
        }
        with self.lock:
            self.jobs[job_id] = job
        if not failed:
            self.workers.submit(self._make_output, job, inputs)
        return job

    def _make_output(self, job: dict[str, Any], inputs: list[Path]) -> None:
        try:
            job["output"] = make_output(job, inputs, self.root)
        except Exception as exc:  # a failed generation is a failed job, as on the real service
            job["error"] = f"generation failed: {exc}"

    def status_of(self, job: dict[str, Any]) -> str:
        if job["cancelled"]:
            return "cancelled"
        if job["failed"] or job["error"]:
            return "failed" if time.time() >= job["done_at"] or job["error"] else "processing"
        if time.time() >= job["done_at"] and job["output"] is not None:
            return "completed"
        return "processing" if time.time() >= job["created"] + 0.05 else "queued"


def make_output(job: dict[str, Any], inputs: list[Path], root: Path) -> Path:
    """Make the job's output with the local provider's generators, small so the sandbox stays fast."""
    from renderer.media.types import media_type_of
    from renderer.providers.base import InputFile, JobRequest
    from renderer.providers.local import audio, image, video

    body, endpoint = job["body"], job["endpoint"]
    files = [InputFile(str(i), p, "sha256:" + "0" * 64, media_type_of(p)) for i, p in enumerate(inputs)]
    model = str(body.get("model", ""))
    params: dict[str, Any] = {"prompt": body.get("prompt") or body.get("caption") or "", "width": 160}
    if endpoint == "music":
        duration = body["duration_ms"] / 1000 if "duration_ms" in body else float(body.get("duration", 60))
        kind, fmt, params = "music", ".mp3", {"prompt": params["prompt"], "duration": duration}
    elif endpoint == "speech":
        kind, fmt, params = (
            ("speech", ".mp3", {"text": body["text"]})
            if _has_speech()
            else ("music", ".mp3", {"prompt": "calm voice", "duration": min(8, 1 + len(body["text"]) / 15)})
        )
    elif endpoint == "image" and files:
        kind, fmt, params = "upscale", ".png", {"scale": 2}
    elif endpoint == "image":
        kind, fmt = "image", ".png"
        params["aspect_ratio"] = body.get("aspect_ratio", "1:1")
    elif model in LIPSYNC_MODELS:
        picture = next(f for f in files if not f.media_type.startswith("audio"))
        sound = next(f for f in files if f.media_type.startswith("audio"))
        # a talking picture carries the speech, as the real service's output does
        kind, fmt, params = "video", ".mp4", {"duration": 2, "fps": 12, "width": 160, "prompt": "a face talking"}
        files = [picture, sound] if picture.media_type.startswith("image") else [sound]
    elif model in VIDEO_UPSCALE_MODELS:
        kind, fmt, params = "upscale", ".mp4", {"scale": 2}
    else:
        kind, fmt = "video", ".mp4"
        params.update(duration=float(body.get("duration", 5)), fps=12, aspect_ratio=body.get("aspect_ratio", "16:9"))
    out = root / f"{job['id']}{fmt}"
    request = JobRequest(
        asset=job["id"],
        type=kind,
        model=None,
        seed=_seed({**body, "job": job["id"]} if job.get("fresh") else body),
        params=params,
        inputs=files,
        key="sha256:" + "0" * 64,
        output_format=fmt,
    )
    makers = {
        "image": image.make_image,
        "music": audio.make_music,
        "speech": audio.make_speech,
        "video": video.make_video,
        "upscale": video.make_upscale,
    }
    makers[kind](request, out)
    return out


def _has_speech() -> bool:
    from renderer.providers.local import speech_engine

    return speech_engine() is not None


def _seed(body: dict[str, Any]) -> int:
    return int.from_bytes(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()[:4], "little")


class Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet: the request log says it all
        return None

    @property
    def sandbox(self) -> Sandbox:
        return self.server.sandbox

    # ---- plumbing

    def body_bytes(self) -> bytes:
        return self._body

    def read_body(self) -> None:
        # Read every body before answering, faults included: bytes left unread on a kept-alive connection
        # would be taken for the start of the next request.
        length = int(self.headers.get("Content-Length") or 0)
        self._body = self.rfile.read(length) if length else b""

    def send(
        self,
        status: int,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        data = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 204:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def key(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:].strip() if auth.startswith("Bearer ") else None

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except Dropped:
            self.drop()

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def do_DELETE(self) -> None:
        self.route("DELETE")

    def route(self, method: str) -> None:
        self.read_body()
        path = self.path.split("?")[0]
        if path == "/_sandbox/redirect":  # for testing clients: a 302 to wherever ?to= says
            from urllib.parse import parse_qs, urlsplit

            target = parse_qs(urlsplit(self.path).query).get("to", [""])[0]
            return self.send(302, {"redirect": target}, headers={"Location": target})
        if path == "/_sandbox/log":
            with self.sandbox.lock:
                return self.send(200, list(self.sandbox.log))
        if path.startswith("/_outputs/") or path.startswith("/_files/"):
            return self.serve_file(path)
        if path.startswith("/api/v1/"):
            return VrexApi(self).route(method, path[len("/api/v1/") :])
        if path.startswith("/v1/") or path.startswith("/v2/"):
            return VargApi(self, path[1:3]).route(method, path[4:])
        self.send(404, {"error": {"code": "NOT_FOUND", "message": f"no route {path}"}})

    def serve_file(self, path: str) -> None:
        kind = "download"
        name = path.rsplit("/", 1)[-1]
        self.sandbox.record({"t": time.time(), "api": "files", "kind": kind, "method": "GET", "path": path})
        fault = self.sandbox.fault_for(kind)
        if fault == "drop":
            raise Dropped
        if fault in ("500", "502", "503"):
            return self.send(int(fault), {"error": {"code": "SERVICE_UNAVAILABLE", "message": "injected"}})
        target = self.sandbox.root / name
        if not target.is_file():
            return self.send(404, {"error": {"code": "NOT_FOUND", "message": "no such file"}})
        media_type = OUTPUT_TYPES.get(target.suffix, "application/octet-stream")
        if self.sandbox.config.wrong_media_type and path.startswith("/_outputs/"):
            media_type = "text/html"
        self.send_response(200)  # streamed: outputs may be larger than memory
        self.send_header("Content-Type", media_type)
        self.send_header("Content-Length", str(target.stat().st_size))
        self.end_headers()
        with open(target, "rb") as handle:
            shutil.copyfileobj(handle, self.wfile, 1 << 20)


class _Api:
    api = ""

    def __init__(self, handler: Handler) -> None:
        self.h = handler
        self.sandbox = handler.sandbox

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self.h.send(status, {"error": {"code": code, "message": message}}, headers=headers)

    def begin(self, kind: str, method: str, path: str, key: str | None) -> str | None:
        """Log the request and inject a fault if one is due; returns the fault (already answered) or None."""
        self.sandbox.record(
            {
                "t": time.time(),
                "api": self.api,
                "kind": kind,
                "method": method,
                "path": path,
                "key": hashlib.sha256((key or "").encode()).hexdigest()[:12],
            }
        )
        fault = self.sandbox.fault_for(kind)
        self.after_create: str | None = None
        if fault is None:
            return None
        if fault.startswith("created-"):
            if kind == "submit":
                self.after_create = fault.removeprefix("created-")  # answered once the job exists
                return None
            fault = fault.removeprefix("created-")
        return self.answer_fault(fault)

    def answer_fault(self, fault: str) -> str:
        if fault == "drop":
            raise Dropped
        if fault == "malformed":
            self.h.send(200, raw=b'{"job_id": "broken', content_type="application/json")
        elif fault == "echo":  # a careless gateway that quotes the request's headers back in its error
            self.error(
                400, "BAD_REQUEST", f"rejected request with Authorization: {self.h.headers.get('Authorization')}"
            )
        elif fault == "429":
            self.error(429, "RATE_LIMITED", "injected rate limit", headers={"Retry-After": "1"})
        else:
            self.error(int(fault), "SERVICE_UNAVAILABLE", f"injected {fault}")
        return fault

    def read_json(self) -> dict[str, Any] | None:
        try:
            body = json.loads(self.h.body_bytes() or b"{}")
        except ValueError:
            self.error(400, "INVALID_JSON", "the body is not JSON")
            return None
        if not isinstance(body, dict):
            self.error(400, "INVALID_JSON", "the body must be an object")
            return None
        return body

    def url(self, path: str) -> str:
        return f"{self.sandbox.base_url}{path}"

    def file_path(self, url: str) -> Path | None:
        prefix = self.url("/_files/")
        if not url.startswith(prefix):
            return None
        target = self.sandbox.root / url[len(prefix) :]
        return target if target.is_file() else None

    def store_file(self, data: bytes, suffix: str) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        with self.sandbox.lock:
            known = self.sandbox.files.get(digest)
            if known is None:
                name = f"file_{digest[:16]}{suffix}"
                (self.sandbox.root / name).write_bytes(data)
                known = self.sandbox.files[digest] = {"file_id": name.split(".")[0], "name": name, "size": len(data)}
                deduplicated = False
            else:
                deduplicated = True
        return {
            **known,
            "url": self.url(f"/_files/{known['name']}"),
            "hash": f"sha256:{digest}",
            "deduplicated": deduplicated,
        }


class VargApi(_Api):
    def __init__(self, handler: Handler, version: str) -> None:
        super().__init__(handler)
        self.version = version
        self.api = f"varg-{version}"

    def error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        if self.version == "v1":
            body = {"error": code.lower(), "message": message, "statusCode": status}
            self.h.send(status, body, headers=headers)
        else:
            super().error(status, code, message, headers)

    def route(self, method: str, path: str) -> None:
        key = self.h.key()
        kind = {"files": "upload", "estimate": "estimate", "pricing": "pricing"}.get(path, "poll")
        if method == "POST" and path in ("video", "image", "speech", "music", "transcription"):
            kind = "submit"
        if method == "DELETE" or path.endswith("/cancel"):
            kind = "cancel"
        if self.begin(kind, method, path, key):
            return
        if path == "pricing" and method == "GET":
            return self.h.send(200, {"video_per_second_cents": 10, "image_cents": 4, "music_per_second_cents": 2})
        if not key or not key.startswith("varg_"):
            return self.error(401, "UNAUTHORIZED", "missing or invalid API key")
        if kind == "submit":
            return self.submit(path, key)
        if path == "files" and method == "POST":
            return self.upload()
        if path == "estimate" and method == "POST":
            body = self.read_json()
            if body is not None:
                self.h.send(
                    200, {"estimated_cost_cents": price_cents(str(body.get("type", "video")), body), "currency": "usd"}
                )
            return None
        match = re.fullmatch(r"jobs/([\w-]+)(/status|/cancel)?", path)
        if not match:
            return self.error(404, "NOT_FOUND", f"no route {path}")
        job = self.sandbox.jobs.get(match.group(1))
        if job is None or job["key"] != key:
            return self.error(404, "NOT_FOUND", "no such job")
        if method == "DELETE" or match.group(2) == "/cancel":
            return self.cancel(job)
        self.h.send(200, self.job_json(job, light=match.group(2) == "/status"))

    def submit(self, endpoint: str, key: str) -> None:
        body = self.read_json()
        if body is None:
            return
        if self.version == "v2":
            idem = self.h.headers.get("Idempotency-Key")
            if idem and (key, idem) in self.sandbox.idempotency:
                return self.h.send(200, self.job_json(self.sandbox.jobs[self.sandbox.idempotency[(key, idem)]]))
        problem = validate_varg(endpoint, body)
        if problem:
            return self.error(400, "VALIDATION_ERROR", problem)
        inputs = []
        for item in body.get("files") or []:
            path = self.file_path(str(item.get("url", "")))
            if path is None:
                return self.error(400, "VALIDATION_ERROR", f"file URL not known: {item.get('url')}")
            inputs.append(path)
        fingerprint = hashlib.sha256(json.dumps([endpoint, body], sort_keys=True).encode()).hexdigest()
        cached_id = self.sandbox.server_cache.get(fingerprint) if self.sandbox.config.varg_server_cache else None
        cached = self.sandbox.jobs.get(cached_id) if cached_id else None
        prompt = str(body.get("prompt") or body.get("text") or "")
        fresh = self.h.headers.get("Cache-Control") in ("no-cache", "no-store")
        job = self.sandbox.new_job(self.api, endpoint, body, key, prompt, inputs, fresh=fresh)
        if (
            cached is not None
            and self.sandbox.status_of(cached) == "completed"
            and self.h.headers.get("Cache-Control") not in ("no-cache", "no-store")
        ):
            job.update(output=cached["output"], done_at=job["created"], cache_hit=True)
        self.sandbox.server_cache[fingerprint] = job["id"]
        if self.version == "v2" and self.h.headers.get("Idempotency-Key"):
            self.sandbox.idempotency[(key, self.h.headers["Idempotency-Key"])] = job["id"]
        if self.after_create:
            self.answer_fault(self.after_create)
            return
        self.h.send(202, self.job_json(job), headers={"X-Cache": "HIT" if job.get("cache_hit") else "MISS"})

    def upload(self) -> None:
        data = self.h.body_bytes()
        limit = 50 * 1024**2 if self.version == "v1" else 200 * 1024**2
        if len(data) > limit:
            return self.error(413, "FILE_TOO_LARGE", "file too large")
        claimed = self.h.headers.get("X-Content-Hash")
        if claimed and claimed != "sha256:" + hashlib.sha256(data).hexdigest():
            return self.error(400, "VALIDATION_ERROR", "X-Content-Hash does not match the body")
        media_type = self.h.headers.get("Content-Type", "application/octet-stream")
        suffix = {v: k for k, v in OUTPUT_TYPES.items()}.get(media_type, "")
        suffix = suffix or {"image/jpeg": ".jpg", "audio/flac": ".flac", "audio/wav": ".wav"}.get(media_type, ".bin")
        stored = self.store_file(data, suffix)
        self.h.send(
            201 if self.version == "v2" else 200,
            {k: stored[k] for k in ("file_id", "url", "hash", "size", "deduplicated")} | {"media_type": media_type},
        )

    def cancel(self, job: dict[str, Any]) -> None:
        finished = self.sandbox.status_of(job) in ("completed", "failed", "cancelled")
        if self.version == "v2":
            if finished:
                return self.error(409, "CONFLICT", "the job has already finished")
            job["cancelled"] = True
            return self.h.send(200, self.job_json(job))
        if not finished:
            job["cancelled"] = True
        self.h.send(204)

    def job_json(self, job: dict[str, Any], light: bool = False) -> dict[str, Any]:
        status = self.sandbox.status_of(job)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job["created"]))
        output = job["output"]
        url = self.url(f"/_outputs/{output.name}") if output is not None and status == "completed" else None
        media_type = OUTPUT_TYPES.get(output.suffix) if output is not None else None
        error = job["error"] or ("the provider refused this prompt" if job["failed"] else None)
        model = f"fal:{job['body'].get('model')}"
        if self.version == "v1":
            body: dict[str, Any] = {
                "job_id": job["id"],
                "status": status,
                "model": model,
                "created_at": created,
                "cache": {"hit": bool(job.get("cache_hit")), "key": f"sha256:{job['id']}"},
            }
            if url:
                body["output"] = {"url": url, "media_type": media_type}
            if status == "failed":
                body["error"] = error
            return body
        v2_status = {"processing": "running"}.get(status, status)
        cents = price_cents(job["endpoint"], job["body"])
        if light:
            return {"id": job["id"], "status": v2_status, "progress": 1.0 if status == "completed" else 0.5}
        body = {
            "id": job["id"],
            "status": v2_status,
            "model": model,
            "created_at": created,
            "estimated_cost_cents": cents,
        }
        if url:
            body["output"] = {
                "outputs": [{"url": url, "file_id": output.stem, "media_type": media_type, "thumbnail_url": None}]
            }
            body["actual_cost_cents"] = cents
        if status == "failed":
            body["error"] = {"code": "PROVIDER_ERROR", "message": error}
        return body


def price_cents(endpoint: str, body: dict[str, Any]) -> int:
    if endpoint == "video":
        return int(10 * float(body.get("duration", 5)))
    if endpoint == "music":
        return int(2 * float(body.get("duration", 60)))
    if endpoint == "speech":
        return max(1, len(str(body.get("text", ""))) // 100)
    return 4


def validate_varg(endpoint: str, body: dict[str, Any]) -> str | None:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return "model is required"
    if endpoint == "speech":
        return None if isinstance(body.get("text"), str) and body["text"] else "text is required"
    if "prompt" not in body:
        return "prompt is required"
    if endpoint == "music" and model != "music_v1":
        return "music_v1 is the only music model"
    if endpoint == "video" and "duration" in body:
        rule = allowed_durations(model)
        duration = body["duration"]
        if rule and rule[0] == "range" and not (float(duration).is_integer() and rule[1][0] <= duration <= rule[1][1]):
            return f"{model} accepts integer durations {rule[1][0]}-{rule[1][1]}"
        if rule and rule[0] == "set" and duration not in rule[1]:
            return f"{model} accepts durations {rule[1]}"
    return None


class VrexApi(_Api):
    api = "vrex"

    def limited(self, key: str) -> dict[str, str] | None:
        """Count this request in the key's sliding window; the headers to send, or None when over the limit
        (then the 429 has been sent)."""
        config = self.sandbox.config
        now = time.time()
        with self.sandbox.lock:
            window = self.sandbox.windows.setdefault(key, deque())
            while window and now - window[0] >= config.vrex_window:
                window.popleft()
            over = len(window) >= config.vrex_limit
            if over:
                retry = max(1, int(config.vrex_window - (now - window[0])) + 1)
            else:
                window.append(now)
            remaining = config.vrex_limit - len(window)
        if over:  # answered outside the lock: recording takes it too
            self.sandbox.record({"t": now, "api": "vrex", "kind": "rejected-429", "path": self.h.path})
            self.error(
                429,
                "RATE_LIMITED",
                "Rate limit exceeded",
                headers={
                    "Retry-After": str(retry),
                    "X-RateLimit-Limit": str(config.vrex_limit),
                    "X-RateLimit-Remaining": "0",
                },
            )
            return None
        if not config.vrex_rate_headers:
            return {}
        return {"X-RateLimit-Limit": str(config.vrex_limit), "X-RateLimit-Remaining": str(remaining)}

    def route(self, method: str, path: str) -> None:
        key = self.h.key()
        kind = {"music": "submit", "music/ref-audio": "upload", "music/usage": "usage"}.get(path, "poll")
        if self.begin(kind, method, path, key):
            return
        if not key or not key.startswith("sk-"):
            return self.error(401, "UNAUTHORIZED", "missing or invalid API key")
        headers = self.limited(key)
        if headers is None:
            return
        if method == "POST" and path == "music":
            return self.submit(key, headers)
        if method == "POST" and path == "music/ref-audio":
            return self.ref_audio(headers)
        if method == "GET" and path == "music/usage":
            used = self.sandbox.usage_ms.get(key, 0)
            limit = self.sandbox.config.vrex_daily_limit_ms
            return self.h.send(
                200,
                {
                    "tier": "pro",
                    "daily_limit_ms": limit,
                    "usage_today_ms": used,
                    "remaining_ms": max(0, limit - used),
                    "usage_this_month_ms": used,
                    "generations_count": sum(1 for j in self.sandbox.jobs.values() if j["key"] == key),
                    "total_cost_usd": round(used / 1000 * VREX_PRICE_PER_SECOND, 6),
                },
                headers=headers,
            )
        match = re.fullmatch(r"music/([\w-]+)", path)
        job = self.sandbox.jobs.get(match.group(1)) if match and method == "GET" else None
        if job is None or job["key"] != key:
            return self.error(404, "NOT_FOUND", "no such job", headers)
        self.h.send(200, self.job_json(job), headers=headers)

    def submit(self, key: str, headers: dict[str, str]) -> None:
        body = self.read_json()
        if body is None:
            return
        caption = body.get("caption")
        if not isinstance(caption, str) or not 100 <= len(caption) <= 500:
            return self.error(400, "VALIDATION_ERROR", "caption must be 100-500 characters", headers)
        if len(str(body.get("lyrics", ""))) > 2000:
            return self.error(400, "TEXT_TOO_LONG", "lyrics must be at most 2000 characters", headers)
        duration_ms = body.get("duration_ms", 30000)
        if not isinstance(duration_ms, (int, float)) or not 5000 <= duration_ms <= 120000:
            return self.error(400, "VALIDATION_ERROR", "duration_ms must be 5000-120000", headers)
        if self.sandbox.usage_ms.get(key, 0) + duration_ms > self.sandbox.config.vrex_daily_limit_ms:
            return self.error(429, "DAILY_LIMIT_EXCEEDED", "Daily generation limit reached for tier", headers)
        self.sandbox.usage_ms[key] = self.sandbox.usage_ms.get(key, 0) + int(duration_ms)
        body = {**body, "duration_ms": int(duration_ms)}
        job = self.sandbox.new_job("vrex", "music", body, key, caption, [])
        if self.after_create:
            self.answer_fault(self.after_create)
            return
        self.h.send(
            202,
            {
                "job_id": job["id"],
                "generation_id": job["id"][:-1] + "1",
                "status": "pending",
                "duration_ms": int(duration_ms),
                "estimated_cost_usd": round(duration_ms / 1000 * VREX_PRICE_PER_SECOND, 6),
            },
            headers=headers,
        )

    def ref_audio(self, headers: dict[str, str]) -> None:
        part = _multipart_file(self.h.headers.get("Content-Type", ""), self.h.body_bytes(), "audio")
        if part is None:
            return self.error(400, "VALIDATION_ERROR", "send the file as multipart field 'audio'", headers)
        filename, data = part
        suffix = Path(filename).suffix.lower()
        if suffix not in (".wav", ".mp3", ".flac"):
            return self.error(400, "VALIDATION_ERROR", "reference audio must be WAV, MP3 or FLAC", headers)
        if len(data) > 10 * 1024**2:
            return self.error(400, "VALIDATION_ERROR", "reference audio must be at most 10MB", headers)
        stored = self.store_file(data, suffix)
        self.h.send(
            201,
            {"ref_audio_url": stored["url"], "expires_in": 3600, "size_bytes": len(data), "duration_ms": 5000},
            headers=headers,
        )

    def job_json(self, job: dict[str, Any]) -> dict[str, Any]:
        status = self.sandbox.status_of(job)
        body = job["body"]
        answer: dict[str, Any] = {
            "job_id": job["id"],
            "generation_id": job["id"][:-1] + "1",
            "status": "pending" if status == "queued" else status,
            "caption": body["caption"],
            "lyrics": body.get("lyrics", ""),
            "duration_ms": body["duration_ms"],
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(job["created"])),
        }
        if status == "completed":
            output = job["output"]
            answer.update(
                audio_url=self.url(f"/_outputs/{output.name}"),
                audio_format="audio/mpeg",
                size_bytes=output.stat().st_size,
                cost_usd=round(body["duration_ms"] / 1000 * VREX_PRICE_PER_SECOND, 6),
            )
        if status == "failed":
            answer["error"] = {"code": "ENGINE_ERROR", "message": job["error"] or "generation failed"}
        return answer


def _multipart_file(content_type: str, body: bytes, field_name: str) -> tuple[str, bytes] | None:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        return None
    boundary = b"--" + match.group(1).encode()
    for part in body.split(boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        disposition = re.search(rb'name="([^"]*)"(?:; filename="([^"]*)")?', head)
        if disposition and disposition.group(1).decode() == field_name:
            return (disposition.group(2) or b"upload").decode(), data[:-2] if data.endswith(b"\r\n") else data
    return None


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, host: str, port: int, config: SandboxConfig) -> None:
        super().__init__((host, port), Handler)
        self.sandbox = Sandbox(config)
        shown = f"[{host}]" if ":" in host else host
        self.sandbox.base_url = f"http://{shown}:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return self.sandbox.base_url

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="render-sandbox", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.sandbox.close()


def serve(host: str = "127.0.0.1", port: int = 0, config: SandboxConfig | None = None) -> SandboxServer:
    from renderer.providers.http import is_loopback

    if not is_loopback(host):
        raise ValueError("the sandbox listens on this machine only (127.0.0.1, ::1 or localhost)")
    server = SandboxServer(host, port, config or SandboxConfig())
    server.start()
    return server
