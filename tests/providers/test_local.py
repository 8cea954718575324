"""The local provider's media, checked as media: durations, sizes, streams, levels, determinism."""

from __future__ import annotations

import hashlib
import shutil
import wave
from pathlib import Path

import anyio
import numpy as np
import pytest

from renderer.media.probe import probe
from renderer.providers.base import InputFile, JobRequest, JobState, ProviderContext
from renderer.providers.local import LocalProvider
from renderer.spec.model import ProviderSettings
from tests.helpers import decode_audio, frame_at, render, write


def make(
    tmp_path: Path, kind: str, fmt: str, params: dict, inputs: list[InputFile] | None = None, seed: int = 1
) -> Path:
    provider = LocalProvider(ProviderSettings("local", "local"), ProviderContext(tmp_path, {}))
    request = JobRequest(
        asset="a",
        type=kind,
        model=None,
        seed=seed,
        params=params,
        inputs=inputs or [],
        key="sha256:" + "0" * 64,
        output_format=fmt,
    )

    async def go() -> Path:
        job = await provider.submit(request)
        assert job.state is JobState.SUCCEEDED, job.error
        dest = tmp_path / f"out-{kind}-{seed}{fmt}"
        await provider.fetch(job, dest)
        return dest

    return anyio.run(go)


def test_image_size_from_aspect_ratio_and_width(tmp_path: Path) -> None:
    out = make(tmp_path, "image", ".png", {"prompt": "sunset", "aspect_ratio": "9:16", "width": 90})
    assert probe(out) == {"media_type": "image/png", "width": 90, "height": 160}
    wide = make(tmp_path, "image", ".png", {"prompt": "sunset", "aspect_ratio": "16:9"}, seed=2)
    assert (probe(wide)["width"], probe(wide)["height"]) == (1024, 576)


def test_music_is_stereo_44k_exact_length_audible_and_unclipped(tmp_path: Path) -> None:
    out = make(tmp_path, "music", ".wav", {"prompt": "calm", "duration": 2.5})
    with wave.open(str(out)) as handle:
        assert (handle.getnchannels(), handle.getframerate(), handle.getsampwidth()) == (2, 44100, 2)
        assert handle.getnframes() == round(2.5 * 44100)
        samples = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(float) / 32768
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 0.02  # not silent
    assert np.max(np.abs(samples)) < 0.999  # not clipped


def test_music_in_other_formats(tmp_path: Path) -> None:
    for fmt, codec in ((".flac", "flac"), (".mp3", "mp3")):
        info = probe(make(tmp_path, "music", fmt, {"prompt": "x", "duration": 1.0}))
        assert info["audio_codec"] == codec and abs(info["duration"] - 1.0) < 0.06


def test_same_seed_same_bytes_other_seed_other_piece(tmp_path: Path) -> None:
    (tmp_path / "1").mkdir()
    (tmp_path / "2").mkdir()
    a = make(tmp_path / "1", "music", ".wav", {"prompt": "x", "duration": 0.5})
    b = make(tmp_path / "2", "music", ".wav", {"prompt": "x", "duration": 0.5})
    c = make(tmp_path, "music", ".wav", {"prompt": "x", "duration": 0.5}, seed=9)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


def test_video_from_an_image_has_the_asked_duration_and_size(tmp_path: Path) -> None:
    still = make(tmp_path, "image", ".png", {"prompt": "x", "width": 96, "aspect_ratio": "16:9"})
    out = make(
        tmp_path,
        "video",
        ".mp4",
        {"duration": 2, "fps": 12, "width": 64},
        [InputFile("0", still, "sha256:x", "image/png")],
    )
    info = probe(out)
    assert info["video_codec"] == "h264" and (info["width"], info["height"]) == (64, 36)
    assert abs(info["duration"] - 2) <= 1 / 12


