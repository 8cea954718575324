"""Music synthesised from a prompt: its words choose tempo, key, scale, chords, timbres and drums.

Deterministic: the same prompt, duration and seed give the same samples; another seed, another piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

RATE = 44_100

TEMPO_WORDS = {
    "slow": 68,
    "ballad": 70,
    "calm": 76,
    "ambient": 72,
    "relaxed": 80,
    "gentle": 78,
    "lofi": 82,
    "lo-fi": 82,
    "chill": 88,
    "cinematic": 92,
    "epic": 96,
    "orchestral": 90,
    "groovy": 104,
    "funky": 108,
    "pop": 112,
    "upbeat": 118,
    "happy": 116,
    "rock": 124,
    "energetic": 128,
    "fast": 136,
    "dance": 124,
    "house": 124,
    "techno": 130,
    "edm": 128,
    "driving": 126,
    "drum and bass": 172,
    "dnb": 172,
}
MINOR_WORDS = (
    "dark",
    "sad",
    "minor",
    "melancholic",
    "melancholy",
    "tense",
    "tension",
    "mysterious",
    "ominous",
    "moody",
    "haunting",
    "somber",
    "sombre",
    "brooding",
    "suspense",
)
MAJOR_WORDS = (
    "uplifting",
    "happy",
    "major",
    "bright",
    "joyful",
    "hopeful",
    "sunny",
    "cheerful",
    "triumphant",
    "heroic",
    "playful",
    "warm",
)
NOTE_NAMES = {"c": 0, "d": 2, "e": 4, "f": 5, "g": 7, "a": 9, "b": 11}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PROGRESSIONS = {
    False: ((0, 4, 5, 3), (0, 5, 3, 4), (0, 3, 4, 4), (5, 3, 0, 4)),  # I-V-vi-IV, I-vi-IV-V, ...
    True: ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6), (0, 5, 3, 4)),  # i-VI-III-VII, i-iv-v-i, ...
}
INSTRUMENT_WORDS = {
    "piano": "piano",
    "keys": "piano",
    "strings": "strings",
    "orchestral": "strings",
    "violin": "strings",
    "cello": "strings",
    "synth": "saw",
    "electronic": "saw",
    "edm": "saw",
    "techno": "saw",
    "house": "saw",
    "guitar": "pluck",
    "acoustic": "pluck",
    "harp": "pluck",
    "bell": "bell",
    "bells": "bell",
    "music box": "bell",
    "pad": "pad",
    "ambient": "pad",
    "brass": "brass",
    "horns": "brass",
    "epic": "brass",
    "organ": "organ",
}
DRUM_WORDS = {
    "techno": "four",
    "house": "four",
    "edm": "four",
    "dance": "four",
    "disco": "four",
    "electronic": "four",
    "rock": "backbeat",
    "pop": "backbeat",
    "upbeat": "backbeat",
    "energetic": "backbeat",
    "funk": "backbeat",
    "funky": "backbeat",
    "driving": "backbeat",
    "hip hop": "halftime",
    "hiphop": "halftime",
    "lofi": "halftime",
    "lo-fi": "halftime",
    "trap": "halftime",
    "jazz": "shuffle",
    "swing": "shuffle",
    "drums": "backbeat",
    "percussion": "backbeat",
    "beat": "backbeat",
    "epic": "toms",
    "cinematic": "toms",
}
CALM_WORDS = ("ambient", "calm", "no drums", "gentle", "meditative", "piano solo")


@dataclass
class Style:
    bpm: float
    minor: bool
    root: int  # semitones above A2 (110 Hz)
    progression: tuple[int, ...]
    lead: str
    pad: str
    drums: str | None
    words: list[str] = field(default_factory=list)

    @property
    def scale(self) -> tuple[int, ...]:
        return MINOR if self.minor else MAJOR


def _has(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def style_of(prompt: str, rng: np.random.Generator) -> Style:
    text = prompt.lower()
    figure = re.search(r"(\d{2,3}(?:\.\d+)?)\s*bpm", text)
    tempo_hits = [bpm for word, bpm in TEMPO_WORDS.items() if _has(text, word)]
    if figure:
        bpm = min(max(float(figure.group(1)), 40.0), 220.0)
    elif tempo_hits:
        bpm = float(np.mean(tempo_hits))
    else:
        bpm = float(rng.integers(90, 121))
    minor_score = sum(_has(text, w) for w in MINOR_WORDS) - sum(_has(text, w) for w in MAJOR_WORDS)
    key = re.search(r"\b([a-g])(#|b|sharp|flat)?\s*(major|minor|maj|min)\b", text)
    if key:
        minor = key.group(3).startswith("min")
        shift = {"#": 1, "sharp": 1, "b": -1, "flat": -1}.get(key.group(2) or "", 0)
        root = (NOTE_NAMES[key.group(1)] + shift - 9) % 12
    else:
        minor = minor_score > 0 if minor_score else bool(rng.integers(0, 2))
        root = int(rng.integers(0, 12))
    instruments = [name for word, name in INSTRUMENT_WORDS.items() if _has(text, word)]
    lead = instruments[0] if instruments else str(rng.choice(["piano", "pluck", "bell", "saw"]))
    pad = next((i for i in instruments if i in ("strings", "pad", "organ", "brass")), "pad")
    drums = next((d for w, d in DRUM_WORDS.items() if _has(text, w)), None)
    if drums is None and bpm >= 100 and not any(_has(text, w) for w in CALM_WORDS):
        drums = "backbeat"
    if any(_has(text, w) for w in ("no drums", "without drums", "drumless")):
        drums = None
    options = PROGRESSIONS[minor]
    progression = options[int(rng.integers(0, len(options)))]
    return Style(bpm, minor, root, progression, lead, pad, drums, [w for w in TEMPO_WORDS if _has(text, w)])


def _freq(semitones_above_a2: float) -> float:
    return 110.0 * 2 ** (semitones_above_a2 / 12)


def _voice(timbre: str, freq: float, length: int, rng_phase: float) -> np.ndarray:
    t = np.arange(length) / RATE
    partials: list[tuple[float, float, float]]
    if timbre == "piano":
        partials = [(k, 1 / k**1.6, 1.2 + 0.9 * k) for k in range(1, 7)]
    elif timbre == "pluck":
        partials = [(k, 1 / k**1.1, 2.5 + 1.4 * k) for k in range(1, 9)]
    elif timbre == "bell":
        partials = [(1, 1.0, 1.0), (2.76, 0.5, 1.8), (5.4, 0.25, 3.0), (8.93, 0.12, 4.5)]
    elif timbre == "saw":
        partials = [(k, 1 / k, 0.6) for k in range(1, 11)]
    elif timbre == "strings":
        partials = [(k, 1 / k**1.2, 0.15) for k in range(1, 9)]
    elif timbre == "brass":
        partials = [(k, 1 / k**0.9, 0.3) for k in range(1, 8)]
    elif timbre == "organ":
        partials = [(1, 1.0, 0.05), (2, 0.6, 0.05), (3, 0.35, 0.05), (4, 0.25, 0.05), (8, 0.1, 0.05)]
    else:  # pad
        partials = [(1, 1.0, 0.1), (2, 0.35, 0.15), (3, 0.12, 0.2)]
    vibrato = 1 + (0.003 * np.sin(2 * np.pi * 5.2 * t) if timbre in ("strings", "brass") else 0)
    wave = np.zeros(length)
    for ratio, amp, decay in partials:
        if freq * ratio >= RATE / 2.2:
            continue
        wave += amp * np.exp(-decay * t) * np.sin(2 * np.pi * freq * ratio * t * vibrato + rng_phase * ratio)
    attack = {"strings": 0.25, "pad": 0.4, "brass": 0.08, "organ": 0.02}.get(timbre, 0.004)
    ramp = np.minimum(1.0, t / attack)
    release = np.minimum(1.0, (length - np.arange(length)) / (0.05 * RATE))
    return wave * ramp * release / sum(a for _, a, _ in partials)


def _add(track: np.ndarray, start: int, sound: np.ndarray, gain: float) -> None:
    end = min(len(track), start + len(sound))
    if start < end:
        track[start:end] += gain * sound[: end - start]


def _kick(length: int) -> np.ndarray:
    t = np.arange(length) / RATE
    sweep = 45 + 90 * np.exp(-t * 28)
    return np.sin(2 * np.pi * np.cumsum(sweep) / RATE) * np.exp(-t * 9)


def _snare(length: int, noise: np.ndarray) -> np.ndarray:
    t = np.arange(length) / RATE
    return 0.7 * noise[:length] * np.exp(-t * 22) + 0.4 * np.sin(2 * np.pi * 185 * t) * np.exp(-t * 30)


def _hat(length: int, noise: np.ndarray) -> np.ndarray:
    t = np.arange(length) / RATE
    bright = np.diff(noise[: length + 1])  # a first difference is a cheap high-pass
    return 0.5 * bright * np.exp(-t * 70)


def _tom(length: int) -> np.ndarray:
    t = np.arange(length) / RATE
    return np.sin(2 * np.pi * (95 + 40 * np.exp(-t * 12)) * t) * np.exp(-t * 6)


def synthesize(prompt: str, duration: float, seed: int) -> np.ndarray:
    """Stereo float samples in [-1, 1], exactly round(duration * 44100) frames long."""
    rng = np.random.default_rng(seed)
    style = style_of(prompt, rng)
    frames = max(1, int(round(duration * RATE)))
    left, right = np.zeros(frames), np.zeros(frames)
    beat = 60.0 / style.bpm
    beat_n = int(round(beat * RATE))
    bar_n = beat_n * 4
    bars = frames // bar_n + 1
    scale = style.scale
    noise = rng.uniform(-1, 1, size=RATE)
    pattern = rng.permutation([0, 1, 2, 1, 2, 0, 1, 2])  # arpeggio order over the chord tones

    def degree(step: int, octave: int = 0) -> float:
        return style.root + scale[step % 7] + 12 * (step // 7 + octave)

    for bar in range(bars):
        chord = style.progression[bar % len(style.progression)]
        start = bar * bar_n
        tones = [degree(chord + i) for i in (0, 2, 4)]
        for i, tone in enumerate(tones):  # pad: the chord, held for the bar
            sound = _voice(style.pad, _freq(tone + 12), bar_n + beat_n // 2, float(i))
            _add(left, start, sound, 0.10 * (1.2 - 0.2 * i))
            _add(right, start, sound, 0.10 * (0.8 + 0.2 * i))
        bass = _voice("pluck" if style.drums else "pad", _freq(tones[0] - 12), bar_n // 2, 0.0)
        for half in range(2):  # bass: the root on beats 1 and 3
            _add(left, start + half * 2 * beat_n, bass, 0.22)
            _add(right, start + half * 2 * beat_n, bass, 0.22)
        for step in range(8):  # lead: eighth-note arpeggio, an octave up, with seeded rests
            if rng.random() < 0.18:
                continue
            tone = tones[pattern[step] % 3] + 12 + (12 if step == 7 and rng.random() < 0.5 else 0)
            note = _voice(style.lead, _freq(tone), beat_n, 0.3)
            _add(left, start + step * beat_n // 2, note, 0.13)
            _add(right, start + step * beat_n // 2, note, 0.17)
        if style.drums:
            _drums(style.drums, start, beat_n, left, right, noise, rng)

    mix = np.stack([left, right], axis=1)
    fade_in = min(int(0.02 * RATE), frames)
    fade_out = min(int(min(2.0, duration / 4) * RATE), frames)
    mix[:fade_in] *= np.linspace(0, 1, fade_in)[:, None]
    mix[frames - fade_out :] *= np.linspace(1, 0, fade_out)[:, None]
    mix = np.tanh(1.3 * mix)  # gentle saturation glues the mix and tames peaks
    peak = float(np.max(np.abs(mix))) or 1.0
    return mix * (0.89 / peak)  # -1 dBFS


def _drums(
    kind: str, start: int, beat_n: int, left: np.ndarray, right: np.ndarray, noise: np.ndarray, rng: np.random.Generator
) -> None:
    kick, snare, hat = _kick(beat_n), _snare(beat_n, noise), _hat(beat_n // 2, noise)

    def hit(sound: np.ndarray, at: float, gain: float, pan: float = 0.0) -> None:
        position = start + int(at * beat_n)
        _add(left, position, sound, gain * (1 - pan))
        _add(right, position, sound, gain * (1 + pan))

    if kind == "four":
        for b in range(4):
            hit(kick, b, 0.5)
            hit(hat, b + 0.5, 0.16, -0.3)
        hit(snare, 1, 0.22)
        hit(snare, 3, 0.22)
    elif kind == "backbeat":
        hit(kick, 0, 0.5)
        hit(kick, 2.5 if rng.random() < 0.5 else 2, 0.45)
        hit(snare, 1, 0.3)
        hit(snare, 3, 0.3)
        for e in range(8):
            hit(hat, e / 2, 0.12, -0.3)
    elif kind == "halftime":
        hit(kick, 0, 0.5)
        hit(kick, 1.75, 0.35)
        hit(snare, 2, 0.3)
        for e in range(8):
            hit(hat, e / 2 + (0.08 if e % 2 else 0), 0.09, -0.3)
    elif kind == "shuffle":
        for b in range(4):
            hit(hat, b, 0.12, -0.3)
            hit(hat, b + 2 / 3, 0.08, -0.3)
        hit(kick, 0, 0.35)
        hit(snare, 3, 0.15)
    elif kind == "toms":
        tom = _tom(beat_n)
        hit(tom, 0, 0.45)
        hit(tom, 2.5, 0.3, 0.3)
