"""How much memory a stylization needs, how much there is, and the largest size that fits.

One estimate for both paths (the PyTorch reference and the runtime on every backend), made from
facts both know: the family's size multiple and minimum, its content taps, and whether its
transform is attention (style codes that do not blend linearly). Numbers, no torch:

- activations: ``ACTIVATION_BYTES_PER_PIXEL`` per padded content pixel, per image of a batch:
  the encoder's and decoder's full-resolution 64- and 128-channel float32 tensors, their
  reflection-padded copies and the runtime's buffers. Measured peak resident memory on the CPU:
  1.1-1.2 KB per pixel for the reference, 1.7 KB for ONNX Runtime (AdaIN, 512x512 and 1024x768);
  2 KB covers both. A style image is encoded on its own, before the content, so its activations
  count only when they are larger.
- attention (the attention families): for every attention tap, a [h*w, hs*ws] float32 matrix per
  image, held twice (the style path and the identity path) and twice again (logits and softmax):
  16 bytes per pair of content and style feature positions. At 1920x1080 for content and style
  that is 9 GB of matrices and 18 GB needed with SANet's taps relu4_1 and relu5_1.

``available_bytes`` is what this process may still allocate: the smaller of the kernel's
``MemAvailable`` and half the address space left under ``ulimit -v`` (allocators reserve more
than they touch), and ``STYLERT_MEMORY_BYTES`` where set. Where an allocation fails all the same, ``out_of_memory`` turns the
allocator's error into one line (``stylert.core.stylize.Stylizer.stylize``).
"""

from __future__ import annotations

import os
import resource
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ImageError
from .images import hw_text, padded_size, style_padded_size

#: Bytes of activations per padded content pixel and image (see the module docstring).
ACTIVATION_BYTES_PER_PIXEL = 2048
#: Bytes per pair of content and style feature positions at one attention tap: float32, two
#: matrices (style and identity paths), each as logits and softmax.
ATTENTION_BYTES_PER_PAIR = 16
#: The stride of every VGG tap (relu1_1 is at full resolution; each max-pool halves).
TAP_STRIDES = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16}
FORCE_FLAG = "--no-memory-check"
#: The share of the address space left under ``ulimit -v`` that a run may count on: allocators reserve
#: more than they touch (ONNX Runtime's arena grows in powers of two), and a limit counts reservations.
ADDRESS_SPACE_SHARE = 0.5
#: The share of the free memory the proposed size may take: what is free moves while a run starts.
PROPOSAL_SHARE = 0.9


