"""Pictures composed from a prompt and a seed: the prompt's words choose a palette and a scene (sky, sun or
moon, ridges, water, stars, soft shapes); an optional caption is drawn with the font inside Pillow."""

from __future__ import annotations

import colorsys
import re
from pathlib import Path
from typing import Any

import numpy as np

from renderer.providers.base import JobRequest
from renderer.providers.local.sizes import frame_size, seed_of

# sky top, sky horizon, land, accent
PALETTES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "sunset": ((62, 40, 110), (255, 150, 70), (70, 40, 60), (255, 210, 120)),
    "golden": ((90, 110, 170), (255, 190, 100), (90, 70, 50), (255, 225, 150)),
    "dusk": ((40, 40, 90), (220, 120, 120), (40, 35, 60), (255, 200, 160)),
    "dawn": ((110, 140, 200), (255, 200, 170), (80, 90, 100), (255, 240, 200)),
    "night": ((5, 10, 30), (30, 45, 90), (10, 12, 25), (230, 235, 255)),
    "ocean": ((60, 130, 200), (170, 215, 240), (20, 70, 120), (240, 250, 255)),
    "forest": ((120, 170, 200), (200, 225, 200), (30, 80, 45), (240, 240, 200)),
    "desert": ((90, 150, 220), (250, 220, 170), (200, 150, 90), (255, 240, 200)),
    "snow": ((150, 180, 220), (235, 240, 250), (220, 228, 240), (255, 255, 255)),
    "neon": ((20, 5, 40), (200, 30, 160), (10, 10, 30), (40, 240, 255)),
    "fire": ((40, 10, 10), (255, 110, 30), (60, 20, 10), (255, 220, 90)),
    "storm": ((40, 45, 55), (110, 120, 130), (35, 40, 45), (220, 225, 235)),
}
SYNONYMS = {
    "golden hour": "golden",
    "sunrise": "dawn",
    "morning": "dawn",
    "evening": "dusk",
    "twilight": "dusk",
    "moon": "night",
    "stars": "night",
    "space": "night",
    "midnight": "night",
    "sea": "ocean",
    "waves": "ocean",
    "beach": "ocean",
    "lake": "ocean",
    "water": "ocean",
    "woods": "forest",
    "jungle": "forest",
    "trees": "forest",
    "sand": "desert",
    "dunes": "desert",
    "winter": "snow",
    "ice": "snow",
    "cyberpunk": "neon",
    "city": "neon",
    "lava": "fire",
    "volcano": "fire",
    "rain": "storm",
    "clouds": "storm",
    "fog": "storm",
}
WATER_WORDS = ("ocean", "sea", "waves", "lake", "beach", "water", "river", "harbour", "harbor", "coast")
RIDGE_WORDS = (
    "mountain",
    "mountains",
    "cliff",
    "cliffs",
    "rock",
    "rocky",
    "hills",
    "headland",
    "canyon",
    "dunes",
    "desert",
    "forest",
    "city",
    "skyline",
    "lighthouse",
    "volcano",
)
SUN_WORDS = ("sun", "sunset", "sunrise", "golden", "dawn", "dusk", "moon", "night", "lighthouse")
STAR_WORDS = ("night", "stars", "space", "galaxy", "midnight")


def _has(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(word)}(?![a-z])", text) is not None


def palette_of(prompt: str, rng: np.random.Generator) -> np.ndarray:
    text = prompt.lower()
    chosen = [name for name in PALETTES if _has(text, name)]
    chosen += [name for word, name in SYNONYMS.items() if _has(text, word) and name not in chosen]
    if not chosen:
        hue = rng.uniform(0, 1)
        base = np.array(
            [_hsv(hue, 0.5, 0.35), _hsv(hue + 0.08, 0.45, 0.9), _hsv(hue + 0.5, 0.4, 0.3), _hsv(hue + 0.15, 0.3, 1.0)]
        )
        return base
    colours = np.array([PALETTES[name] for name in chosen[:2]], dtype=np.float64)
    return colours.mean(axis=0) if len(chosen) > 1 else colours[0]


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return (r * 255, g * 255, b * 255)


def _smooth_noise(length: int, rng: np.random.Generator, octaves: int = 5) -> np.ndarray:
    """1-D fractal noise in [0, 1]: ridge lines for mountains, cliffs and skylines."""
    x = np.linspace(0, 1, length)
    total = np.zeros(length)
    for octave in range(octaves):
        points = 2 ** (octave + 2)
        knots = rng.uniform(0, 1, points + 1)
        total += np.interp(x * points, np.arange(points + 1), knots) / 2**octave
    total -= total.min()
    return total / (total.max() or 1)


