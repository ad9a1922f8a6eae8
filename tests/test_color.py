"""Colour preservation: CORAL colour matching and luminance-only transfer."""

from __future__ import annotations

import numpy as np
import pytest
from stylert.core.color import (
    luminance,
    luminance_only_inputs,
    match_color,
    recombine_luminance,
    rgb_to_yiq,
    yiq_to_rgb,
)


def _image(seed: int, height: int = 128, width: int = 128) -> np.ndarray:
    """Random [H, W, 3] float32 with correlated channels (a random colour mix), roughly in 0..1."""
    rng = np.random.default_rng(seed)
    mix = np.eye(3) * 0.6 + rng.random((3, 3)) * 0.4
    pixels = rng.random((height, width, 3)) @ mix / mix.sum(axis=0)
    return (pixels * rng.uniform(0.3, 1.0, 3) + rng.uniform(0.0, 0.3, 3)).astype(np.float32)


def _flat(image: np.ndarray) -> np.ndarray:
    return image.reshape(-1, 3).astype(np.float64)


def _sqrtm_eigh(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(matrix)
    return vectors @ np.diag(np.sqrt(values)) @ vectors.T


def _coral_reference(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Independent float64 CORAL, written from the paper's formula (eigh square roots)."""
    s, t = _flat(source).T, _flat(target).T
    s_mean, t_mean = s.mean(1, keepdims=True), t.mean(1, keepdims=True)
    s_std, t_std = s.std(1, ddof=1, keepdims=True), t.std(1, ddof=1, keepdims=True)
    s_norm, t_norm = (s - s_mean) / s_std, (t - t_mean) / t_std
    s_cov = s_norm @ s_norm.T + np.eye(3)
    t_cov = t_norm @ t_norm.T + np.eye(3)
    out = _sqrtm_eigh(t_cov) @ np.linalg.solve(_sqrtm_eigh(s_cov), s_norm) * t_std + t_mean
    return out.T.reshape(source.shape)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_match_color_takes_content_statistics(seed):
    style, content = _image(seed), _image(seed + 100)
    out = match_color(style, content)
    assert out.dtype == np.float32 and out.shape == style.shape
    o, c = _flat(out), _flat(content)
    np.testing.assert_allclose(o.mean(0), c.mean(0), atol=1e-6)
    # the "+ I" of the reference perturbs the second moments by O(1/N) (N = 16384 pixels here)
    np.testing.assert_allclose(o.std(0, ddof=1), c.std(0, ddof=1), rtol=1e-3)
    np.testing.assert_allclose(np.cov(o.T), np.cov(c.T), atol=1e-4)
    assert not np.allclose(np.cov(_flat(style).T), np.cov(c.T), atol=1e-3)  # the test is not trivial


def test_match_color_differently_sized_images():
    style, content = _image(5, 64, 96), _image(6, 80, 40)
    out = match_color(style, content)
    assert out.shape == (64, 96, 3)
    np.testing.assert_allclose(_flat(out).mean(0), _flat(content).mean(0), atol=1e-6)


@pytest.mark.parametrize(("seed", "size"), [(0, 48), (3, 32), (4, 2)])
def test_match_color_equals_independent_reference(seed, size):
    # at 2x3 pixels the "+ I" term and the unbiased std are far from negligible
    style, content = _image(seed, size, size + 3), _image(seed + 7, size + 1, size)
    np.testing.assert_allclose(match_color(style, content), _coral_reference(style, content), atol=1e-5)


def test_match_color_constant_channel_stays_finite():
    style = _image(8)
    style[..., 1] = 0.5
    out = match_color(style, _image(9))
    assert np.isfinite(out).all()


def test_yiq_round_trip():
    rgb = np.random.default_rng(10).random((17, 23, 3)).astype(np.float32)
    yiq = rgb_to_yiq(rgb)
    assert yiq.dtype == np.float32
    np.testing.assert_allclose(yiq_to_rgb(yiq), rgb, atol=1e-6)
    np.testing.assert_allclose(yiq[..., 0], luminance(rgb), atol=1e-7)
    np.testing.assert_allclose(luminance(rgb), rgb @ np.array([0.299, 0.587, 0.114]), atol=1e-6)
    grey = np.full((2, 2, 3), 0.4, np.float32)
    np.testing.assert_allclose(rgb_to_yiq(grey), np.broadcast_to([0.4, 0.0, 0.0], (2, 2, 3)), atol=1e-6)


def test_recombine_luminance():
    stylized, content = _image(11), _image(12)
    out = recombine_luminance(stylized, content)
    assert out.dtype == np.float32 and out.shape == content.shape
    np.testing.assert_allclose(luminance(out), luminance(stylized), atol=1e-6)
    np.testing.assert_allclose(rgb_to_yiq(out)[..., 1:], rgb_to_yiq(content)[..., 1:], atol=1e-6)
    with pytest.raises(ValueError, match="shapes differ"):
        recombine_luminance(stylized[:-1], content)


def test_luminance_only_inputs():
    content, style = _image(13, 64, 64), _image(14, 40, 72) * 0.5
    grey_content, grey_style = luminance_only_inputs(content, style)
    assert grey_content.shape == (64, 64, 3) and grey_style.shape == (40, 72, 3)
    assert grey_content.dtype == np.float32 and grey_style.dtype == np.float32
    for grey in (grey_content, grey_style):
        np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    content_y = luminance(content).astype(np.float64)
    np.testing.assert_allclose(grey_content[..., 0], content_y, atol=1e-6)
    style_y = grey_style[..., 0].astype(np.float64)
    np.testing.assert_allclose(style_y.mean(), content_y.mean(), atol=1e-6)
    np.testing.assert_allclose(style_y.std(), content_y.std(), rtol=1e-5)
    # an affine function of the original style luminance: perfectly correlated with it
    assert np.corrcoef(style_y.ravel(), luminance(style).ravel())[0, 1] > 0.99999
