"""Image input and output for the style-transfer CLI. numpy and Pillow only: no torch.

Conventions:

- An *image* is a float32 numpy array of shape [H, W, 3], RGB, values in 0..1.
- A *mask* is a float32 numpy array of shape [H, W] with values in {0, 1} (1 = foreground).

Loading matches the public pytorch-AdaIN reference, which runs torchvision's
``Resize(size)`` -> optional ``CenterCrop(size)`` -> ``ToTensor()`` on a PIL "RGB"
image: for 8-bit inputs our arrays are bit-identical to that pipeline.

Writing is atomic: every output is written to a temporary file in the target
directory and renamed into place, so a failure never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import ImageError, OutputError
from .files import atomic_write

DEFAULT_MAX_PIXELS = 40_000_000
MAX_PIXELS_ENV = "STYLERT_MAX_PIXELS"

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")
SUPPORTED_OUTPUT_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_OUTPUT_FORMATS = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP",
    ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
}

_ALPHA_MODES = {"LA", "La", "PA", "RGBA", "RGBa"}
_HIGH_BIT_MODES = {"I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)


def max_pixels_from_env() -> int:
    """The pixel limit from ``STYLERT_MAX_PIXELS``, or DEFAULT_MAX_PIXELS when unset or empty."""
    value = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_PIXELS
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit <= 0:
        raise ImageError(
            f"{MAX_PIXELS_ENV}={value!r} is not a positive integer",
            fix=f"set {MAX_PIXELS_ENV} to a pixel count such as {DEFAULT_MAX_PIXELS} or unset it",
        )
    return limit


# --------------------------------------------------------------------------- loading

_bomb_lock = threading.Lock()
_bomb_users = 0
_bomb_saved: int | None = None


@contextlib.contextmanager
def _pil_bomb_check_disabled() -> Iterator[None]:
    """Disable PIL's own decompression-bomb check while at least one load runs.

    We apply our own limit (``max_pixels``) from the header instead; the previous
    ``Image.MAX_IMAGE_PIXELS`` is restored when the last concurrent load finishes.
    """
    global _bomb_users, _bomb_saved
    with _bomb_lock:
        if _bomb_users == 0:
            _bomb_saved = Image.MAX_IMAGE_PIXELS
            Image.MAX_IMAGE_PIXELS = None
        _bomb_users += 1
    try:
        yield
    finally:
        with _bomb_lock:
            _bomb_users -= 1
            if _bomb_users == 0:
                Image.MAX_IMAGE_PIXELS = _bomb_saved


def _limit_fix(option: str | None) -> str:
    """How to raise the pixel limit: the command's own option where it has one, else the variable."""
    return f"raise the limit with {option} N or {MAX_PIXELS_ENV}=N" if option else f"raise the limit with {MAX_PIXELS_ENV}=N"


def _read(path: str | os.PathLike, max_pixels: int | None, limit_option: str | None = None,
          allow_frames: bool = False) -> Image.Image | np.ndarray:
    """Open, size-check, decode and EXIF-orient an image file, then bring it to RGB.

    An animated image (GIF, WebP, APNG with several frames) is an ImageError: one still of it is not
    what was asked for. Returns a PIL "RGB" uint8 image for 8-bit inputs (alpha composited over white),
    or a float32 [H, W, 1] array in 0..1 for high-bit-depth grayscale ("I;16*", "I", "F").
    """
    path = Path(path)
    limit = max_pixels_from_env() if max_pixels is None else max_pixels
    if limit <= 0:
        raise ImageError(f"max_pixels must be positive, got {limit}", fix="--max-pixels N with N > 0")
    if path.is_dir():
        raise ImageError("is a directory, not an image file", path=path, fix="pass an image file")
    if not path.exists():
        raise ImageError("file not found", path=path, fix="check the path")
    with _pil_bomb_check_disabled():
        try:
            img_cm = Image.open(path)
        except UnidentifiedImageError:
            raise ImageError(
                "not an image file PIL can read", path=path,
                fix=f"use an image file ({' '.join(IMAGE_EXTENSIONS)})",
            ) from None
        except OSError as err:
            raise _open_error(err, path) from err
        with img_cm as img:
            width, height = img.size
            if width * height > limit:
                raise ImageError(
                    f"image is {width}x{height} = {width * height:,} pixels, "
                    f"more than the limit of {limit:,}",
                    path=path,
                    fix=f"{_limit_fix(limit_option)}, or downscale the image",
                )
            frames = getattr(img, "n_frames", 1)
            if frames > 1 and not allow_frames:
                raise ImageError(
                    f"is animated ({frames} frames): stylert stylizes still images, and would keep only the first",
                    path=path, fix=f"stylize it as a video (e.g. ffmpeg -i {path.name} {path.stem}.mp4), or save "
                    "the frame you want as a still image")
            try:
                img.load()
                img = ImageOps.exif_transpose(img)
            except _DECODE_ERRORS as err:
                raise ImageError(
                    f"truncated or corrupt image data ({err})", path=path,
                    fix="re-export or re-download the file",
                ) from err
            return _to_rgb(img, path)