def test_compose_crossfade_shortens_by_the_fade_and_carries_music(tmp_path: Path) -> None:
    clip = make(tmp_path, "video", ".mp4", {"duration": 2, "fps": 10, "width": 64})
    music = make(tmp_path, "music", ".wav", {"prompt": "x", "duration": 10})
    inputs = [
        InputFile("clips.0", clip, "h", "video/mp4"),
        InputFile("clips.1", clip, "h", "video/mp4"),
        InputFile("audio", music, "h", "audio/wav"),
    ]
    out = make(
        tmp_path, "compose", ".mp4", {"transition": {"type": "crossfade", "duration": 0.5}, "clips": [{}, {}]}, inputs
    )
    info = probe(out)
    assert abs(info["duration"] - 3.5) <= 0.1, info  # 2 + 2 - 0.5
    assert info["audio_codec"] == "aac" and info["video_codec"] == "h264"
    cut = make(tmp_path, "compose", ".mp4", {"clips": [{"from": 0.5, "to": 1.5}, {}]}, inputs[:2], seed=3)
    assert abs(probe(cut)["duration"] - 3.0) <= 0.1


def test_upscale_to_a_scale(tmp_path: Path) -> None:
    still = make(tmp_path, "image", ".png", {"prompt": "x", "width": 32, "aspect_ratio": "1:1"})
    out = make(tmp_path, "upscale", ".png", {"scale": 2}, [InputFile("0", still, "h", "image/png")])
    assert (probe(out)["width"], probe(out)["height"]) == (64, 64)


@pytest.mark.e2e
def test_a_render_is_byte_identical_in_two_processes_with_empty_caches(project: Path, tmp_path: Path) -> None:
    first = render(project, "--json", "--out", tmp_path / "o1", cwd=project.parent, cache=tmp_path / "c1")
    second = render(
        project,
        "--json",
        "--out",
        tmp_path / "o2",
        cwd=project.parent,
        cache=tmp_path / "c2",
        env={"PYTHONHASHSEED": "77"},
    )
    assert first.returncode == second.returncode == 0
    for name in ("still.png", "motion.mp4", "tune.wav", "cut.mp4"):
        digest_1 = hashlib.sha256((tmp_path / "o1" / name).read_bytes()).hexdigest()
        assert digest_1 == hashlib.sha256((tmp_path / "o2" / name).read_bytes()).hexdigest(), name


@pytest.mark.e2e
def test_speech_without_an_engine_fails_only_what_needs_it(tmp_path: Path) -> None:
    spec = write(
        tmp_path / "p.yaml",
        """
        version: 1
        assets:
          hello: {type: speech, text: hello there}
          pic: {type: image, prompt: harbour, width: 32}
          talk: {type: compose, clips: [pic], voiceover: hello}
    """,
    )
    no_espeak = {"PATH": "/nonexistent"}
    checked = render("validate", spec, cwd=tmp_path, cache=tmp_path / "c", env=no_espeak)
    assert checked.returncode == 0 and "warning: asset 'hello': offline speech needs espeak-ng" in checked.stderr
    assert render(spec, "--dry-run", cwd=tmp_path, cache=tmp_path / "c", env=no_espeak).returncode == 0
    assert render(spec, "pic", cwd=tmp_path, cache=tmp_path / "c", env=no_espeak).returncode == 0
    result = render(spec, "-k", cwd=tmp_path, cache=tmp_path / "c", env=no_espeak)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "asset 'hello' failed: offline speech needs espeak-ng" in result.stderr
    assert "skipped: talk" in result.stderr and (tmp_path / "out" / "pic.png").exists()


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(float)


def test_caption_is_drawn_along_the_bottom_only(tmp_path: Path) -> None:
    params = {"prompt": "forest", "width": 320, "aspect_ratio": "16:9"}
    plain = _pixels(make(tmp_path, "image", ".png", params))
    (tmp_path / "c").mkdir()
    captioned = _pixels(make(tmp_path / "c", "image", ".png", {**params, "caption": "HELLO THERE"}))
    changed = np.abs(plain - captioned).sum(axis=2) > 30
    rows = np.nonzero(changed.any(axis=1))[0]
    assert rows.size and rows.min() > plain.shape[0] * 0.6  # only in the lower part
    assert changed.sum() > 200


def test_prompt_words_choose_the_palette(tmp_path: Path) -> None:
    def luminance(prompt: str) -> float:
        folder = tmp_path / prompt.replace(" ", "_")
        folder.mkdir()
        return float(_pixels(make(folder, "image", ".png", {"prompt": prompt, "width": 160})).mean())

    assert luminance("stars at midnight") < luminance("desert dunes at noon") - 40
    night = _pixels(make(tmp_path, "image", ".png", {"prompt": "ocean", "width": 160}, seed=4))
    assert night[..., 2].mean() > night[..., 0].mean()  # the sea is blue


