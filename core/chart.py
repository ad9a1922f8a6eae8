"""Charts drawn with PIL (no plotting library): lines with whiskers, one series per label."""

from __future__ import annotations

from PIL import Image, ImageDraw

PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127)]


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    import math

    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def line_chart(series: dict[str, list[tuple[str, float, float | None]]], *, title: str, ylabel: str,
               size: tuple[int, int] = (720, 420)) -> Image.Image:
    """series: label -> [(x category, y, whisker top or None)]. Categories keep their first-seen order."""
    w, h = size
    left, right, top, bottom = 70, 170, 40, 50
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    cats: list[str] = []
    for points in series.values():
        for x, _, _ in points:
            if x not in cats:
                cats.append(x)
    ymax = _nice_max(max((max(y, hi or y) for pts in series.values() for _, y, hi in pts), default=1.0))
    pw, ph = w - left - right, h - top - bottom
    d.text((left, 12), title, fill="black")
    d.line([(left, top), (left, top + ph), (left + pw, top + ph)], fill="black")
    for i in range(6):
        v = ymax * i / 5
        y = top + ph - ph * i / 5
        d.line([(left - 4, y), (left + pw, y)], fill=(225, 225, 225) if i else "black")
        d.text((6, y - 6), f"{v:,.0f}" if ymax >= 50 else f"{v:.3g}", fill="black")
    d.text((6, top - 28), ylabel, fill="black")

    def px(i):
        return left + pw * (i + 0.5) / max(len(cats), 1)

    for i, c in enumerate(cats):
        d.text((px(i) - 3 * len(c), top + ph + 8), c, fill="black")
    for k, (label, points) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        xy = [(px(cats.index(x)), top + ph - ph * y / ymax) for x, y, _ in points]
        if len(xy) > 1:
            d.line(xy, fill=color, width=2)
        for (x, y, hi), (cx, cy) in zip(points, xy):
            d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=color)
            if hi is not None:
                hy = top + ph - ph * hi / ymax
                d.line([(cx, cy), (cx, hy)], fill=color)
                d.line([(cx - 4, hy), (cx + 4, hy)], fill=color)
        ly = top + 16 * k
        d.rectangle([left + pw + 12, ly + 2, left + pw + 22, ly + 12], fill=color)
        d.text((left + pw + 28, ly), label, fill="black")
    return img


def save_stacked(charts: list, path) -> None:
    """Write ``charts`` (PIL images) one under another as one PNG at ``path``, atomically (replacing it)."""
    from .files import atomic_write

    img = Image.new("RGB", (max(c.width for c in charts), sum(c.height for c in charts)), "white")
    y = 0
    for c in charts:
        img.paste(c, (0, y))
        y += c.height
    with atomic_write(path, overwrite=True) as tmp:
        img.save(tmp, format="PNG", optimize=True)