def _open_error(err: OSError, path: Path) -> ImageError:
    """Why a file could not be opened, by its cause: a system error (errno: permissions, a missing
    mount, an I/O error) or the decoder's (no errno: a truncated or corrupt header)."""
    import errno

    if err.errno is None:
        return ImageError(f"truncated or corrupt image data ({err})", path=path, fix="re-export or re-download the file")
    if err.errno in (errno.EACCES, errno.EPERM):
        return ImageError(f"cannot open: {err.strerror}", path=path, fix="check the file's permissions")
    return ImageError(f"cannot read: {err.strerror or err}", path=path, fix="check the file and the disk it is on")


#: How far a float image may stray outside its range and still be read as it: half an 8-bit step
#: (rounding in whatever wrote it); the stray values are clipped, which no 8-bit output can show.
FLOAT_SLACK = 0.5 / 255.0
#: The value ranges of "I" and "F" images beyond 0..1, the smallest first: 0..255 (what Pillow's own
#: ``convert("I")`` and ``convert("F")`` of an 8-bit image hold) and 0..65535 (of a 16-bit image).
_VALUE_RANGES = (255.0, 65535.0)


def _grey_values(img: Image.Image, path=None) -> np.ndarray:
    """A high-bit-depth or float grayscale image ("I;16*", "I", "F") -> float64 [H, W] in 0..1, by its
    real value range: "I;16*" is 0..65535; "F" up to 1 is 0..1; "I" and "F" above that are 0..255 when
    no value is above 255, else 0..65535. NaN, Inf, negative values, values above 65535, and floats
    whose largest value is between 1 and 2 (a 0..1 image that overshoots or a near-black 0..255 one:
    no way to tell) are an ImageError naming the range found; nothing is clipped to a flat image."""
    values = np.asarray(img).astype(np.float64)
    mode = img.mode
    if mode.startswith("I;16"):
        return values / 65535.0
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise ImageError(f"{mode} (float) image with {bad} NaN or Inf pixel(s) of {values.size}", path=path,
                         fix="replace them, or save the image as 8- or 16-bit")
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    slack = FLOAT_SLACK if mode == "F" else 0.0
    if lo >= -slack:
        if mode == "F" and hi <= 1.0 + slack:
            return np.clip(values, 0.0, 1.0)
        if mode != "F" or hi > 2.0:
            for top in _VALUE_RANGES:
                if hi <= top * (1.0 + slack):
                    return np.clip(values / top, 0.0, 1.0)
    raise ImageError(
        f"{mode} image holds values from {lo:g} to {hi:g}, not a value range stylert can map "
        "(floats 0..1, or 0..255 or 0..65535)", path=path,
        fix="scale the values to 0..1 or 0..255, or save the image as 8- or 16-bit",
    )