def test_video_without_a_picture_pans_and_muxes_given_audio(tmp_path: Path) -> None:
    tone = make(tmp_path, "music", ".wav", {"prompt": "x", "duration": 5})
    out = make(
        tmp_path,
        "video",
        ".mp4",
        {"prompt": "night sky", "duration": 1.5, "fps": 12, "width": 96},
        [InputFile("audio", tone, "h", "audio/wav")],
    )
    info = probe(out)
    assert info["audio_codec"] == "aac" and abs(info["duration"] - 1.5) <= 1 / 12 + 0.03
    first, last = frame_at(out, 0), frame_at(out, 1.4)
    assert np.abs(first - last).mean() > 1.0  # it moves
    audio = decode_audio(out)
    assert abs(len(audio) / 44100 - 1.5) < 0.05 and np.sqrt(np.mean(audio**2)) > 0.01


def test_video_upscale(tmp_path: Path) -> None:
    clip = make(tmp_path, "video", ".mp4", {"prompt": "x", "duration": 1, "fps": 8, "width": 64})
    out = make(tmp_path, "upscale", ".mp4", {"width": 128}, [InputFile("0", clip, "h", "video/mp4")])
    info = probe(out)
    assert (info["width"], info["height"]) == (128, 72) and abs(info["duration"] - 1) <= 1 / 8


def test_title_shows_in_its_window_and_then_leaves(tmp_path: Path) -> None:
    clip = make(tmp_path, "video", ".mp4", {"prompt": "sea", "duration": 3, "fps": 10, "width": 160})
    clips = [InputFile("clips.0", clip, "h", "video/mp4")]
    plain = make(tmp_path, "compose", ".mp4", {"clips": [{}]}, clips, seed=1)
    titled = make(
        tmp_path,
        "compose",
        ".mp4",
        {"clips": [{}], "title": {"text": "BIG TITLE", "from": 0.5, "to": 2}},
        clips,
        seed=2,
    )

    def covered(at: float) -> float:  # the share of pixels the title changes strongly
        return float(np.mean(np.abs(frame_at(plain, at) - frame_at(titled, at)).sum(axis=2) > 90))

    assert covered(1.2) > 0.01  # shown
    assert covered(2.6) < 0.001  # gone
    assert covered(0.1) < 0.001  # not yet


