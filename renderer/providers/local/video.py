"""Video clips, upscales and compositions, encoded by ffmpeg with byte-reproducible settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from renderer.media.ffmpeg import BITEXACT, H264, MP4, SWS_FLAGS, YUV420P, encode_aac, run_ffmpeg
from renderer.media.probe import probe
from renderer.media.types import kind_of
from renderer.providers.base import InputFile, JobRequest
from renderer.providers.local.sizes import even, frame_size, seed_of


def _first(inputs: list[InputFile], kind: str) -> InputFile | None:
    return next((i for i in inputs if kind_of(i.media_type) == kind), None)


def _count_inputs(args: list[str]) -> int:
    return sum(1 for a in args if a == "-i")


def make_video(request: JobRequest, out: Path) -> None:
    params = request.params
    duration = float(params.get("duration", 5))
    fps = float(params.get("fps", 24))
    frames = max(1, round(duration * fps))
    image = _first(request.inputs, "image")
    if image is not None and not any(params.get(k) for k in ("width", "height", "aspect_ratio")):
        info = probe(image.path)  # told nothing about size: keep the picture's own
        width, height = (even(info["width"]), even(info["height"])) if info.get("width") else frame_size(params, 640)
    else:
        width, height = frame_size(params, 640)
    audio = _first(request.inputs, "audio")
    still = out.with_suffix(".still.png")
    if image is not None:  # a slow push in over the picture, drifting right
        source = image.path
        zoom, pan_x = f"1+0.12*on/{frames}", f"iw/2-(iw/zoom/2)+(on/{frames})*iw*0.04"
    else:  # no picture given: paint one from the prompt and pan across it
        source = still
        _paint(request, still, width * 2, height * 2)
        zoom, pan_x = "1.18", f"(iw-iw/zoom)*on/{frames}"
    args = ["-i", str(source)]
    video_filter = (
        f"scale={width * 2}:{height * 2}:force_original_aspect_ratio=increase:flags={SWS_FLAGS},"
        f"crop={width * 2}:{height * 2},"
        f"zoompan=z='{zoom}':x='{pan_x}':y='ih/2-(ih/zoom/2)':d={frames}:s={width}x{height}:fps={fps},"
        f"{YUV420P}"
    )
    track = out.with_suffix(".audio.m4a")
    if audio is not None:
        encode_aac(["-i", str(audio.path)], [f"[0:a]apad,atrim=0:{frames / fps}[a]"], "a", track)
        args += ["-i", str(track)]
    args += ["-filter:v", video_filter, "-frames:v", str(frames), "-r", str(fps)]
    if audio is not None:
        args += ["-map", "0:v", "-map", "1:a", "-c:a", "copy"]
    try:
        run_ffmpeg([*args, *H264, *BITEXACT, *MP4, str(out)], what="make a video")
    finally:
        still.unlink(missing_ok=True)
        track.unlink(missing_ok=True)


def _paint(request: JobRequest, dest: Path, width: int, height: int) -> None:
    from PIL import Image  # Pillow: only when a picture is drawn

    from renderer.providers.local.image import render_picture  # image loads Pillow and numpy: only when needed

    prompt = request.params.get("prompt", "")
    pixels = render_picture(prompt, width, height, seed_of(request.seed, prompt))
    Image.fromarray(pixels.astype("uint8"), "RGB").save(dest, format="PNG", compress_level=1)


def make_upscale(request: JobRequest, out: Path) -> None:
    source = request.inputs[0]
    info = probe(source.path)
    params = request.params
    scale = float(params.get("scale", 0) or 0)
    width = params.get("width") or (round(info.get("width", 0) * scale / 2) * 2 if scale else None)
    height = params.get("height") or (round(info.get("height", 0) * scale / 2) * 2 if scale else None)
    target = f"scale={width or -2}:{height or -2}:flags=lanczos+accurate_rnd+full_chroma_int+bitexact"
    if kind_of(source.media_type) == "video":
        args = [
            "-i",
            str(source.path),
            "-filter:v",
            f"{target},{YUV420P}",
            "-map",
            "0:v",
            "-map",
            "0:a?",
            *H264,
            "-c:a",
            "copy",  # the source's own audio, untouched: no re-encode, so nothing depends on the CPU
            *BITEXACT,
            *MP4,
            str(out),
        ]
    else:
        args = ["-i", str(source.path), "-filter:v", target, "-frames:v", "1", *BITEXACT, str(out)]
    run_ffmpeg(args, what="upscale")


def make_compose(request: JobRequest, out: Path) -> None:
    """Clips one after another (cuts or crossfades, each trimmed), fitted to one size and frame rate, with
    title and caption overlays; each clip's own sound kept (cut and crossfaded with it; ``audio: false`` or a
    ``volume`` per clip), a voiceover, and a music bed faded in and out and ducked under both. H.264 + AAC."""
    params = request.params
    clips = [i for i in request.inputs if i.slot.startswith("clips.")]
    trims: list[dict[str, Any]] = params.get("clips") or [{} for _ in clips]
    infos = [probe(c.path) for c in clips]
    fps = float(params.get("fps") or next((i["fps"] for i in infos if i.get("fps")), 24))
    if params.get("width") or params.get("height") or params.get("aspect_ratio"):
        width, height = frame_size(params, 1280)
    else:
        width, height = next(((i["width"], i["height"]) for i in infos if i.get("width")), (1280, 720))
    transition = params.get("transition") or {}
    fade = float(transition.get("duration", 0.5)) if transition.get("type") == "crossfade" else 0.0

    args: list[str] = []
    chains: list[str] = []
    lengths: list[float] = []
    for index, (clip, info, trim) in enumerate(zip(clips, infos, trims, strict=True)):
        start = float(trim.get("from", 0))
        natural = info.get("duration") if kind_of(clip.media_type) == "video" else 3.0
        end = float(trim.get("to", natural or 3.0))
        if kind_of(clip.media_type) == "image":
            args += ["-loop", "1", "-framerate", str(fps), "-t", str(end), "-i", str(clip.path)]
        else:
            args += ["-i", str(clip.path)]
        length = round((end - start) * fps) / fps
        lengths.append(length)
        chains.append(
            f"[{index}:v]trim=start={start}:duration={length},setpts=PTS-STARTPTS,"
            f"scale={width}:{height}:force_original_aspect_ratio=decrease:flags={SWS_FLAGS},"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},{YUV420P}[v{index}]"
        )
    if fade > 0 and len(clips) > 1:
        fade = min(fade, *(length / 2 for length in lengths))
        label, offset = "v0", 0.0
        for index in range(1, len(clips)):
            offset += lengths[index - 1] - fade
            chains.append(f"[{label}][v{index}]xfade=transition=fade:duration={fade}:offset={offset:.6f}[x{index}]")
            label = f"x{index}"
        total = sum(lengths) - fade * (len(clips) - 1)
    else:
        chains.append("".join(f"[v{i}]" for i in range(len(clips))) + f"concat=n={len(clips)}:v=1:a=0[x]")
        label, total = "x", sum(lengths)

    scratch: list[Path] = []
    for number, (text, place, start, end) in enumerate(_overlays(params, total)):
        frame = out.with_suffix(f".overlay{number}.png")
        _text_frame(frame, width, height, text, place)
        scratch.append(frame)
        source = _count_inputs(args)
        args += ["-loop", "1", "-framerate", str(fps), "-t", f"{total:.6f}", "-i", str(frame)]
        edge = min(0.5, (end - start) / 4)
        chains.append(
            f"[{source}:v]scale=flags={SWS_FLAGS},format=rgba,fade=t=in:st={start:.3f}:d={edge:.3f}:alpha=1,"
            f"fade=t=out:st={end - edge:.3f}:d={edge:.3f}:alpha=1[o{number}]"
        )
        chains.append(
            f"[{label}][o{number}]overlay=eof_action=pass:enable='between(t,{start:.3f},{end:.3f})',"
            f"{YUV420P}[t{number}]"
        )
        label = f"t{number}"
    maps = ["-map", f"[{label}]"]
    track = out.with_suffix(".audio.m4a")
    mixed = _mix_audio(request, params, total, _clip_sounds(clips, infos, trims, lengths, fade), fade)
    if mixed is not None:
        encode_aac(*mixed, track)
        scratch.append(track)
        maps += ["-map", f"{_count_inputs(args)}:a", "-c:a", "copy"]
        args += ["-i", str(track)]
    frames = round(total * fps)
    try:
        run_ffmpeg(
            [
                *args,
                "-filter_complex",
                # flags for the scalers ffmpeg inserts itself (xfade works in yuv444p): -sws_flags misses them
                ";".join([f"sws_flags={SWS_FLAGS}", *chains]),
                *maps,
                "-frames:v",
                str(frames),
                "-r",
                str(fps),
                *H264,
                *BITEXACT,
                *MP4,
                str(out),
            ],
            what="compose the video",
        )
    finally:
        for frame in scratch:
            frame.unlink(missing_ok=True)


def _overlays(params: dict[str, Any], total: float) -> list[tuple[str, str, float, float]]:
    """(text, place, start, end) for the title and every caption, clamped to the video."""
    found: list[tuple[str, str, float, float]] = []
    title = params.get("title")
    if isinstance(title, str) and title:
        found.append((title, "title", 0.0, min(3.0, total)))
    elif isinstance(title, dict) and title.get("text"):
        found.append((title["text"], "title", float(title.get("from", 0)), float(title.get("to", min(3.0, total)))))
    for caption in params.get("captions") or []:
        found.append((caption["text"], "caption", float(caption["from"]), float(caption["to"])))
    return [(text, place, max(0.0, a), min(b, total)) for text, place, a, b in found if min(b, total) > max(0.0, a)]


def _text_frame(dest: Path, width: int, height: int, text: str, place: str) -> None:
    from renderer.providers.local.image import text_overlay  # image loads Pillow and numpy: only when needed

    text_overlay(width, height, text, place=place).save(dest, format="PNG")


def _clip_sounds(
    clips: list[InputFile], infos: list[dict[str, Any]], trims: list[dict[str, Any]], lengths: list[float], fade: float
) -> list[tuple[Path | None, float, float, float]]:
    """(file or None for silence, start, length, volume) of each clip's own sound, as it is cut."""
    sounds: list[tuple[Path | None, float, float, float]] = []
    for clip, info, trim, length in zip(clips, infos, trims, lengths, strict=True):
        audible = info.get("audio_codec") and trim.get("audio", True) and float(trim.get("volume", 1)) > 0
        start = float(trim.get("from", 0))
        sounds.append((clip.path if audible else None, start, length, float(trim.get("volume", 1))))
    return sounds if any(path for path, *_ in sounds) else []


