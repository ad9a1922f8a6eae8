"""Deterministic synthetic inputs for tracing and validating the graphs (numpy only)."""

from __future__ import annotations

import numpy as np


def synthetic_images(batch: int, height: int, width: int, seed: int) -> np.ndarray:
    """[batch, 3, H, W] float32 in 0..1: gradients, stripes and blobs plus noise (deterministic)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    out = np.empty((batch, 3, height, width), np.float32)
    for n in range(batch):
        f = rng.uniform(3, 25, size=6)
        p = rng.uniform(0, 2 * np.pi, size=3)
        out[n, 0] = 0.5 + 0.5 * np.sin(xx / f[0] + p[0]) * np.cos(yy / f[1])
        out[n, 1] = (xx / max(width - 1, 1)) * 0.6 + 0.4 * (np.sin((xx + yy) / f[2] + p[1]) > 0)
        out[n, 2] = 0.5 + 0.5 * np.cos(np.hypot(xx - width * 0.4, yy - height * 0.6) / f[3] + p[2])
        out[n] += rng.normal(0.0, 0.05, size=(3, height, width)).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


def style_size(height: int, width: int, min_size: int) -> tuple[int, int]:
    """A style image size that is another aspect and no multiple of 8 (encoder taps then round up)."""
    return max(min_size + 3, height * 3 // 4 + 3), max(min_size + 5, width + width // 8 + 5)


def alpha_values(levels: int) -> np.ndarray:
    """Alpha below 1 (so that the blend is exercised), different per level."""
    return np.linspace(0.7, 0.9, levels).astype(np.float32) if levels > 1 else np.array([0.8], np.float32)
