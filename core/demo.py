"""Procedural demo images, so the demo runs without any external picture.

- :func:`demo_content`: a landscape (sky, sun, mountains, hills, a lake with a
  reflection, pines and a small house) -- clear edges and shapes for the content loss.
- :func:`demo_style`: a swirling, Van-Gogh-like painting of thick, curved,
  semi-transparent strokes in a saturated palette -- strong colour and texture
  statistics, so a stylized result visibly changes.

Both are deterministic for a given ``seed`` and size, and use only numpy and PIL.
Sizes are ``(width, height)`` as in PIL.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .files import atomic_write

__all__ = ["demo_content", "demo_style", "write_demo_inputs"]


# --------------------------------------------------------------------------- helpers


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    width, height = (int(v) for v in size)
    if width < 16 or height < 16:
        raise ValueError(f"demo image size must be at least 16x16, got {width}x{height}")
    return width, height


def _value_noise_1d(rng: np.random.Generator, n: int, octaves: int = 5, base_cells: int = 4) -> np.ndarray:
    """Fractal 1-D value noise of length ``n``, roughly in -1..1 (cosine-interpolated lattice)."""
    x = np.linspace(0.0, 1.0, n)
    out = np.zeros(n)
    amp, total = 1.0, 0.0
    cells = base_cells
    for _ in range(octaves):
        lattice = rng.uniform(-1.0, 1.0, cells + 2)
        pos = x * cells
        i = np.floor(pos).astype(int)
        t = pos - i
        t = (1 - np.cos(t * np.pi)) / 2
        out += amp * (lattice[i] * (1 - t) + lattice[i + 1] * t)
        total += amp
        amp *= 0.5
        cells *= 2
    return out / total


def _value_noise_2d(rng: np.random.Generator, height: int, width: int, cells: int = 8, octaves: int = 4) -> np.ndarray:
    """Fractal 2-D value noise [height, width], roughly 0..1 (bilinear lattice upsampling)."""
    out = np.zeros((height, width), np.float64)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        c = cells * 2**o
        lattice = rng.uniform(0.0, 1.0, (c + 1, c + 1))
        img = Image.fromarray((lattice * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC)
        out += amp * np.asarray(img, np.float64) / 255.0
        total += amp
        amp *= 0.5
    return out / total


def _lerp(a, b, t):
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return a + (b - a) * np.asarray(t, np.float64)[..., None]


def _to_image(rgb: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(rgb, 0, 255).round().astype(np.uint8), "RGB")


# --------------------------------------------------------------------------- content


def demo_content(size: tuple[int, int] = (512, 384), seed: int = 0) -> Image.Image:
    """A synthetic landscape, RGB ``size`` = (width, height); deterministic for ``seed``."""
    width, height = _check_size(size)
    rng = np.random.default_rng(seed)
    horizon = int(height * 0.66)  # lake surface
    ys = np.arange(height)[:, None]
    xs = np.arange(width)[None, :]
    full = (height, width)

    # Sky: deep blue at the top, warm orange at the horizon.
    t = np.clip(ys / horizon, 0, 1) ** 1.5
    sky = _lerp((40, 80, 165), (252, 178, 100), np.broadcast_to(t, full))
    # Sun with a soft glow.
    sun_x, sun_y = width * rng.uniform(0.62, 0.78), horizon * 0.27
    sun_r = min(width, height) * 0.065
    dist = np.hypot(xs - sun_x, ys - sun_y)
    sky = _lerp(sky, (255, 232, 160), np.exp(-((dist / (sun_r * 3.5)) ** 2)) * 0.6)
    sky = _lerp(sky, (255, 246, 205), np.clip(sun_r + 1.0 - dist, 0, 1))
    # Clouds: horizontally stretched noise in the upper sky.
    small = _value_noise_2d(rng, max(4, height // 3), max(4, width // 2), cells=4, octaves=4)
    clouds = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((width, height), Image.BICUBIC),
                        np.float64) / 255.0
    cloud_t = np.clip((clouds - 0.52) * 4.0, 0, 1) * np.clip(1.0 - ys / (horizon * 0.75), 0, 1)
    scene = _lerp(sky, (255, 226, 214), cloud_t * 0.85)

    # Ridges, far (hazy violet, with one snowy peak) to near (dark green):
    # (top as a fraction of the horizon height, amplitude, colour).
    layers = [(0.44, 0.10, (118, 116, 165)), (0.66, 0.06, (66, 104, 118)), (0.84, 0.04, (56, 110, 58))]
    ridges = []
    for k, (base, amp, colour) in enumerate(layers):
        ridge = horizon * (base + 2 * amp * _value_noise_1d(rng, width, octaves=6, base_cells=3))
        if k == 0:
            peak_x = width * rng.uniform(0.18, 0.42)
            ridge = ridge - horizon * 0.24 * np.exp(-(((np.arange(width) - peak_x) / (width * 0.10)) ** 2))
        ridges.append(ridge)
        top = ridge[None, :]
        shade = np.clip((ys - top) / (horizon * 0.35), 0, 1)  # darker lower down
        col = _lerp(colour, np.asarray(colour) * 0.65, shade)
        tex = _value_noise_2d(rng, height, width, cells=24, octaves=2)[..., None]
        col = col * (0.85 + 0.3 * tex)
        if k == 0:
            # Snow above a jagged snow line: caps on the high peaks only.
            snowline = horizon * (0.30 + 0.03 * _value_noise_1d(rng, width, octaves=5, base_cells=12))
            snow = ys < snowline[None, :]
            col = np.where(snow[..., None], _lerp(col, (242, 242, 252), np.full(full, 0.85)), col)
        mask = (ys >= top) & (ys < horizon)
        scene = np.where(mask[..., None], col, scene)

    img = _to_image(scene)
    draw = ImageDraw.Draw(img)

    # A small house on the near hill, left of centre.
    near = ridges[-1]
    hw = max(8, int(width * 0.075))
    hx = int(width * rng.uniform(0.12, 0.3))
    hground = int(min(horizon - 2, near[hx:hx + hw].max() + height * 0.05))
    hh = int(hw * 0.7)
    draw.rectangle([hx, hground - hh, hx + hw, hground], fill=(236, 214, 170), outline=(60, 40, 30))
    draw.polygon([(hx - hw * 0.15, hground - hh), (hx + hw / 2, hground - hh - hw * 0.6), (hx + hw * 1.15, hground - hh)],
                 fill=(178, 48, 38), outline=(70, 20, 15))
    draw.rectangle([hx + hw * 0.42, hground - hh * 0.55, hx + hw * 0.62, hground], fill=(90, 55, 35))
    draw.rectangle([hx + hw * 0.1, hground - hh * 0.75, hx + hw * 0.3, hground - hh * 0.45], fill=(255, 230, 120))
    draw.rectangle([hx + hw * 0.72, hground - hh * 0.75, hx + hw * 0.9, hground - hh * 0.45], fill=(255, 230, 120))

    # Pines along the shore, away from the house.
    for _ in range(int(rng.integers(8, 13))):
        tx = float(rng.uniform(0.0, 1.0)) * width
        if hx - hw * 0.5 < tx < hx + hw * 1.6:
            continue
        tb = horizon - rng.uniform(0, height * 0.02)
        th = height * rng.uniform(0.10, 0.22)
        tw = th * 0.4
        draw.rectangle([tx - tw * 0.06, tb - th * 0.2, tx + tw * 0.06, tb], fill=(70, 45, 30))
        green = (int(rng.integers(18, 40)), int(rng.integers(62, 95)), int(rng.integers(34, 55)))
        for k in range(3):  # three stacked triangles
            bottom = tb - th * (0.15 + 0.25 * k)
            top = bottom - th * 0.42
            half = tw * (0.55 - 0.14 * k)
            draw.polygon([(tx - half, bottom), (tx, top), (tx + half, bottom)], fill=green)

    # Lake: mirror everything above the horizon, with ripples and a blue-green tint.
    arr = np.asarray(img, np.float64)
    depth = height - horizon
    rows = np.arange(depth)[:, None]
    fade = rows / max(1, depth - 1)
    src_rows = np.clip(horizon - 1 - rows, 0, horizon - 1)
    ripple = np.round(np.sin(rows * 0.8 + xs * 0.045) * (0.5 + 3.0 * fade)).astype(int)
    reflection = arr[src_rows, np.clip(xs + ripple, 0, width - 1)]
    water = _lerp(reflection * 0.85, (34, 78, 110), np.broadcast_to(0.2 + 0.45 * fade, (depth, width)))
    # Sun path: a shimmering column of light below the sun.
    wobble = _value_noise_2d(rng, depth, max(4, width // 6), cells=6, octaves=2)
    wobble = np.asarray(Image.fromarray((wobble * 255).astype(np.uint8)).resize((width, depth), Image.BICUBIC),
                        np.float64) / 255.0
    column = np.exp(-(((xs - sun_x) / (sun_r * (1.2 + 2.0 * fade))) ** 2))
    water = _lerp(water, (255, 226, 150), column * np.clip((wobble - 0.45) * 3.0, 0, 1) * 0.9)
    # Scattered glints: short horizontal streaks.
    streaks = _value_noise_2d(rng, depth, max(4, width // 10), cells=12, octaves=2)
    streaks = np.asarray(Image.fromarray((streaks * 255).astype(np.uint8)).resize((width, depth), Image.BICUBIC),
                         np.float64) / 255.0
    glint = np.clip((streaks - 0.68) * 8.0, 0, 1) * (1 - fade) * 0.45
    water = _lerp(water, (255, 244, 215), glint)
    arr[horizon:] = water
    band = max(1, height // 160)  # a darker shoreline
    arr[horizon:horizon + band] *= 0.55
    return _to_image(arr)


# --------------------------------------------------------------------------- style


# Starry-night-like palette: cobalt, ultramarine, teal, cadmium yellow, orange, white, deep navy.
_PALETTE = np.array([
    (16, 42, 122), (28, 78, 180), (55, 128, 214), (18, 140, 150), (90, 190, 200),
    (250, 210, 40), (255, 160, 20), (232, 90, 30), (245, 240, 200), (10, 20, 60),
], np.float64)


def _swirl_field(width: int, height: int, rng: np.random.Generator):
    """A flow field (function of x, y) made of a few vortices on a gentle drift."""
    n = int(rng.integers(3, 6))
    centres = np.column_stack([rng.uniform(0.1, 0.9, n) * width, rng.uniform(0.1, 0.9, n) * height])
    radii = rng.uniform(0.12, 0.3, n) * min(width, height)
    spins = rng.choice([-1.0, 1.0], n) * rng.uniform(0.8, 1.6, n)
    drift_angle = rng.uniform(0, 2 * np.pi)
    drift = 0.35 * np.array([np.cos(drift_angle), np.sin(drift_angle)])

    def field(x: float, y: float) -> np.ndarray:
        v = drift.copy()
        for (cx, cy), r, s in zip(centres, radii, spins):
            dx, dy = x - cx, y - cy
            d = np.hypot(dx, dy) + 1e-6
            w = s * np.exp(-((d / (2.2 * r)) ** 2))
            v += w * np.array([-dy, dx]) / d  # tangential: circles around the centre
            v += 0.15 * w * np.array([dx, dy]) / d  # slight outward spiral
        return v / (np.linalg.norm(v) + 1e-9)

    return field, centres, radii


def demo_style(size: tuple[int, int] = (512, 512), seed: int = 0) -> Image.Image:
    """A bold, swirling brush-stroke painting, RGB ``size`` = (width, height); deterministic for ``seed``."""
    width, height = _check_size(size)
    rng = np.random.default_rng(seed + 7919)
    field, centres, radii = _swirl_field(width, height, rng)
    ys, xs = np.mgrid[0:height, 0:width]

    # Underpainting: blue field with yellow-orange halos around the vortex centres.
    noise = _value_noise_2d(rng, height, width, cells=6, octaves=3)
    base = _lerp(_PALETTE[0], _PALETTE[2], noise)
    for (cx, cy), r in zip(centres, radii):
        halo = np.exp(-((np.hypot(xs - cx, ys - cy) / (0.9 * r)) ** 2))
        base = _lerp(base, _PALETTE[5], halo * 0.85)
    canvas = _to_image(base).convert("RGBA")

    def colour_at(x: float, y: float) -> tuple[int, int, int]:
        """Pick a palette colour: warm near vortex centres, cool elsewhere, with jitter."""
        warmth = max(float(np.exp(-((np.hypot(x - cx, y - cy) / r) ** 2))) for (cx, cy), r in zip(centres, radii))
        if rng.uniform() < warmth:
            idx = rng.choice([5, 6, 7, 8], p=[0.45, 0.25, 0.15, 0.15])
        else:
            idx = rng.choice([0, 1, 2, 3, 4, 8, 9], p=[0.18, 0.24, 0.2, 0.13, 0.12, 0.05, 0.08])
        c = _PALETTE[idx] + rng.normal(0, 12, 3)
        return tuple(int(v) for v in np.clip(c, 0, 255))

    scale = min(width, height) / 512.0
    n_strokes = int(900 * width * height / (512 * 512))
    batch = 60
    for start in range(0, n_strokes, batch):
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        for _ in range(min(batch, n_strokes - start)):
            x, y = rng.uniform(0, width), rng.uniform(0, height)
            thickness = max(2, int(rng.uniform(4, 11) * scale))
            steps = int(rng.integers(6, 16))
            step_len = rng.uniform(3.0, 6.0) * scale
            pts = [(x, y)]
            for _ in range(steps):
                vx, vy = field(x, y)
                x, y = x + vx * step_len, y + vy * step_len
                pts.append((x, y))
            r, g, b = colour_at(*pts[len(pts) // 2])
            alpha = int(rng.uniform(150, 235))
            # A darker edge under the stroke reads as a paint ridge.
            draw.line(pts, fill=(int(r * 0.55), int(g * 0.55), int(b * 0.55), alpha), width=thickness + 2, joint="curve")
            draw.line(pts, fill=(r, g, b, alpha), width=thickness, joint="curve")
            # A lighter highlight along one side.
            hl = [(px - thickness * 0.2, py - thickness * 0.2) for px, py in pts]
            draw.line(hl, fill=(min(255, r + 50), min(255, g + 50), min(255, b + 50), alpha // 2),
                      width=max(1, thickness // 3))
        canvas = Image.alpha_composite(canvas, layer)

    # A little canvas grain.
    img = canvas.convert("RGB").filter(ImageFilter.SMOOTH)
    grain = rng.normal(0, 6, (height, width, 1))
    return _to_image(np.asarray(img, np.float64) + grain)


# --------------------------------------------------------------------------- files


def write_demo_inputs(folder: str | os.PathLike, seed: int = 0) -> tuple[Path, Path]:
    """Write ``demo_content.png`` and ``demo_style.png`` into ``folder``; returns their paths.

    Each file is written atomically (``stylert.core.files.atomic_write``): a half-written PNG never appears.
    """
    folder = Path(folder)
    out = []
    for name, image in (("demo_content.png", demo_content(seed=seed)), ("demo_style.png", demo_style(seed=seed))):
        final = folder / name
        with atomic_write(final, overwrite=True) as tmp:
            image.save(tmp, format="PNG")
        out.append(final)
    return out[0], out[1]
