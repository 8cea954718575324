from __future__ import annotations

from pathlib import Path

import anyio

from renderer.providers.base import InputFile, JobRequest, ProviderContext
from renderer.providers.vrex import VrexProvider
from renderer.spec.model import Asset, ProviderSettings


def asset(**params: object) -> Asset:
    output = str(params.pop("output", "m.mp3"))
    return Asset(
        name="m",
        type=str(params.pop("type", "music")),
        provider="vrex",
        model=None,
        seed=None,
        params=dict(params),
        inputs=[],
        output=output,
    )


def test_checks_before_any_request() -> None:
    ok = "x" * 120
    assert VrexProvider.check(asset(prompt=ok, duration=30), {}) == []
    assert "100 to 500 characters" in VrexProvider.check(asset(prompt="short"), {})[0]
    assert "5 to 120 seconds" in VrexProvider.check(asset(prompt=ok, duration=200), {})[0]
    assert "at most 2000 characters" in VrexProvider.check(asset(prompt=ok, lyrics="l" * 2001), {})[0]
    assert "name the output 'm.mp3'" in VrexProvider.check(asset(prompt=ok, output="m.wav"), {})[0]
    assert "music only" in VrexProvider.check(asset(type="image", prompt=ok), {})[0]


def test_body_and_estimate() -> None:
    vrex = VrexProvider(ProviderSettings("vrex", "vrex", {}), ProviderContext(Path("/tmp"), {}))
    reference = InputFile("ref_audio", Path("t.wav"), "sha256:x", "audio/wav", url="https://r/ref")
    request = JobRequest(
        asset="m",
        type="music",
        model=None,
        seed=None,
        params={"prompt": "c" * 120, "lyrics": "la la", "duration": 42.5},
        inputs=[reference],
        key="sha256:" + "0" * 64,
        output_format=".mp3",
    )
    assert vrex.body(request) == {
        "caption": "c" * 120,
        "duration_ms": 42500,
        "lyrics": "la la",
        "ref_audio_url": "https://r/ref",
    }
    assert anyio.run(vrex.estimate, request) == round(42.5 * 0.00015, 6)
