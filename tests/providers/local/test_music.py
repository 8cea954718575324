"""The prompt's words steer the synthesiser, and what it makes sounds like what was asked."""

from __future__ import annotations

import numpy as np
import pytest

from renderer.providers.local.music import RATE, style_of, synthesize


def style(prompt: str):  # type: ignore[no-untyped-def]
    return style_of(prompt, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("prompt", "bpm"),
    [("house groove, 123 bpm", 123), ("slow ballad", 69), ("techno", 130), ("energetic", 128), ("calm piano", 76)],
)
def test_tempo_from_figures_and_words(prompt: str, bpm: float) -> None:
    assert style(prompt).bpm == pytest.approx(bpm, abs=1)


def test_mood_key_instruments_and_drums() -> None:
    assert style("dark brooding synth").minor and not style("uplifting happy tune").minor
    d_minor = style("lofi beat in D minor")
    assert d_minor.minor and (d_minor.root + 9) % 12 == 2 and d_minor.drums == "halftime"
    assert style("piano ballad").lead == "piano"
    assert style("orchestral strings").pad == "strings"
    assert style("techno").drums == "four" and style("rock anthem").drums == "backbeat"
    assert style("energetic rock, no drums").drums is None
    assert style("ambient pad").drums is None


def _beat_period(samples: np.ndarray) -> float:
    """The strongest periodicity of the loudness envelope between 0.25 s and 1.5 s, in seconds."""
    mono = np.abs(samples.mean(axis=1))
    hop = 441
    envelope = mono[: len(mono) // hop * hop].reshape(-1, hop).mean(axis=1)
    onset = np.maximum(np.diff(envelope), 0)
    onset -= onset.mean()
    corr = np.correlate(onset, onset, mode="full")[len(onset) - 1 :]
    lags = np.arange(len(corr)) * hop / RATE
    window = (lags > 0.25) & (lags < 1.5)
    return float(lags[window][np.argmax(corr[window])])


@pytest.mark.parametrize("bpm", [90, 120, 140])
def test_the_beat_in_the_audio_has_the_asked_tempo(bpm: int) -> None:
    samples = synthesize(f"four on the floor techno {bpm}bpm", 12, 1)
    period = _beat_period(samples)
    beat = 60 / bpm
    assert any(abs(period - beat * m) < 0.02 for m in (0.5, 1, 2)), (period, beat)


def test_exact_length_level_and_determinism() -> None:
    a = synthesize("uplifting strings", 3.3, 5)
    assert a.shape == (round(3.3 * RATE), 2)
    assert np.max(np.abs(a)) == pytest.approx(0.89, abs=1e-6)
    assert np.sqrt(np.mean(a**2)) > 0.05
    assert np.array_equal(a, synthesize("uplifting strings", 3.3, 5))
    assert not np.array_equal(a, synthesize("uplifting strings", 3.3, 6))
    assert not np.allclose(a[:, 0], a[:, 1])  # a stereo image, not mono twice