def _to_rgb(img: Image.Image, path=None) -> Image.Image | np.ndarray:
    """See ``_read``: 8-bit modes -> PIL "RGB" uint8; high-bit grayscale -> float32 [H, W, 1].

    Every mode Pillow opens is mapped by its real value range: 1, L, P, RGB, RGBX, CMYK, YCbCr, LAB
    and HSV by Pillow's own conversion; LA, La, PA, RGBA, RGBa and transparency composited over
    white; I;16*, I and F by ``_grey_values``. A mode Pillow cannot convert is an ImageError."""
    if img.mode in _HIGH_BIT_MODES:
        return _grey_values(img, path).astype(np.float32)[..., None]
    try:
        if img.mode == "La":
            img = img.convert("LA")
        if img.mode in _ALPHA_MODES or "transparency" in img.info:
            rgba = img.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            return Image.alpha_composite(white, rgba).convert("RGB")
        return img if img.mode == "RGB" else img.convert("RGB")
    except ValueError as err:
        raise ImageError(f"pixel mode {img.mode} cannot be converted to RGB ({err})", path=path,
                         fix="save the image as 8-bit RGB, grayscale or RGBA") from None


def _resized_size(width: int, height: int, size: int) -> tuple[int, int]:
    """torchvision ``_compute_resized_output_size`` for an int size: (new_w, new_h)."""
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = size, int(size * long / short)
    return (new_short, new_long) if width <= height else (new_long, new_short)


def _resize_float(values: np.ndarray, size_wh: tuple[int, int], resample: int) -> np.ndarray:
    """Resize a float32 [H, W, C] array channel by channel in PIL "F" mode."""
    channels = [
        np.asarray(Image.fromarray(values[..., c]).resize(size_wh, resample)) for c in range(values.shape[2])
    ]
    return np.stack(channels, axis=-1).astype(np.float32)


def load_image(
    path: str | os.PathLike,
    *,
    size: int = 0,
    crop: bool = False,
    max_pixels: int | None = None,
    limit_option: str | None = None,
) -> np.ndarray:
    """Load an image as float32 [H, W, 3] RGB in 0..1.

    ``size > 0`` resizes the short side to ``size`` (bilinear, torchvision's rounding);
    ``crop`` then takes the centre ``size`` x ``size`` square. ``max_pixels`` caps the
    decoded width*height (default: ``STYLERT_MAX_PIXELS`` or DEFAULT_MAX_PIXELS); ``limit_option``
    names the caller's option that sets it ("--max-pixels"), for the fix of a too-large image (None:
    the command has none, the fix names the variable only).
    Raises ImageError for unreadable, truncated or too-large files.
    """
    if size < 0:
        raise ImageError(f"size must be >= 0, got {size}", fix="pass a positive size, or 0 to keep the size")
    if crop and size == 0:
        raise ImageError("a center crop was requested without a size", fix="--crop needs a size")
    img = _read(path, max_pixels, limit_option)
    if isinstance(img, Image.Image):
        width, height = img.size
    else:
        height, width = img.shape[:2]
    if size:
        new_size = _resized_size(width, height, size)
        limit = max_pixels_from_env() if max_pixels is None else max_pixels
        if new_size[0] * new_size[1] > limit:
            raise ImageError(
                f"image is {width}x{height}; resized to a short side of {size} it would be "
                f"{new_size[0]}x{new_size[1]} = {new_size[0] * new_size[1]:,} pixels, more than the limit of {limit:,}",
                path=path,
                fix=f"a smaller size to resize to, or {_limit_fix(limit_option)}",
            )
        if new_size != (width, height):
            if isinstance(img, Image.Image):
                img = img.resize(new_size, Image.BILINEAR)
            else:
                img = _resize_float(img, new_size, Image.BILINEAR)
    if isinstance(img, Image.Image):
        array = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    else:
        array = np.repeat(img, 3, axis=2)
    if crop:
        height, width = array.shape[:2]
        top = int(round((height - size) / 2.0))
        left = int(round((width - size) / 2.0))
        array = array[top : top + size, left : left + size]
    return np.ascontiguousarray(array, dtype=np.float32)