@dataclass(frozen=True)
class Footprint:
    """What a family's memory grows with. ``attention_strides``: the strides of the taps that attend
    (empty for AdaIN); ``size_multiple``/``min_size``: how contents and styles are padded."""

    size_multiple: int
    min_size: int
    attention_strides: tuple[int, ...] = ()

    @classmethod
    def of(cls, size_multiple: int, min_size: int, content_taps, attention: bool) -> Footprint:
        """From what a StyleModel and an export's manifest both say."""
        strides = tuple(TAP_STRIDES[t] for t in content_taps if t in TAP_STRIDES) if attention else ()
        return cls(int(size_multiple), int(min_size), strides)

    def estimate(self, content_hw, style_hw=None, batch: int = 1) -> Estimate:
        """The bytes a run needs for ``batch`` contents of ``content_hw`` and a style of ``style_hw``."""
        h, w = padded_size(*content_hw, self.size_multiple, self.min_size)
        hs, ws = style_padded_size(*(style_hw or content_hw), self.size_multiple, self.min_size)
        activations = max(batch * h * w, hs * ws) * ACTIVATION_BYTES_PER_PIXEL
        attention = sum(batch * -(-h // s) * -(-w // s) * -(-hs // s) * -(-ws // s) * ATTENTION_BYTES_PER_PAIR
                        for s in self.attention_strides)
        return Estimate(int(activations), int(attention))

    def largest_fitting(self, content_hw, style_hw, budget: int, batch: int = 1):
        """The largest (content, style) sizes, scaled down keeping their aspect ratios, that fit in
        ``budget`` bytes: every short side capped at the same value (``--content-size`` and
        ``--style-size``); (that value, content, style), or None when not even 1 pixel fits."""
        style_hw = style_hw or content_hw

        def scaled(hw, short):
            h, w = hw
            f = short / min(h, w)
            return max(1, round(h * f)), max(1, round(w * f))

        def fits(short):
            c = scaled(content_hw, min(short, min(content_hw)))
            s = scaled(style_hw, min(short, min(style_hw)))
            return self.estimate(c, s, batch).total <= budget, c, s

        lo, hi = 1, max(min(content_hw), min(style_hw))
        if not fits(lo)[0]:
            return None
        while lo < hi:
            mid = (lo + hi + 1) // 2
            lo, hi = (mid, hi) if fits(mid)[0] else (lo, mid - 1)
        _, c, s = fits(lo)
        return lo, c, s


@dataclass(frozen=True)
class Estimate:
    activations: int
    attention: int

    @property
    def total(self) -> int:
        return self.activations + self.attention

    def describe(self) -> str:
        text = f"about {gb(self.total)}"
        if self.attention:
            text += f" ({gb(self.attention)} of it attention matrices)"
        return text


def gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _mapped_bytes() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def memory_override() -> int | None:
    """``STYLERT_MEMORY_BYTES`` in bytes: an integer, or a number with K, M, G or T (powers of 1024,
    an optional "i" and "B": 4G, 512MiB, 1.5GB); None when unset or empty. Anything else (abc, -5, 0)
    is an ImageError naming the variable: a budget set by mistake is never ignored silently."""
    value = os.environ.get("STYLERT_MEMORY_BYTES", "").strip()
    if not value:
        return None
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?", value, flags=re.IGNORECASE)
    amount = int(float(m.group(1)) * _UNITS[m.group(2).upper()]) if m else 0
    if amount <= 0:
        raise ImageError(f"STYLERT_MEMORY_BYTES={value!r} is not a positive number of bytes",
                         fix="set it to bytes, e.g. STYLERT_MEMORY_BYTES=4000000000 or 4G, or unset it")
    return amount


def available_bytes() -> tuple[int | None, str]:
    """(bytes this process may still allocate, where the figure comes from); None when unknown."""
    found = []
    free = _meminfo_available()
    if free is not None:
        found.append((free, "free memory"))
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        left = max(0, soft - _mapped_bytes())
        source = f"usable of {gb(left)} left under the address-space limit (ulimit -v)"
        found.append((int(left * ADDRESS_SPACE_SHARE), source))
    override = memory_override()
    if override is not None:
        found.append((override, "STYLERT_MEMORY_BYTES"))
    return min(found) if found else (None, "unknown")


def device_memory_bytes(device: str) -> int | None:
    """Total memory of the CUDA device ``cuda`` / ``cuda:N`` as torch reports it
    (``torch.cuda.get_device_properties(N).total_memory``), or None (no torch, no GPU, not CUDA)."""
    if not str(device).startswith("cuda"):
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        index = int(str(device).partition(":")[2] or torch.cuda.current_device())
        return int(torch.cuda.get_device_properties(index).total_memory)
    except (ImportError, RuntimeError, ValueError, AssertionError):
        return None


def check_fits(footprint: Footprint, content_hw, style_hw=None, *, what: str = "", path=None,
               batch: int = 1, size_option: str | None = "--content-size",
               batch_option: str = "--batch-size") -> Estimate:
    """ImageError, before any compute, when the run cannot fit in what this process may allocate:
    the size, the estimate, what is free and the fix that helps: for ``batch`` > 1 the largest
    ``batch_option`` that fits; else the largest size that fits (``size_option``; None where no option
    resizes, e.g. video frames), or the flag to force."""
    estimate = footprint.estimate(content_hw, style_hw, batch)
    budget, source = available_bytes()
    if budget is None or estimate.total <= budget:
        return estimate
    sizes = f"{hw_text(content_hw)} (HxW)" + (f" with a {hw_text(style_hw)} style" if style_hw else "")
    if batch > 1:  # fewer frames per pass is the fix before a smaller size
        fitting = [b for b in range(batch - 1, 0, -1)
                   if footprint.estimate(content_hw, style_hw, b).total <= budget * PROPOSAL_SHARE]
        if fitting:
            raise ImageError(f"{what}{sizes}, {batch} per pass, needs {estimate.describe()}, {gb(budget)} {source}",
                             path=path, fix=f"{batch_option} {fitting[0]} fits, or {FORCE_FLAG} to run anyway")
    best = footprint.largest_fitting(content_hw, style_hw, int(budget * PROPOSAL_SHARE), 1 if size_option is None
                                     else batch)
    if best is None:
        fix = "free memory, or run where there is more"
    else:
        short, c, s = best
        fix = f"the largest that fits is {hw_text(c)}" + (f" with a {hw_text(s)} style" if style_hw else "")
        if size_option is None:  # frames of a video: stylized at the video's own size
            parts = [f"--style-size {min(s)}"] if style_hw and s != tuple(style_hw) else []
            parts += [f"{batch_option} 1"] if batch > 1 else []
            parts += ["the video downscaled to it"] if c != tuple(content_hw) else []
            fix += f" ({', '.join(parts)})"
        else:
            fix += f" ({size_option} {short}" + (f" --style-size {min(s)}" if style_hw and s != tuple(style_hw)
                                                 else "") + ")"
    raise ImageError(f"{what}{sizes} needs {estimate.describe()}, {gb(budget)} {source}", path=path,
                     fix=f"{fix}, or {FORCE_FLAG} to run anyway")


#: What allocators say when they fail: numpy (MemoryError), torch's CPU and CUDA allocators, ONNX Runtime's arena.
_OOM_WORDS = ("can't allocate memory", "out of memory", "failed to allocate memory", "bad_alloc",
              "unable to allocate")


def out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocator that ran out of memory (any backend)."""
    return isinstance(err, MemoryError) or any(w in str(err).lower() for w in _OOM_WORDS)