def test_music_is_ducked_under_the_voiceover(tmp_path: Path) -> None:
    import wave

    clip = make(tmp_path, "video", ".mp4", {"prompt": "x", "duration": 4, "fps": 8, "width": 64})
    music = make(tmp_path, "music", ".wav", {"prompt": "energetic rock", "duration": 4})
    voice = tmp_path / "voice.wav"  # silent for 2 s, then a loud 1 kHz "voice"
    t = np.arange(4 * 44100) / 44100
    signal = np.where(t >= 2, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    with wave.open(str(voice), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(44100)
        handle.writeframes((signal * 32767).astype("<i2").tobytes())
    base = [InputFile("clips.0", clip, "h", "video/mp4"), InputFile("audio", music, "h", "audio/wav")]
    bed = decode_audio(make(tmp_path, "compose", ".mp4", {"clips": [{}], "fade": 0.1}, base, seed=1))
    mixed = decode_audio(
        make(
            tmp_path,
            "compose",
            ".mp4",
            {"clips": [{}], "fade": 0.1},
            [*base, InputFile("voiceover", voice, "h", "audio/wav")],
            seed=2,
        )
    )

    def music_energy(audio: np.ndarray, start: float, end: float) -> float:
        part = audio[int(start * 44100) : int(end * 44100)].mean(axis=1)
        spectrum = np.abs(np.fft.rfft(part))
        freqs = np.fft.rfftfreq(len(part), 1 / 44100)
        away = np.abs(freqs - 1000) > 60  # everything but the voice
        return float(np.sum(spectrum[away] ** 2))

    assert music_energy(mixed, 0.5, 1.8) > 0.7 * music_energy(bed, 0.5, 1.8)  # no voice: music as it was
    assert music_energy(mixed, 2.5, 3.6) < 0.5 * music_energy(bed, 2.5, 3.6)  # voice: music ducked
    assert np.max(np.abs(mixed)) < 1.0


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (.ci/run installs it)")
def test_offline_speech_is_audible_and_deterministic(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = make(tmp_path / "a", "speech", ".wav", {"text": "Where the land ends, the sea begins.", "voice": "rachel"})
    second = make(tmp_path / "b", "speech", ".wav", {"text": "Where the land ends, the sea begins.", "voice": "rachel"})
    assert first.read_bytes() == second.read_bytes()
    info = probe(first)
    assert info["sample_rate"] == 44100 and info["channels"] == 2 and info["duration"] > 1.0
    audio = decode_audio(first)
    assert np.sqrt(np.mean(audio**2)) > 0.01 and np.max(np.abs(audio)) < 1.0


@pytest.mark.e2e
def test_compose_keeps_each_clips_own_sound_through_cuts_and_crossfades(tmp_path: Path) -> None:
    from tests.helpers import decode_audio

    spec = write(
        tmp_path / "p.yaml",
        """
        version: 1
        assets:
          still: {type: image, prompt: a harbour, width: 96, aspect_ratio: "16:9"}
          tune: {type: music, prompt: calm piano, duration: 3, seed: 2}
          bed: {type: music, prompt: soft strings, duration: 5, seed: 3}
          push: {type: video, prompt: boats, duration: 2, fps: 12, width: 96, inputs: [still, tune]}
          pan: {type: video, prompt: sky, duration: 2, fps: 12, width: 96}
          cut: {type: compose, clips: [push, pan], transition: {type: crossfade, duration: 0.5}}
          softer: {type: compose, clips: [{asset: push, volume: 0.25}, pan], transition: {type: crossfade, duration: 0.5}}
          ducked: {type: compose, clips: [push, pan], audio: bed}
          muted: {type: compose, clips: [{asset: push, audio: false}, pan], audio: bed}
    """,
    )
    assert render(spec, cwd=tmp_path, cache=tmp_path / "c").returncode == 0

    def loudness(name: str, start: float, end: float) -> float:
        samples = decode_audio(tmp_path / "out" / f"{name}.mp4")
        return float(np.sqrt((samples[int(start * 44100) : int(end * 44100)] ** 2).mean()))

    assert loudness("cut", 0.2, 1.2) > 0.05  # the clip's own sound is there ...
    assert loudness("cut", 2.6, 3.4) < 0.001  # ... and the silent clip after the crossfade is silent
    assert 0.15 < loudness("softer", 0.2, 1.2) / loudness("cut", 0.2, 1.2) < 0.35  # volume: 0.25
    bed_alone = loudness("muted", 0.2, 1.2)
    assert bed_alone > 0.01  # the music bed plays under a muted clip at its own level
    assert loudness("ducked", 2.2, 3.6) > 0.5 * loudness("muted", 2.2, 3.6)  # after the talk, the bed is back


@pytest.mark.e2e
def test_defaults_agree_a_video_keeps_its_pictures_size_and_an_mp3_is_as_long_as_asked(tmp_path: Path) -> None:
    from renderer.media.probe import probe
    from tests.helpers import decode_audio

    spec = write(
        tmp_path / "p.yaml",
        """
        version: 1
        assets:
          pic: {type: image, prompt: a harbour, width: 200, aspect_ratio: "4:3"}
          v: {type: video, prompt: boats, duration: 1, fps: 12, inputs: [pic]}
          told: {type: video, prompt: boats, duration: 1, fps: 12, width: 64, inputs: [pic]}
          song: {type: music, prompt: calm piano, duration: 2, output: song.mp3}
    """,
    )
    assert render(spec, cwd=tmp_path, cache=tmp_path / "c").returncode == 0
    out = tmp_path / "out"
    assert (probe(out / "v.mp4")["width"], probe(out / "v.mp4")["height"]) == (200, 150)
    assert probe(out / "told.mp4")["width"] == 64  # told otherwise: as told
    assert len(decode_audio(out / "song.mp3")) == 2 * 44100  # encoder delay and padding trimmed
