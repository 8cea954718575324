from __future__ import annotations

from pathlib import Path

from renderer.providers.base import InputFile, JobRequest, JobState, ProviderContext
from renderer.providers.varg import VargProvider, allowed_durations
from renderer.spec.model import ProviderSettings


def provider(api: str = "v1") -> VargProvider:
    return VargProvider(ProviderSettings("varg", "varg", {"api": api}), ProviderContext(Path("/tmp"), {}))


def request(
    kind: str, params: dict, inputs: list[InputFile] | None = None, model: str | None = None, fmt: str = ".mp4"
) -> JobRequest:
    return JobRequest(
        asset="a",
        type=kind,
        model=model,
        seed=3,
        params=params,
        inputs=inputs or [],
        key="sha256:" + "1" * 64,
        output_format=fmt,
    )


def test_duration_rules_per_model() -> None:
    assert allowed_durations("kling-v3") == ("range", (3, 15))
    assert allowed_durations("seedance-2-fast-preview") == ("set", (5, 10, 15))
    assert allowed_durations("sora-2-pro") == ("set", (4, 8, 12))
    assert allowed_durations("minimax") is None


def test_bodies_as_documented() -> None:
    image = InputFile("0", Path("a.png"), "sha256:x", "image/png", url="https://f/a.png")
    voice = InputFile("audio", Path("v.mp3"), "sha256:y", "audio/mpeg", url="https://f/v.mp3")
    clip = InputFile("video", Path("c.mp4"), "sha256:z", "video/mp4", url="https://f/c.mp4")
    varg = provider()
    assert varg.endpoint_and_body(
        request("video", {"prompt": "p", "duration": 5, "aspect_ratio": "16:9"}, [image])
    ) == (
        "video",
        {
            "model": "kling-v3",
            "prompt": "p",
            "duration": 5,
            "aspect_ratio": "16:9",
            "files": [{"url": "https://f/a.png"}],
        },
    )
    assert varg.endpoint_and_body(request("music", {"prompt": "p"}, fmt=".mp3")) == (
        "music",
        {"model": "music_v1", "prompt": "p"},
    )
    assert varg.endpoint_and_body(request("speech", {"text": "hi", "voice": "adam"}, model="eleven", fmt=".mp3")) == (
        "speech",
        {"model": "eleven", "text": "hi", "voice": "adam"},
    )
    endpoint, body = varg.endpoint_and_body(request("lipsync", {}, [voice, clip]))
    assert endpoint == "video" and body["files"] == [{"url": "https://f/c.mp4"}, {"url": "https://f/v.mp3"}]
    assert body == {"model": "sync-v2", "prompt": "", "files": body["files"]}
    assert varg.endpoint_and_body(
        request("image", {"prompt": "p", "provider_options": {"fal": {"x": 1}}}, model="m", fmt=".png")
    ) == ("image", {"model": "m", "prompt": "p", "provider_options": {"fal": {"x": 1}}})


def test_jobs_of_both_versions_map_to_one_state_machine() -> None:
    v1 = provider().parse_job(
        {
            "job_id": "j",
            "status": "completed",
            "model": "fal:kling-v2.5",
            "output": {"url": "https://o/x.mp4", "media_type": "video/mp4"},
        },
        {},
    )
    assert (v1.id, v1.state, v1.resolved_model, v1.output_url) == (
        "j",
        JobState.SUCCEEDED,
        "fal:kling-v2.5",
        "https://o/x.mp4",
    )
    v2 = provider("v2").parse_job({"id": "k", "status": "running"}, {})
    assert v2.state is JobState.RUNNING
    done = provider("v2").parse_job(
        {
            "id": "k",
            "status": "completed",
            "actual_cost_cents": 125,
            "output": {"outputs": [{"url": "https://o/y.png", "media_type": "image/png"}]},
        },
        {},
    )
    assert done.cost_usd == 1.25 and done.output_url == "https://o/y.png"
    failed = provider().parse_job({"job_id": "j", "status": "failed", "error": "Provider returned an error"}, {})
    assert (failed.state, failed.error_code, failed.error) == (
        JobState.FAILED,
        "JOB_FAILED",
        "Provider returned an error",
    )


def test_a_missing_key_and_a_plain_http_url_are_named() -> None:
    varg = VargProvider(
        ProviderSettings("v", "varg", {"base_url": "http://example.com/v1"}), ProviderContext(Path("/tmp"), {})
    )
    problems = varg.preflight()
    assert any("VARG_API_KEY" in p for p in problems) and any("plain http" in p for p in problems)
