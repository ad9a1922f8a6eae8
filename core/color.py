"""Colour preservation for style transfer. numpy only: float64 inside, float32 out.

All images are [H, W, 3] RGB arrays, nominally in 0..1; nothing here clamps (the
writer does).

- ``match_color``: the pytorch-AdaIN reference's ``coral``: recolour the style image
  so its channel statistics match the content's, before stylizing.
- ``luminance_only_inputs`` / ``recombine_luminance``: luminance-only transfer
  (Gatys et al., "Preserving Color in Neural Artistic Style Transfer", 2016): stylize
  grey images, then put the content's chroma back.
"""

from __future__ import annotations

import numpy as np

# NTSC YIQ; the I and Q rows sum to zero, so grey has no chroma.
_RGB_TO_YIQ = np.array(
    [
        [0.299, 0.587, 0.114],
        [0.59590059, -0.27455667, -0.32134392],
        [0.21153661, -0.52273617, 0.31119955],
    ]
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ)


def _check_rgb(name: str, image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be an [H, W, 3] array, got shape {image.shape}")
    return image.astype(np.float64)


def _flatten_mean_std(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[H, W, 3] -> (3 x N pixels, per-channel mean 3 x 1, unbiased std 3 x 1)."""
    flat = image.reshape(-1, 3).T
    return flat, flat.mean(axis=1, keepdims=True), flat.std(axis=1, ddof=1, keepdims=True)


def _mat_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric PSD matrix as U diag(sqrt(D)) V^T (reference ``_mat_sqrt``)."""
    u, d, vt = np.linalg.svd(matrix)
    return u @ np.diag(np.sqrt(d)) @ vt


def match_color(style: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Recolour ``style`` [H, W, 3] to the content's colour statistics; returns float32 [H, W, 3].

    The reference ``coral(source=style, target=content)``: normalise each style channel
    (mean, unbiased std), whiten with sqrt(norm @ norm.T + I) of the style, colour with
    the same matrix of the content, then restore the content's mean and std. A constant
    channel (std 0) is left normalised to 0 instead of dividing by zero. Not clamped.
    """
    source, source_mean, source_std = _flatten_mean_std(_check_rgb("style", style))
    target, target_mean, target_std = _flatten_mean_std(_check_rgb("content", content))
    source_norm = (source - source_mean) / np.where(source_std > 0, source_std, 1.0)
    target_norm = (target - target_mean) / np.where(target_std > 0, target_std, 1.0)
    source_cov_eye = source_norm @ source_norm.T + np.eye(3)
    target_cov_eye = target_norm @ target_norm.T + np.eye(3)
    transfer = _mat_sqrt(target_cov_eye) @ np.linalg.inv(_mat_sqrt(source_cov_eye))
    result = (transfer @ source_norm) * target_std + target_mean
    return result.T.reshape(np.shape(style)).astype(np.float32)


def rgb_to_yiq(rgb: np.ndarray) -> np.ndarray:
    """RGB [..., 3] -> NTSC YIQ [..., 3] (float32)."""
    return (np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YIQ.T).astype(np.float32)


def yiq_to_rgb(yiq: np.ndarray) -> np.ndarray:
    """NTSC YIQ [..., 3] -> RGB [..., 3] (float32), the exact inverse of ``rgb_to_yiq``."""
    return (np.asarray(yiq, dtype=np.float64) @ _YIQ_TO_RGB.T).astype(np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Y of YIQ (0.299 R + 0.587 G + 0.114 B): [H, W, 3] -> float32 [H, W]."""
    return (np.asarray(rgb, dtype=np.float64) @ _RGB_TO_YIQ[0]).astype(np.float32)


def _grey(y: np.ndarray) -> np.ndarray:
    """[H, W] -> float32 [H, W, 3] with the value in every channel."""
    return np.repeat(y[..., None], 3, axis=2).astype(np.float32)


def luminance_only_inputs(content: np.ndarray, style: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grey network inputs for luminance-only transfer: (content, style), each float32 [H, W, 3].

    Each is its luminance replicated into 3 channels; the style's luminance is first
    shifted and scaled to the content luminance's mean and (population) std. Not clamped.
    """
    content_y = _check_rgb("content", content) @ _RGB_TO_YIQ[0]
    style_y = _check_rgb("style", style) @ _RGB_TO_YIQ[0]
    style_std = style_y.std()
    scale = content_y.std() / style_std if style_std > 0 else 0.0
    style_y = (style_y - style_y.mean()) * scale + content_y.mean()
    return _grey(content_y), _grey(style_y)


def recombine_luminance(stylized: np.ndarray, content: np.ndarray) -> np.ndarray:
    """Y of ``stylized`` with I and Q of ``content`` (both [H, W, 3]) -> RGB float32 [H, W, 3].

    Not clamped. Raises ValueError when the shapes differ.
    """
    stylized, content = _check_rgb("stylized", stylized), _check_rgb("content", content)
    if stylized.shape != content.shape:
        raise ValueError(f"stylized {stylized.shape} and content {content.shape} shapes differ")
    yiq = content @ _RGB_TO_YIQ.T
    yiq[..., 0] = stylized @ _RGB_TO_YIQ[0]
    return (yiq @ _YIQ_TO_RGB.T).astype(np.float32)