def load_mask(
    path: str | os.PathLike, *, height: int, width: int, max_pixels: int | None = None,
    limit_option: str | None = None,
) -> np.ndarray:
    """Load a mask as float32 [height, width] in {0, 1}: white (grey >= 0.5) is 1 = foreground.

    Read like ``load_image`` (same errors; transparency counts as white), converted to
    grey with ITU-R 601 weights, thresholded, then resized with nearest neighbour.
    """
    img = _read(path, max_pixels, limit_option)
    if isinstance(img, Image.Image):
        grey = np.asarray(img.convert("L"), dtype=np.float32) / np.float32(255.0)
    else:
        grey = img[..., 0]
    binary = Image.fromarray(np.where(grey >= 0.5, 255, 0).astype(np.uint8))
    if binary.size != (width, height):
        binary = binary.resize((width, height), Image.NEAREST)
    return (np.asarray(binary) > 127).astype(np.float32)


# --------------------------------------------------------------------------- writing


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [H, W, 3] in 0..1 -> uint8, as torchvision's ``save_image``.

    ``clip(x * 255 + 0.5, 0, 255)`` computed in float32, then truncated. uint8 input is
    returned unchanged. NaN or Inf anywhere raises ImageError.
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image
    values = image.astype(np.float32)
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise ImageError(f"output contains NaN or Inf values ({bad} of {values.size})")
    return np.clip(values * np.float32(255.0) + np.float32(0.5), 0, 255).astype(np.uint8)


def save_image(
    image: np.ndarray, path: str | os.PathLike, *, overwrite: bool = False, quality: int = 95
) -> None:
    """Write float [H, W, 3] in 0..1 (or uint8 [H, W, 3]) to ``path`` atomically.

    The format follows the extension (SUPPORTED_OUTPUT_EXTENSIONS); ``quality`` applies
    to JPEG and WebP.
    """
    path = Path(path)
    fmt = _OUTPUT_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(
            f"unsupported output extension {path.suffix or '(none)'!r}", path=path,
            fix=f"use one of {' '.join(SUPPORTED_OUTPUT_EXTENSIONS)}",
        )
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"save_image expects an [H, W, 3] array, got shape {image.shape}")
    pixels = to_uint8(image)
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_write(path, overwrite=overwrite) as tmp:
        Image.fromarray(pixels).save(tmp, format=fmt, **options)


def check_outputs(
    paths: Sequence[str | os.PathLike],
    *,
    overwrite: bool,
    inputs: Iterable[str | os.PathLike] = (),
) -> None:
    """Validate planned outputs before any work starts; raise OutputError on the first problem.

    Problems: a path that cannot be written (``stylert.core.files.check_output_path``: no
    name, under a file, in a read-only folder); two outputs resolving to the same file; an
    output that is one of the inputs (even with ``overwrite``); an output that is a directory;
    outputs that already exist without ``overwrite`` (reported together).
    """
    from .files import check_output_path

    seen: dict[Path, Path] = {}
    for p in map(Path, paths):
        check_output_path(p)
        resolved = p.resolve()
        if resolved in seen:
            raise OutputError(
                f"two outputs would be written to the same file (also planned as {seen[resolved]})",
                path=p, fix="give each output a distinct name",
            )
        seen[resolved] = p
    input_files = {Path(p).resolve() for p in inputs}
    for resolved, p in seen.items():
        if resolved in input_files or any(p.exists() and q.exists() and os.path.samefile(p, q) for q in map(Path, inputs)):
            raise OutputError("would overwrite an input", path=p, fix="choose another -o")
        if p.is_dir():
            raise OutputError("is a directory", path=p, fix="choose a file name for -o")
    existing = [p for p in seen.values() if p.exists()]
    if existing and not overwrite:
        shown = ", ".join(str(p) for p in existing[:3])
        more = f" and {len(existing) - 3} more" if len(existing) > 3 else ""
        raise OutputError(
            f"{len(existing)} output(s) already exist: {shown}{more}",
            fix="pass --overwrite or choose another -o",
        )


# --------------------------------------------------------------------------- inputs and padding


