"""Labelled image grids (numpy + PIL): the pictures people look at, e.g. content | style | outputs."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from .images import to_uint8


def make_grid(images: list[np.ndarray], labels: list[str] | None = None, *, columns: int | None = None,
              height: int = 256, pad: int = 4, label_height: int = 18, pack: bool = False) -> np.ndarray:
    """Images ([H,W,3] float 0..1 or uint8) scaled to ``height``, laid out in a grid with labels
    underneath -> uint8 [H', W', 3] on a white background.

    Every cell is as wide as the widest image, a narrower one centred in it, so the columns line up;
    ``pack`` instead places each row's images one after the other (no gap beside a narrow one, e.g. a
    square style among 4:3 outputs), the rows left-aligned."""
    if not images:
        raise ValueError("make_grid needs at least one image")
    labels = labels or [""] * len(images)
    tiles = []
    for img in images:
        arr = img if img.dtype == np.uint8 else to_uint8(img)
        pil = Image.fromarray(arr)
        w = max(1, round(pil.width * height / pil.height))
        tiles.append(pil.resize((w, height), Image.BILINEAR))
    columns = columns or len(tiles)
    rows = [tiles[i : i + columns] for i in range(0, len(tiles), columns)]
    cell_w = max(t.width for t in tiles)
    lh = label_height if any(labels) else 0
    if pack:
        width = pad + max(sum(t.width + pad for t in row) for row in rows)
    else:
        width = pad + columns * (cell_w + pad)
    canvas = Image.new("RGB", (width, pad + len(rows) * (height + lh + pad)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        x = pad
        for c, tile in enumerate(row):
            if not pack:
                x = pad + c * (cell_w + pad) + (cell_w - tile.width) // 2
            y = pad + r * (height + lh + pad)
            canvas.paste(tile, (x, y))
            label = labels[r * columns + c]
            if label:
                draw.text((x + 2, y + height + 3), label, fill=(20, 20, 20))
            x += tile.width + pad
    return np.asarray(canvas)
