"""Procedural demo images: deterministic, sized as asked, and a style that carries real statistics."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import white_runs
from PIL import Image
from stylert.core.demo import demo_content, demo_style, write_demo_inputs


def _saturation(img: Image.Image) -> float:
    return float(np.asarray(img.convert("HSV"), np.float64)[..., 1].mean() / 255.0)


@pytest.mark.parametrize("make", [demo_content, demo_style])
def test_deterministic_for_a_seed(make):
    a = make(size=(160, 120), seed=3)
    b = make(size=(160, 120), seed=3)
    c = make(size=(160, 120), seed=4)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()


@pytest.mark.parametrize("make", [demo_content, demo_style])
@pytest.mark.parametrize("size", [(96, 64), (130, 200)])
def test_sizes_and_mode(make, size):
    img = make(size=size)
    assert img.size == size
    assert img.mode == "RGB"


def test_default_sizes():
    assert demo_content().size == (512, 384)
    assert demo_style().size == (512, 512)


def _colourfulness(img: Image.Image) -> float:
    """Hasler & Suesstrunk's colourfulness (above ~60: very colourful)."""
    a = np.asarray(img, np.float64)
    rg = a[..., 0] - a[..., 1]
    yb = 0.5 * (a[..., 0] + a[..., 1]) - a[..., 2]
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


@pytest.mark.parametrize("seed", [0, 1])
def test_style_has_strong_colour_and_texture(seed):
    style = demo_style(size=(256, 256), seed=seed)
    arr = np.asarray(style, np.float64)
    flat = Image.new("RGB", (256, 256), tuple(int(v) for v in arr.reshape(-1, 3).mean(0)))
    assert _saturation(style) > 0.45
    assert _saturation(style) > 1.5 * _saturation(flat)
    assert _colourfulness(style) > 80
    assert _colourfulness(style) > 3 * _colourfulness(flat)
    assert arr.std(axis=(0, 1)).min() > 30  # every channel varies a lot (a flat image: 0)
    # Texture: strong local gradients everywhere, not a smooth gradient.
    assert np.abs(np.diff(arr.mean(-1), axis=1)).mean() > 8


def test_content_is_a_scene_not_noise():
    arr = np.asarray(demo_content(), np.float64)
    top, bottom = arr[:40].mean((0, 1)), arr[-40:].mean((0, 1))
    assert top[2] > top[0]  # blue sky at the top
    assert arr.std() > 30
    # Mostly smooth regions: far less pixel-to-pixel change than the painted style.
    style = np.asarray(demo_style(size=(512, 384)), np.float64)
    assert np.abs(np.diff(arr.mean(-1), axis=1)).mean() < 0.5 * np.abs(np.diff(style.mean(-1), axis=1)).mean()
    assert not np.allclose(top, bottom)


def test_write_demo_inputs(tmp_path):
    content_path, style_path = write_demo_inputs(tmp_path / "inputs")
    assert content_path.name == "demo_content.png" and style_path.name == "demo_style.png"
    with Image.open(content_path) as img:
        img.load()
        assert img.format == "PNG" and img.size == (512, 384)
        assert img.tobytes() == demo_content().tobytes()
    with Image.open(style_path) as img:
        img.load()
        assert img.format == "PNG" and img.size == (512, 512)
    assert sorted(p.name for p in (tmp_path / "inputs").iterdir()) == ["demo_content.png", "demo_style.png"]


def test_packed_grid_leaves_no_gap_beside_a_narrow_image():
    """``make_grid(pack=True)``: a square image among 4:3 ones is followed directly by the next (one pad);
    the default keeps aligned cells, the narrow image centred in its cell."""
    from stylert.core.grid import make_grid

    wide = np.full((60, 80, 3), 0.3, np.float32)
    square = np.full((60, 60, 3), 0.6, np.float32)
    images, labels = [wide, square, wide, wide, wide, wide], ["a", "b", "c", "d", "e", "f"]
    packed = make_grid(images, labels, columns=3, height=60, pad=4, pack=True)
    assert packed.shape[1] == 4 + 3 * (80 + 4)  # the wider row
    assert white_runs(packed[4:64]) == [4, 4]  # row 1: wide | square | wide, one pad between
    assert (packed[4:64, 4 + 80 + 4 + 60 + 4] != 255).any()  # the third image starts right after the square
    aligned = make_grid(images, labels, columns=3, height=60, pad=4)
    assert max(white_runs(aligned[4:64])) == 4 + 10  # the square centred in an 80-wide cell