def _mix_audio(
    request: JobRequest,
    params: dict[str, Any],
    total: float,
    sounds: list[tuple[Path | None, float, float, float]],
    fade: float = 0.0,
) -> tuple[list[str], list[str], str] | None:
    """The clips' own sound (cut and crossfaded with the pictures), the voiceover, and the music bed (faded
    in and out, ducked under the clips' sound and the voice): the inputs, the filter graph and its output
    label, or None when there is no audio at all."""
    args: list[str] = []
    chains: list[str] = []
    music = next((i for i in request.inputs if i.slot == "audio"), None)
    voice = next((i for i in request.inputs if i.slot == "voiceover"), None)
    # Fixed frame sizes before filters with two inputs: otherwise how frames happen to arrive changes the mix.
    fixed = "asetnsamples=n=1024:p=1"
    stereo = "aformat=sample_rates=44100:channel_layouts=stereo"
    fit = f"{stereo},apad,atrim=0:{total:.6f},{fixed}"
    talk: list[str] = []  # labels of what the bed ducks under
    if sounds:
        labels = []
        for number, (path, start, length, volume) in enumerate(sounds):
            if path is None:
                chains.append(f"anullsrc=r=44100:cl=stereo,atrim=0:{length:.6f},{fixed}[s{number}]")
            else:
                index = _count_inputs(args)
                args += ["-i", str(path)]
                chains.append(
                    f"[{index}:a]atrim=start={start}:duration={length:.6f},asetpts=PTS-STARTPTS,{stereo},"
                    f"apad,atrim=0:{length:.6f},volume={volume},{fixed}[s{number}]"
                )
            labels.append(f"s{number}")
        if fade > 0 and len(labels) > 1:
            label = labels[0]
            for number, nxt in enumerate(labels[1:], start=1):
                chains.append(f"[{label}][{nxt}]acrossfade=d={fade:.6f}:c1=tri:c2=tri,{fixed}[sx{number}]")
                label = f"sx{number}"
        else:
            chains.append("".join(f"[{n}]" for n in labels) + f"concat=n={len(labels)}:v=0:a=1,{fixed}[sx]")
            label = "sx"
        chains.append(f"[{label}]{fit}[clipsound]")
        talk.append("clipsound")
    if voice is not None:
        index = _count_inputs(args)
        args += ["-i", str(voice.path)]
        chains.append(f"[{index}:a]{fit}[voice]")
        talk.append("voice")
    if len(talk) == 2:
        chains.append(f"[clipsound][voice]amix=inputs=2:duration=first:normalize=0,{fixed}[talk]")
        talk = ["talk"]
    bed = None
    if music is not None:
        index = _count_inputs(args)
        args += ["-i", str(music.path)]
        fade_bed = min(float(params.get("fade", 1.0)), total / 2)
        volume = float(params.get("music_volume", 0.8))
        chains.append(
            f"[{index}:a]{fit},afade=t=in:d={fade_bed}:curve=tri,"
            f"afade=t=out:st={total - fade_bed:.6f}:d={fade_bed},volume={volume}[bed]"
        )
        bed = "bed"
    if not talk:
        return (args, chains, bed) if bed else None
    if bed is None:
        return args, chains, talk[0]
    chains.append(f"[{talk[0]}]asplit=2[key][over]")
    chains.append("[bed][key]sidechaincompress=threshold=0.02:ratio=12:attack=20:release=400[ducked]")
    chains.append("[ducked][over]amix=inputs=2:duration=first:normalize=0[mix]")
    return args, chains, "mix"