def render_picture(prompt: str, width: int, height: int, seed: int) -> np.ndarray:
    """An RGB picture (height x width x 3, float 0..255) for the prompt."""
    rng = np.random.default_rng(seed)
    text = prompt.lower()
    top, horizon_colour, land, accent = palette_of(prompt, rng)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    v = ys / max(height - 1, 1)
    horizon = rng.uniform(0.52, 0.68)
    sky_t = np.clip(v / horizon, 0, 1)[..., None] ** 0.8
    image = top * (1 - sky_t) + horizon_colour * sky_t

    if any(_has(text, w) for w in STAR_WORDS):
        stars = rng.random((height, width)) > 0.9985
        image[stars & (v < horizon)] = accent
    sun_x = sun_radius = None
    if any(_has(text, w) for w in SUN_WORDS):
        cx, cy = rng.uniform(0.25, 0.75) * width, horizon * height * rng.uniform(0.55, 0.85)
        radius = min(width, height) * rng.uniform(0.06, 0.1)
        distance = np.hypot(xs - cx, ys - cy)
        glow = np.exp(-((distance / (radius * 4)) ** 2))[..., None] * 0.55
        image = image * (1 - glow) + accent * glow
        disk = np.clip((radius - distance) / 2, 0, 1)[..., None]
        image = image * (1 - disk) + accent * disk
        sun_x, sun_radius = cx, radius

    has_water = any(_has(text, w) for w in WATER_WORDS)
    abstract = not any(_has(text, w) for w in (*RIDGE_WORDS, *WATER_WORDS, *SUN_WORDS, *STAR_WORDS))
    if any(_has(text, w) for w in RIDGE_WORDS) or not (has_water or abstract):
        layers = 3 if not has_water else 2
        for layer in range(layers):
            depth = (layer + 1) / layers
            ridge = _smooth_noise(width, rng) * rng.uniform(0.12, 0.28) * height
            base = horizon * height + (depth - 1) * 0.06 * height
            line = base - ridge
            mask = np.clip(ys - line[None, :], 0, 1)[..., None]
            shade = land * (0.55 + 0.45 * depth) + horizon_colour * (1 - depth) * 0.45
            image = image * (1 - mask) + shade * mask
    if has_water:
        water = np.clip((v - horizon) * height, 0, 1)[..., None]
        water_t = np.clip((v - horizon) / (1 - horizon), 0, 1)[..., None]
        sea = horizon_colour * 0.8 * (1 - water_t) + top * 0.55 * water_t  # the sky, mirrored and darker
        ripples = np.sin(ys * 1.3 + 3 * np.sin(xs * 0.015 + rng.uniform(0, 6)) + rng.uniform(0, 6))[..., None]
        sea = sea * (1 + 0.03 * ripples)
        if sun_x is not None:
            path = np.exp(-(((xs - sun_x) / (sun_radius * (1.2 + 2 * water_t[..., 0]))) ** 2))[..., None]
            sparkle = np.clip(ripples, 0, 1) * path * (1 - 0.6 * water_t)
            sea = sea * (1 - 0.6 * sparkle) + accent * 0.6 * sparkle
        image = image * (1 - water) + sea * water
    if abstract:
        for _ in range(int(rng.integers(3, 7))):  # abstract: soft shapes in the palette
            cx, cy = rng.uniform(0, width), rng.uniform(0, height)
            radius = rng.uniform(0.1, 0.35) * min(width, height)
            colour = accent * rng.uniform(0.5, 1.0) + land * rng.uniform(0, 0.5)
            weight = np.exp(-(((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)))[..., None] * rng.uniform(0.3, 0.7)
            image = image * (1 - weight) + colour * weight

    grain = rng.normal(0, 2.2, size=(height, width, 1))
    vignette = 1 - 0.28 * (((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) * 2)[..., None]
    return np.clip(image * vignette + grain, 0, 255)


def draw_caption(image: Any, text: str) -> None:
    """Caption text along the bottom, in the font that ships inside Pillow (no system fonts)."""
    from PIL import ImageDraw, ImageFont  # Pillow: only when a picture is drawn

    width, height = image.size
    size = max(10, height // 14)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(image)
    while draw.textlength(text, font=font) > width * 0.9 and size > 8:
        size -= 1
        font = ImageFont.load_default(size=size)
    box = draw.textbbox((0, 0), text, font=font)
    x = (width - (box[2] - box[0])) / 2
    y = height - (box[3] - box[1]) - height * 0.06
    shadow = max(1, size // 16)
    draw.text((x + shadow, y + shadow), text, font=font, fill=(0, 0, 0))
    draw.text((x, y), text, font=font, fill=(255, 255, 255))


def make_image(request: JobRequest, out: Path) -> None:
    from PIL import Image  # Pillow: only when a picture is drawn

    width, height = frame_size(request.params, 1024)
    prompt = request.params.get("prompt", "")
    pixels = render_picture(prompt, width, height, seed_of(request.seed, prompt))
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    if request.params.get("caption"):
        draw_caption(image, request.params["caption"])
    save_image(image, out)


def save_image(image: Any, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        image.save(out, format="JPEG", quality=92)
    elif suffix == ".webp":
        image.save(out, format="WEBP", lossless=True)
    else:
        image.save(out, format="PNG", compress_level=6)


def text_overlay(width: int, height: int, text: str, *, place: str) -> Any:
    """A transparent frame with ``text``: a large centred title, or a caption along the bottom."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow: only when a picture is drawn

    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    size = max(10, height // (9 if place == "title" else 16))
    font = ImageFont.load_default(size=size)
    while draw.textlength(text, font=font) > width * 0.88 and size > 8:
        size -= 1
        font = ImageFont.load_default(size=size)
    box = draw.textbbox((0, 0), text, font=font)
    x = (width - (box[2] - box[0])) / 2 - box[0]
    if place == "title":
        y = (height - (box[3] - box[1])) / 2 - box[1]
    else:
        y = height * 0.9 - (box[3] - box[1]) - box[1]
        pad = size * 0.35
        draw.rounded_rectangle(
            (x + box[0] - pad, y + box[1] - pad, x + box[2] + pad, y + box[3] + pad), radius=pad, fill=(0, 0, 0, 140)
        )
    shadow = max(1, size // 14)
    draw.text((x + shadow, y + shadow), text, font=font, fill=(0, 0, 0, 200))
    draw.text((x, y), text, font=font, fill=(255, 255, 255, 255))
    return image
