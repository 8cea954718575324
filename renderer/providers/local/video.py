"""Video clips, upscales and compositions, encoded by ffmpeg with byte-reproducible settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from renderer.media.ffmpeg import AAC, BITEXACT, H264, MP4, run_ffmpeg
from renderer.media.probe import probe
from renderer.media.types import kind_of
from renderer.providers.base import InputFile, JobRequest
from renderer.providers.local.sizes import frame_size, seed_of


def _first(inputs: list[InputFile], kind: str) -> InputFile | None:
    return next((i for i in inputs if kind_of(i.media_type) == kind), None)


def make_video(request: JobRequest, out: Path) -> None:
    params = request.params
    duration = float(params.get("duration", 5))
    fps = float(params.get("fps", 24))
    frames = max(1, round(duration * fps))
    width, height = frame_size(params, 640)
    image = _first(request.inputs, "image")
    audio = _first(request.inputs, "audio")
    args: list[str] = []
    if image is not None:
        zoom = f"1+0.12*on/{frames}"
        pan = f"iw/2-(iw/zoom/2)+(on/{frames})*iw*0.04"
        args += ["-i", str(image.path)]
        video_filter = (
            f"scale={width * 2}:{height * 2}:force_original_aspect_ratio=increase,"
            f"crop={width * 2}:{height * 2},"
            f"zoompan=z='{zoom}':x='{pan}':y='ih/2-(ih/zoom/2)':d={frames}:s={width}x{height}:fps={fps},"
            "format=yuv420p"
        )
    else:
        seed = seed_of(request.seed, params.get("prompt", "")) % (2**31)
        args += ["-f", "lavfi", "-i", f"gradients=s={width}x{height}:r={fps}:seed={seed}:speed=0.03:n=4"]
        video_filter = "format=yuv420p"
    if audio is not None:
        args += ["-i", str(audio.path)]
    args += ["-filter:v", video_filter, "-frames:v", str(frames), "-r", str(fps)]
    if audio is not None:
        args += ["-map", "0:v", "-map", "1:a", "-filter:a", f"apad,atrim=0:{frames / fps}", *AAC]
    run_ffmpeg([*args, *H264, *BITEXACT, *MP4, str(out)], what="make a video")


def make_upscale(request: JobRequest, out: Path) -> None:
    source = request.inputs[0]
    info = probe(source.path)
    params = request.params
    scale = float(params.get("scale", 0) or 0)
    width = params.get("width") or (round(info.get("width", 0) * scale) if scale else None)
    height = params.get("height") or (round(info.get("height", 0) * scale) if scale else None)
    target = f"scale={width or -2}:{height or -2}:flags=lanczos"
    if kind_of(source.media_type) == "video":
        args = [
            "-i",
            str(source.path),
            "-filter:v",
            f"{target},format=yuv420p",
            "-map",
            "0:v",
            "-map",
            "0:a?",
            *H264,
            *AAC,
            *BITEXACT,
            *MP4,
            str(out),
        ]
    else:
        args = ["-i", str(source.path), "-filter:v", target, "-frames:v", "1", *BITEXACT, str(out)]
    run_ffmpeg(args, what="upscale")


def make_compose(request: JobRequest, out: Path) -> None:
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
            f"scale={width}:{height}:force_original_aspect_ratio=decrease,"
            f"pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps={fps},format=yuv420p[v{index}]"
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
    maps = ["-map", f"[{label}]"]
    music = next((i for i in request.inputs if i.slot == "audio"), None)
    if music is not None:
        index = len(clips)
        fade_len = min(float(params.get("fade", 1.0)), total / 2)
        volume = float(params.get("music_volume", 0.8))
        args += ["-i", str(music.path)]
        chains.append(
            f"[{index}:a]aformat=sample_rates=44100:channel_layouts=stereo,apad,atrim=0:{total:.6f},"
            f"afade=t=in:d={fade_len}:curve=tri,afade=t=out:st={total - fade_len:.6f}:d={fade_len},volume={volume}[a]"
        )
        maps += ["-map", "[a]", *AAC]
    frames = round(total * fps)
    run_ffmpeg(
        [
            *args,
            "-filter_complex",
            ";".join(chains),
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
