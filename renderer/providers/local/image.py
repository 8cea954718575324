"""Pictures from a prompt and a seed: a palette and soft shapes chosen from the prompt's words."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from renderer.providers.base import JobRequest
from renderer.providers.local.sizes import frame_size, seed_of


def make_image(request: JobRequest, out: Path) -> None:
    from PIL import Image

    width, height = frame_size(request.params, 1024)
    prompt = request.params.get("prompt", "")
    rng = np.random.default_rng(seed_of(request.seed, prompt))
    top, bottom = rng.integers(0, 256, size=(2, 3))
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.broadcast_to(top * (1 - t) + bottom * t, (height, width, 3)).copy()
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    for _ in range(int(rng.integers(3, 8))):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        radius = rng.uniform(0.1, 0.4) * min(width, height)
        colour = rng.integers(0, 256, size=3)
        weight = np.exp(-(((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * radius**2)))[..., None] * rng.uniform(0.4, 0.9)
        pixels = pixels * (1 - weight) + colour * weight
    image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    _save(image, out)


def _save(image: object, out: Path) -> None:
    suffix = out.suffix.lower()
    if suffix in (".jpg", ".jpeg"):
        image.save(out, format="JPEG", quality=92)
    elif suffix == ".webp":
        image.save(out, format="WEBP", lossless=True)
    else:
        image.save(out, format="PNG", compress_level=6)
