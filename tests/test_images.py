"""Image I/O: every input mode, errors, torchvision-exact resizing, atomic writes, padding."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from stylert.core import files, images
from stylert.core.images import (
    DEFAULT_MAX_PIXELS,
    check_outputs,
    collect_images,
    crop_to,
    load_image,
    load_mask,
    max_pixels_from_env,
    pad_to_multiple,
    save_image,
    to_uint8,
)
from stylert.errors import ImageError, OutputError


def _save(img: Image.Image, tmp_path, name: str, **kwargs):
    path = tmp_path / name
    img.save(path, **kwargs)
    return path


def _noise(height: int, width: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _check(array: np.ndarray, expected_pixels: list) -> None:
    """array is float32 [1, N, 3]; expected_pixels lists N RGB triples in 0..255."""
    assert array.dtype == np.float32
    assert array.shape == (1, len(expected_pixels), 3)
    assert array.min() >= 0.0 and array.max() <= 1.0
    np.testing.assert_array_equal(array[0], np.array(expected_pixels, dtype=np.float32) / np.float32(255))


# --------------------------------------------------------------------------- modes


def test_rgb_is_plain_division(tmp_path):
    pixels = _noise(7, 5)
    out = load_image(_save(Image.fromarray(pixels), tmp_path, "rgb.png"))
    np.testing.assert_array_equal(out, pixels.astype(np.float32) / np.float32(255.0))


def test_mode_l(tmp_path):
    img = Image.frombytes("L", (3, 1), bytes([0, 100, 255]))
    _check(load_image(_save(img, tmp_path, "l.png")), [[0] * 3, [100] * 3, [255] * 3])


def test_mode_la_composites_over_white(tmp_path):
    img = Image.frombytes("LA", (2, 1), bytes([100, 255, 100, 0]))
    _check(load_image(_save(img, tmp_path, "la.png")), [[100] * 3, [255] * 3])


def test_mode_1(tmp_path):
    img = Image.new("1", (2, 1))
    img.putpixel((1, 0), 1)
    _check(load_image(_save(img, tmp_path, "bw.png")), [[0] * 3, [255] * 3])


def test_mode_p(tmp_path):
    img = Image.frombytes("P", (2, 1), bytes([0, 1]))
    img.putpalette([10, 20, 30, 200, 100, 50])
    _check(load_image(_save(img, tmp_path, "p.png")), [[10, 20, 30], [200, 100, 50]])


def test_mode_p_with_transparency(tmp_path):
    img = Image.frombytes("P", (2, 1), bytes([0, 1]))
    img.putpalette([10, 20, 30, 200, 100, 50])
    path = _save(img, tmp_path, "pt.png", transparency=1)
    assert "transparency" in Image.open(path).info
    _check(load_image(path), [[10, 20, 30], [255, 255, 255]])


def test_mode_p_gif_with_transparency(tmp_path):
    img = Image.frombytes("P", (2, 1), bytes([0, 1]))
    img.putpalette([10, 20, 30, 200, 100, 50])
    _check(load_image(_save(img, tmp_path, "pt.gif", transparency=0)), [[255, 255, 255], [200, 100, 50]])


def test_mode_rgba_composites_over_white(tmp_path):
    img = Image.frombytes("RGBA", (3, 1), bytes([10, 20, 30, 255, 255, 0, 0, 0, 0, 0, 0, 128]))
    out = load_image(_save(img, tmp_path, "rgba.png"))
    assert out.shape == (1, 3, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :2] * 255, [[10, 20, 30], [255, 255, 255]])
    # half-transparent black over white: 255 * 127/255 = 127, within one 8-bit step
    np.testing.assert_allclose(out[0, 2] * 255, [127, 127, 127], atol=1)


def test_mode_cmyk(tmp_path):
    img = Image.frombytes("CMYK", (3, 1), bytes([0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255]))
    _check(load_image(_save(img, tmp_path, "cmyk.tif")), [[255, 255, 255], [0, 255, 255], [0, 0, 0]])


@pytest.mark.parametrize(("mode", "value"), [("YCbCr", (128, 128, 128)), ("LAB", (128, 128, 128))])
def test_other_8_bit_modes_convert_to_rgb(mode, value):
    rgb = images._to_rgb(Image.new(mode, (1, 1), value))  # no lossless file format for these
    assert rgb.mode == "RGB"
    assert rgb.getpixel((0, 0)) == {"YCbCr": (128, 128, 128), "LAB": (119, 119, 119)}[mode]


@pytest.mark.parametrize(
    ("dtype", "name"),
    [("<u2", "gray16.png"), (">u2", "gray16b.tif"), ("<i4", "gray32.tif")],
)
def test_16_bit_grayscale_keeps_precision(tmp_path, dtype, name):
    values = np.array([[0, 1000, 65535]], dtype=dtype)
    path = _save(Image.fromarray(values), tmp_path, name)
    assert Image.open(path).mode in ("I;16", "I;16B", "I")
    out = load_image(path)
    assert out.dtype == np.float32 and out.shape == (1, 3, 3)
    expected = np.float32(np.array([0, 1000, 65535]) / 65535.0)
    np.testing.assert_array_equal(out[0], np.repeat(expected[:, None], 3, axis=1))
    # 1000/65535 lies between two 8-bit levels: it was not rounded to 8 bits
    level = out[0, 1, 0] * 255
    assert abs(level - round(level)) > 0.1


def test_16_bit_resize_is_per_channel_float_bilinear(tmp_path):
    values = np.random.default_rng(1).integers(0, 65536, (20, 30), dtype=np.uint16)
    out = load_image(_save(Image.fromarray(values), tmp_path, "g16.png"), size=10)
    assert out.shape == (10, 15, 3)
    floats = (values.astype(np.float64) / 65535.0).astype(np.float32)
    expected = np.asarray(Image.fromarray(floats).resize((15, 10), Image.BILINEAR))
    np.testing.assert_array_equal(out[..., 0], expected)
    np.testing.assert_array_equal(out[..., 0], out[..., 2])


def test_mode_f(tmp_path):
    values = np.array([[0.0, 0.25, 1.0, 1.001]], dtype=np.float32)  # 1.001: rounding, within half an 8-bit step
    path = _save(Image.fromarray(values), tmp_path, "f.tif")
    assert Image.open(path).mode == "F"
    out = load_image(path)
    assert out.dtype == np.float32 and out.shape == (1, 4, 3)
    np.testing.assert_array_equal(out[0, :, 1], [0.0, 0.25, 1.0, 1.0])


#: EXIF orientation -> how the stored pixels [H, W, C] are shown (the EXIF 2.3 specification).
EXIF_SHOWN = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],  # mirrored left-right
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1],  # mirrored top-bottom
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # rotated 90 degrees clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),  # rotated 90 degrees counter-clockwise
}


@pytest.mark.parametrize("orientation", sorted(EXIF_SHOWN))
def test_exif_orientation_is_applied_pixel_by_pixel(tmp_path, orientation):
    pixels = _noise(20, 40)  # 40 wide, 20 high; lossless PNG so every pixel can be compared
    img = Image.fromarray(pixels)
    exif = img.getexif()
    exif[0x0112] = orientation
    path = _save(img, tmp_path, "oriented.png", exif=exif)
    want = EXIF_SHOWN[orientation](pixels).astype(np.float32) / 255.0
    np.testing.assert_array_equal(load_image(path), want)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", ["cut.png", "cut.jpg"])
def test_truncated_file(tmp_path, name):
    full = _save(Image.fromarray(_noise(64, 64)), tmp_path, "full" + name[-4:])
    data = full.read_bytes()
    path = tmp_path / name
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated or corrupt") as info:
        load_image(path)
    assert name in str(info.value)


def test_text_file(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not an image\n")
    with pytest.raises(ImageError, match="not an image file PIL can read") as info:
        load_image(path)
    assert "notes.png" in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ImageError, match="not found") as info:
        load_image(tmp_path / "nowhere.png")
    assert "nowhere.png" in str(info.value)
    with pytest.raises(ImageError, match="directory"):
        load_image(tmp_path)


def test_decompression_bomb_checked_from_header(tmp_path):
    path = _save(Image.new("RGB", (3000, 3000)), tmp_path, "big.png")
    with pytest.raises(ImageError, match="more than the limit") as info:
        load_image(path, max_pixels=1_000_000)
    assert "9,000,000" in str(info.value) and "STYLERT_MAX_PIXELS" in str(info.value)
    # the check reads the header only: a file with no pixel data fails the same way
    data = path.read_bytes()
    cut = tmp_path / "big_cut.png"
    cut.write_bytes(data[:200])
    with pytest.raises(ImageError, match="more than the limit"):
        load_image(cut, max_pixels=1_000_000)


def test_pil_bomb_check_does_not_fire_first(tmp_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    path = _save(Image.new("RGB", (300, 200)), tmp_path, "medium.png")
    assert load_image(path).shape == (200, 300, 3)
    assert Image.MAX_IMAGE_PIXELS == 100  # restored


def test_max_pixels_from_env(tmp_path, monkeypatch):
    monkeypatch.delenv("STYLERT_MAX_PIXELS", raising=False)
    assert max_pixels_from_env() == DEFAULT_MAX_PIXELS
    monkeypatch.setenv("STYLERT_MAX_PIXELS", "500")
    assert max_pixels_from_env() == 500
    with pytest.raises(ImageError, match="more than the limit"):
        load_image(_save(Image.new("RGB", (30, 30)), tmp_path, "small.png"))
    for bad in ("lots", "-3", "0"):
        monkeypatch.setenv("STYLERT_MAX_PIXELS", bad)
        with pytest.raises(ImageError, match="STYLERT_MAX_PIXELS"):
            max_pixels_from_env()


# --------------------------------------------------------------------------- resize and crop


@pytest.mark.parametrize(
    ("width", "height", "size", "expected_hw"),
    [
        (300, 200, 128, (128, 192)),
        (200, 300, 128, (192, 128)),
        (337, 200, 128, (128, 215)),  # 215.68 truncates to 215
        (64, 64, 32, (32, 32)),
    ],
)
def test_resize_matches_torchvision(tmp_path, width, height, size, expected_hw):
    pixels = _noise(height, width)
    out = load_image(_save(Image.fromarray(pixels), tmp_path, "in.png"), size=size)
    assert out.shape == (*expected_hw, 3) and out.dtype == np.float32
    resized = Image.fromarray(pixels).resize(expected_hw[::-1], Image.BILINEAR)
    np.testing.assert_array_equal(out, np.asarray(resized).astype(np.float32) / np.float32(255.0))


def test_resize_to_own_size_is_a_no_op(tmp_path):
    pixels = _noise(128, 192)
    out = load_image(_save(Image.fromarray(pixels), tmp_path, "in.png"), size=128)
    np.testing.assert_array_equal(out, pixels.astype(np.float32) / np.float32(255.0))


@pytest.mark.parametrize(
    ("width", "height", "top", "left"),
    [(300, 200, 0, 32), (337, 200, 0, 44), (200, 337, 44, 0)],  # round(43.5) == 44
)
def test_center_crop(tmp_path, width, height, top, left):
    path = _save(Image.fromarray(_noise(height, width)), tmp_path, "in.png")
    full = load_image(path, size=128)
    out = load_image(path, size=128, crop=True)
    assert out.shape == (128, 128, 3)
    np.testing.assert_array_equal(out, full[top : top + 128, left : left + 128])


def test_crop_needs_size(tmp_path):
    with pytest.raises(ImageError, match="--crop needs a size"):
        load_image(tmp_path / "any.png", crop=True)


# --------------------------------------------------------------------------- masks


def test_load_mask(tmp_path):
    grey = np.zeros((4, 4), dtype=np.uint8)
    grey[:, 2:] = 255
    grey[0, 0], grey[1, 0] = 127, 128
    mask = load_mask(_save(Image.fromarray(grey), tmp_path, "mask.png"), height=4, width=4)
    assert mask.dtype == np.float32 and mask.shape == (4, 4)
    expected = (grey >= 128).astype(np.float32)
    np.testing.assert_array_equal(mask, expected)
    resized = load_mask(tmp_path / "mask.png", height=8, width=6)
    assert resized.shape == (8, 6) and set(np.unique(resized)) == {0.0, 1.0}
    nearest = Image.fromarray(expected.astype(np.uint8)).resize((6, 8), Image.NEAREST)
    np.testing.assert_array_equal(resized, np.asarray(nearest).astype(np.float32))
    assert resized[:, 3:].min() == 1.0


def test_load_mask_single_value(tmp_path):
    path = _save(Image.new("L", (5, 5), 255), tmp_path, "white.png")
    np.testing.assert_array_equal(load_mask(path, height=3, width=7), np.ones((3, 7), np.float32))


# --------------------------------------------------------------------------- writing


def test_to_uint8_rounding():
    values = np.array(
        [0.0, 1.0, 0.5, 0.49 / 255, 0.51 / 255, 254.49 / 255, 254.51 / 255, -0.2, 1.5], dtype=np.float32
    )
    out = to_uint8(values.reshape(1, -1, 1).repeat(3, axis=2))
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 255, 128, 0, 1, 254, 255, 0, 255])
    pixels = _noise(3, 4)
    assert to_uint8(pixels) is pixels
    np.testing.assert_array_equal(to_uint8(pixels.astype(np.float32) / 255), pixels)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_to_uint8_rejects_non_finite(bad):
    values = np.zeros((2, 2, 3), np.float32)
    values[1, 1, 2] = bad
    with pytest.raises(ImageError, match="NaN or Inf"):
        to_uint8(values)


def test_save_image_round_trip_and_parents(tmp_path):
    image = np.random.default_rng(2).random((6, 9, 3)).astype(np.float32)
    path = tmp_path / "deep" / "er" / "out.png"
    save_image(image, path)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), to_uint8(image))
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.png"]


def test_save_image_jpeg_quality(tmp_path):
    image = _noise(64, 64)
    save_image(image, tmp_path / "hi.jpg", quality=95)
    save_image(image, tmp_path / "lo.JPEG", quality=20)
    assert (tmp_path / "hi.jpg").stat().st_size > (tmp_path / "lo.JPEG").stat().st_size
    assert Image.open(tmp_path / "lo.JPEG").format == "JPEG"


def test_save_image_overwrite(tmp_path):
    path = tmp_path / "out.png"
    save_image(np.zeros((2, 2, 3), np.uint8), path)
    with pytest.raises(OutputError, match="--overwrite") as info:
        save_image(np.full((2, 2, 3), 255, np.uint8), path)
    assert "out.png" in str(info.value)
    assert np.asarray(Image.open(path)).max() == 0
    save_image(np.full((2, 2, 3), 255, np.uint8), path, overwrite=True)
    assert np.asarray(Image.open(path)).min() == 255


def test_save_image_unsupported_extension(tmp_path):
    with pytest.raises(OutputError, match=r"\.png") as info:
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.gif")
    assert ".tiff" in str(info.value)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("error", "raised"),
    [(RuntimeError("encoder exploded"), RuntimeError), (OSError(28, "No space left on device"), OutputError)],
)
def test_failed_save_leaves_nothing(tmp_path, monkeypatch, error, raised):
    def broken_save(self, fp, *args, **kwargs):
        with open(fp, "wb") as handle:
            handle.write(b"partial")
        raise error

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(raised):
        save_image(np.zeros((2, 2, 3), np.uint8), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_failed_overwrite_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.png"
    save_image(np.zeros((2, 2, 3), np.uint8), path)
    before = path.read_bytes()
    def broken_save(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(RuntimeError):
        save_image(np.ones((2, 2, 3), np.uint8), path, overwrite=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_atomic_write_for_other_outputs(tmp_path):
    path = tmp_path / "report.json"
    with files.atomic_write(path) as tmp:
        assert tmp.parent == tmp_path and not path.exists()
        tmp.write_text("{}")
    assert path.read_text() == "{}"
    with pytest.raises(OutputError, match="already exists"):
        with files.atomic_write(path):
            pass


def test_check_outputs(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    assert check_outputs([a, b], overwrite=False) is None
    with pytest.raises(OutputError, match="same file") as info:
        check_outputs([a, b, tmp_path / "sub" / ".." / "a.png"], overwrite=True)
    assert "a.png" in str(info.value)

    existing = [tmp_path / f"e{i}.png" for i in range(5)]
    for p in existing:
        p.write_bytes(b"x")
    with pytest.raises(OutputError, match="5 output") as info:
        check_outputs([a, *existing], overwrite=False)
    message = str(info.value)
    assert "e0.png" in message and "and 2 more" in message and "--overwrite" in message
    check_outputs([a, *existing], overwrite=True)

    with pytest.raises(OutputError, match="would overwrite an input"):
        check_outputs([a, existing[0]], overwrite=True, inputs=[tmp_path / "." / "e0.png"])
    with pytest.raises(OutputError, match="directory"):
        check_outputs([tmp_path], overwrite=True)


def test_collect_images(tmp_path):
    for name in ["b.png", "a.JPG", "c.txt", "d.Tiff", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub.png").mkdir()
    (tmp_path / "sub.png" / "inner.png").write_bytes(b"x")
    odd = tmp_path / "c.txt"
    assert collect_images([tmp_path]) == [tmp_path / "a.JPG", tmp_path / "b.png", tmp_path / "d.Tiff"]
    assert collect_images([odd, tmp_path / "b.png"]) == [odd, tmp_path / "b.png"]
    assert collect_images(str(odd)) == [odd]

    with pytest.raises(ImageError, match="no such file") as info:
        collect_images([tmp_path / "missing.png"])
    assert "missing.png" in str(info.value)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ImageError, match="no images") as info:
        collect_images([empty])
    assert "empty" in str(info.value)


# --------------------------------------------------------------------------- padding


@pytest.mark.parametrize(
    ("height", "width", "multiple"), [(250, 333, 8), (250, 333, 16), (3, 5, 16), (1, 5, 4), (16, 32, 16)]
)
def test_pad_round_trip(height, width, multiple):
    image = np.random.default_rng(3).random((height, width, 3)).astype(np.float32)
    padded, hw = pad_to_multiple(image, multiple)
    assert hw == (height, width)
    assert padded.shape[0] % multiple == 0 and padded.shape[1] % multiple == 0
    assert padded.shape[0] - height < multiple and padded.shape[1] - width < multiple
    assert padded.dtype == image.dtype
    np.testing.assert_array_equal(crop_to(padded, hw), image)


def test_pad_is_a_reflection():
    image = np.random.default_rng(4).random((250, 333, 3))
    padded, _ = pad_to_multiple(image, 16)
    assert padded.shape == (256, 336, 3)
    np.testing.assert_array_equal(padded[250, :333], image[248])
    np.testing.assert_array_equal(padded[255, :333], image[243])
    np.testing.assert_array_equal(padded[:250, 333], image[:, 331])

    small = np.arange(15, dtype=np.float32).reshape(3, 5, 1)
    padded, _ = pad_to_multiple(small, 16)
    assert padded.shape == (16, 16, 1)
    np.testing.assert_array_equal(padded[:8, 0, 0], small[[0, 1, 2, 1, 0, 1, 2, 1], 0, 0])

    line = np.arange(5, dtype=np.float32).reshape(1, 5, 1)
    padded, _ = pad_to_multiple(line, 4)
    np.testing.assert_array_equal(padded[:, :5, 0], np.repeat(line[..., 0], 4, axis=0))


def test_replace_directory_restores_the_old_one_when_the_move_fails(tmp_path, monkeypatch):
    import os

    from stylert.core import images
    from stylert.errors import OutputError

    target, new = tmp_path / "export", tmp_path / "tmp-new"
    target.mkdir()
    (target / "manifest.json").write_text("old")
    new.mkdir()
    (new / "manifest.json").write_text("new")
    real = os.replace

    def refuse_new(src, dst):
        if os.fspath(src) == os.fspath(new):
            raise PermissionError(13, "Permission denied")
        return real(src, dst)

    monkeypatch.setattr(images.os, "replace", refuse_new)
    with pytest.raises(OutputError, match="cannot move the export into place: Permission denied"):
        files.replace_directory(new, target, "the export")
    assert (target / "manifest.json").read_text() == "old"  # the user's directory is back
    monkeypatch.setattr(images.os, "replace", real)
    files.replace_directory(new, target, "the export")
    assert (target / "manifest.json").read_text() == "new" and not new.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["export"]  # no .old- leftovers
