"""The pictures of an evaluation, drawn with PIL: the content-style trade-off chart.

The image grid (content | style | each model) is ``stylert.core.grid.make_grid``.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw

from ..core.chart import PALETTE


def _axis_max(v: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k at least ``v`` (an axis end with round ticks)."""
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    return next(m * e for m in (1, 2, 2.5, 5, 10) if m * e >= v)


def _tick(v: float, top: float) -> str:
    return f"{v:,.0f}" if top >= 50 else f"{v:.3g}"


def tradeoff_chart(series: dict[str, list[tuple[float, float, float]]], *, title: str, xlabel: str, ylabel: str,
                   size: tuple[int, int] = (760, 480), point_label: str = "a") -> Image.Image:
    """One line per model through its alpha values: series label -> [(alpha, x = style loss,
    y = content loss)], drawn in the given order and each point labelled ``a=<alpha>``
    (``point_label`` names the parameter when it is another one, e.g. ``W``).

    Both axes start at 0 (losses are >= 0), so the distances between models read true.
    """
    w, h = size
    left, right, top, bottom = 80, 180, 44, 56
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    points = [p for pts in series.values() for p in pts]
    xmax = _axis_max(max((x for _, x, _ in points), default=1.0) * 1.05)
    ymax = _axis_max(max((y for _, _, y in points), default=1.0) * 1.05)
    pw, ph = w - left - right, h - top - bottom
    d.text((left, 4), title, fill="black")
    d.line([(left, top), (left, top + ph), (left + pw, top + ph)], fill="black")
    for i in range(6):
        y = top + ph - ph * i / 5
        x = left + pw * i / 5
        d.line([(left - 4, y), (left + pw, y)], fill=(225, 225, 225) if i else "black")
        d.line([(x, top), (x, top + ph + 4)], fill=(225, 225, 225) if i else "black")
        d.text((6, y - 6), _tick(ymax * i / 5, ymax), fill="black")
        label = _tick(xmax * i / 5, xmax)
        d.text((x - 3 * len(label), top + ph + 8), label, fill="black")
    d.text((6, top - 20), ylabel, fill="black")
    d.text((left + pw // 2 - 3 * len(xlabel), top + ph + 30), xlabel, fill="black")

    def at(x: float, y: float) -> tuple[float, float]:
        return left + pw * x / xmax, top + ph - ph * y / ymax

    labelled: list[tuple[float, float]] = []
    for k, (label, pts) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        xy = [at(x, y) for _, x, y in pts]
        r = max(7 - 2 * k, 3)  # later series drawn smaller: models that coincide stay visible as rings
        if len(xy) > 1:
            d.line(xy, fill=color, width=max(4 - k, 1))
        for (alpha, _, _), (cx, cy) in zip(pts, xy):
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color, outline="white")
            if all(abs(cx - lx) + abs(cy - ly) > 24 for lx, ly in labelled):  # one label where points coincide
                d.text((cx + 8, cy - 16), f"{point_label}={alpha:g}", fill=color)
                labelled.append((cx, cy))
        ly = top + 16 * k
        d.rectangle([left + pw + 12, ly + 2, left + pw + 22, ly + 12], fill=color)
        d.text((left + pw + 28, ly), label, fill="black")
    return img