def collect_images(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> list[Path]:
    """Expand files and directories into a list of image paths.

    A file is kept as given (loading judges it). A directory contributes its
    non-hidden files with IMAGE_EXTENSIONS (case-insensitive, not recursive), sorted
    by name. Raises ImageError for a missing path or a directory without images.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            images = sorted(
                (f for f in p.iterdir()
                 if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") and f.is_file()),
                key=lambda f: f.name,
            )
            if not images:
                raise ImageError(
                    f"directory contains no images ({' '.join(IMAGE_EXTENSIONS)})", path=p,
                    fix="point at a folder of images or at image files",
                )
            found.extend(images)
        elif p.exists():
            found.append(p)
        else:
            raise ImageError("no such file or directory", path=p, fix="check the path")
    return found


def padded_size(height: int, width: int, multiple: int, min_size: int = 0) -> tuple[int, int]:
    """The size a content image of (height, width) is padded to before the encoder: each side up to
    a multiple of ``multiple`` (the deepest pooling's stride) and at least ``min_size`` (the smallest
    size whose deepest features still take a reflection pad; a multiple of ``multiple``)."""
    up = lambda v: max(-(-int(v) // multiple) * multiple, min_size)  # noqa: E731
    return up(height), up(width)


def style_padded_size(height: int, width: int, multiple: int, min_size: int) -> tuple[int, int]:
    """The size the encoder sees for a style image: unchanged from ``min_size`` up (style statistics
    and attention keys take any size); below it, each side padded to a multiple of
    max(``min_size``, ``multiple``)."""
    if min(height, width) >= min_size:
        return int(height), int(width)
    m = max(min_size, multiple)
    return -(-int(height) // m) * m, -(-int(width) // m) * m


def pad_to(image: np.ndarray, hw: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad [H, W, C] at the bottom and right to ``hw`` = (H', W') >= (H, W).

    Reflection padding (repeated when the pad exceeds the image; edge replication for a
    1-pixel dimension). Returns the padded array and the original (H, W) for ``crop_to``.
    """
    if image.ndim != 3:
        raise ValueError(f"pad_to expects an [H, W, C] array, got shape {image.shape}")
    height, width = image.shape[:2]
    for axis, (length, target) in enumerate(((height, hw[0]), (width, hw[1]))):
        pad = int(target) - length
        if pad < 0:
            raise ValueError(f"cannot pad {height}x{width} down to {hw[0]}x{hw[1]}")
        if pad:
            widths = [(0, 0)] * image.ndim
            widths[axis] = (0, pad)
            image = np.pad(image, widths, mode="reflect" if length > 1 else "edge")
    return image, (height, width)


def pad_to_multiple(image: np.ndarray, multiple: int, min_size: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Pad [H, W, C] at the bottom and right to ``padded_size`` (multiples of ``multiple``, at least
    ``min_size``). Returns the padded array and the original (H, W) for ``crop_to``."""
    if multiple <= 0:
        raise ValueError(f"multiple must be positive, got {multiple}")
    if image.ndim != 3:
        raise ValueError(f"pad_to_multiple expects an [H, W, C] array, got shape {image.shape}")
    return pad_to(image, padded_size(image.shape[0], image.shape[1], multiple, min_size))


def crop_to(image: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """Crop [H, W, C] back to its top-left ``hw`` = (H, W), undoing ``pad_to_multiple``."""
    height, width = hw
    return image[:height, :width]


# --------------------------------------------------------------------------- sizes on the command line

#: The one spelling of an image size on every command and script: height first, as trtexec's NxCxHxW.
SIZE_SPELLING = "HEIGHTxWIDTH (height first, as trtexec's NxCxHxW), e.g. 1080x1920"


def parse_hw(text: str, option: str = "--shape") -> tuple[int, int]:
    """``"1080x1920"`` (height x width) or ``"512"`` (square) -> (1080, 1920). ImageError naming
    ``option`` for anything else (zero, negative, or not two numbers)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+))?\s*", str(text))
    if not m:
        raise ImageError(f"{option} {text!r} is not {SIZE_SPELLING}", fix=f"e.g. {option} 512x512")
    h, w = int(m.group(1)), int(m.group(2) or m.group(1))
    if h <= 0 or w <= 0:
        raise ImageError(f"{option} {text!r}: height and width must be positive ({SIZE_SPELLING})",
                         fix=f"e.g. {option} 512x512")
    return h, w


def hw_text(hw) -> str:
    """(H, W) -> ``"HxW"``, the spelling ``parse_hw`` reads."""
    return f"{int(hw[0])}x{int(hw[1])}"
