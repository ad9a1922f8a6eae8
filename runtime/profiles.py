"""Optimization profiles: the image shapes an engine is built for, and what they mean for every graph.

A profile is given for the encoder's ``image`` input only, in trtexec's spelling
(``--min 1x3x16x16 --opt 1x3x512x512 --max 1x3x2048x2048``, ``NxCxHxW``; ``image:1x3x512x512``
is accepted too). Several profiles are several ``--min/--opt/--max`` triples (an option given
once applies to every profile). The transform's and the decoder's profiles are *derived* from
the encoder's through the export manifest's symbolic shapes (``N``, ``H``, ``H/8`` = ceil(H/8),
``Hs/8`` for style taps...), so the three engines always accept the same images:

    image [N,3,H,W] in [min, max]  ->  relu4_1 [N,512,H/8,W/8] in [ceil(min/8), ceil(max/8)] ...

Style images go through the same encoder, so ``Hs``/``Ws`` (style taps of attention families)
range like ``H``/``W``. ``max`` H and W must be multiples of the export's size multiple: a
content image is padded up to one, and must still fit.

At run time :func:`match_profile` checks the shapes of a graph's inputs against the manifest's
relations (every input of one call has the same ``N``; ``H/2``, ``H/4``, ``H/8`` taps of one
content image agree) and against the built profiles, and says which profile takes them.
Nothing here imports torch, onnx or TensorRT.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..errors import EngineShapeError, ProfileError
from ..export.manifest import evaluate_shape

Shape = tuple[int, ...]
#: Defaults for a profile that the options leave open (H and W; batch 1).
DEFAULT_OPT_SIDE = 512
DEFAULT_MAX_SIDE = 2048
#: TensorRT indexes a tensor's elements with 32-bit integers: at most 2^31 - 1 elements per tensor
#: (NVIDIA/TensorRT issue 3815; an attention softmax is one tensor).
MAX_TENSOR_ELEMENTS = 2**31 - 1
IMAGE_INPUT = "image"
_CONTENT_SYMBOLS = ("H", "W")  # padded to the size multiple wherever a graph other than the encoder sees them


def format_shape(shape: Sequence[int]) -> str:
    """``(1, 3, 512, 512)`` -> ``"1x3x512x512"`` (trtexec's spelling)."""
    return "x".join(str(int(d)) for d in shape)


@dataclass(frozen=True)
class ShapeRange:
    """min / opt / max shape of one tensor in one profile (TensorRT's OptProfileSelector order)."""

    min: Shape
    opt: Shape
    max: Shape

    def contains(self, shape: Sequence[int]) -> bool:
        return len(shape) == len(self.min) and all(lo <= d <= hi for lo, d, hi in zip(self.min, shape, self.max))

    def text(self) -> str:
        return f"min {format_shape(self.min)}, opt {format_shape(self.opt)}, max {format_shape(self.max)}"

    def to_json(self) -> dict:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}

    @classmethod
    def from_json(cls, data: Mapping) -> "ShapeRange":
        return cls(tuple(int(d) for d in data["min"]), tuple(int(d) for d in data["opt"]),
                   tuple(int(d) for d in data["max"]))


# --------------------------------------------------------------------------------------
# Parsing --min/--opt/--max
# --------------------------------------------------------------------------------------
def parse_shape(text: str, option: str = "--opt") -> Shape:
    """``"1x3x512x512"`` or ``"image:1x3x512x512"`` -> ``(1, 3, 512, 512)``; ProfileError otherwise."""
    raw = str(text).strip()
    name, sep, dims = raw.rpartition(":")
    if sep and name != IMAGE_INPUT:
        raise ProfileError(f"{option} {raw!r}: profiles are given for the encoder input {IMAGE_INPUT!r}, not {name!r}",
                           fix=f"e.g. {option} 1x3x512x512")
    parts = dims.lower().split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        raise ProfileError(f"{option} {raw!r} is not a shape in trtexec's spelling NxCxHxW",
                           fix=f"e.g. {option} 1x3x512x512") from None
    if len(shape) != 4:
        raise ProfileError(f"{option} {raw!r} has {len(shape)} dimensions; the image input is NxCxHxW (4)",
                           fix=f"e.g. {option} 1x3x512x512")
    if any(d < 1 for d in shape):
        raise ProfileError(f"{option} {raw!r}: every dimension must be at least 1", fix=f"e.g. {option} 1x3x512x512")
    if shape[1] != 3:
        raise ProfileError(f"{option} {raw!r}: the image input has 3 channels (RGB), not {shape[1]}",
                           fix=f"e.g. {option} {shape[0]}x3x{shape[2]}x{shape[3]}")
    return shape


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def default_profile(min_size: int, size_multiple: int, footprint=None, memory_bytes: int | None = None,
                    batch: int = 1) -> ShapeRange:
    """batch 1 (up to ``batch``), H and W from ``min_size`` to 2048 (optimized for 512), for the family's ``footprint``
    (``stylert.core.budget.Footprint``; None: AdaIN-like).

    The attention families attend from every content position to every style position, and a style
    image goes through the same profile as the content, so their default max side is the largest
    multiple of ``size_multiple`` (at most 2048) whose attention matrix stays within TensorRT's
    ``MAX_TENSOR_ELEMENTS`` and whose ``footprint.estimate`` (bytes) stays within ``memory_bytes``
    (the GPU's memory, where known): 1712 for SANet (multiple 16) with ample memory, a 214^2 x 214^2
    softmax at relu4_1, where 2048 makes it 256^2 x 256^2 = 4.3e9 elements.
    """
    side = _round_up(DEFAULT_MAX_SIDE, size_multiple)
    if footprint is not None:
        while side > min_size and limit_problem(footprint, (batch, 3, side, side), memory_bytes):
            side -= size_multiple
    opt = min(DEFAULT_OPT_SIDE, side)
    return ShapeRange((1, 3, min_size, min_size), (1, 3, opt, opt), (batch, 3, side, side))


def family_limits(backend: str, device: str, export) -> dict:
    """``make_profiles`` keywords for a build: the export's footprint and the GPU's memory for TensorRT
    plans (their limits), nothing for other engines."""
    if backend != "tensorrt":
        return {}
    from ..core.budget import device_memory_bytes

    return {"footprint": export.footprint, "memory_bytes": device_memory_bytes(device)}


def attention_elements(footprint, image: Sequence[int]) -> list[tuple[str, int]]:
    """(tap, elements) of the attention matrix [N, h*w, hs*ws] at each attending tap of an image
    [N,3,H,W] whose style is as large (profiles give style images the content's range)."""
    from ..core.budget import TAP_STRIDES

    n, _, h, w = (int(d) for d in image)
    names = {v: k for k, v in TAP_STRIDES.items()}
    return [(names.get(s, f"stride {s}"), n * (-(-h // s) * -(-w // s)) ** 2) for s in footprint.attention_strides]


def limit_problem(footprint, image: Sequence[int], memory_bytes: int | None = None) -> str | None:
    """Why an engine cannot take ``image`` (its profile's max) as content and style, or None: an
    attention matrix over ``MAX_TENSOR_ELEMENTS`` (TensorRT indexes tensors with 32-bit integers), or
    ``footprint.estimate`` (``stylert.core.budget``) over ``memory_bytes``."""
    from ..core.budget import gb

    for tap, elements in attention_elements(footprint, image):
        if elements > MAX_TENSOR_ELEMENTS:
            side = int(round(math.sqrt(elements / image[0])))
            return (f"its attention at {tap} is a {side}x{side} softmax per image ({elements:.3g} elements), over "
                    f"TensorRT's limit of 2^31 - 1 elements per tensor")
    if memory_bytes:
        est = footprint.estimate(tuple(image[2:]), tuple(image[2:]), int(image[0]))
        if est.total > memory_bytes:
            return f"it needs {est.describe()} with a style as large, over the GPU's {gb(memory_bytes)}"
    return None


def check_limits(profiles: Sequence[ShapeRange], footprint, memory_bytes: int | None = None, *,
                 min_size: int, size_multiple: int) -> None:
    """ProfileError (one line, naming the limit and the largest square max that fits) when a profile's
    max exceeds TensorRT's tensor size or the GPU's memory (``limit_problem``)."""
    for i, p in enumerate(profiles):
        why = limit_problem(footprint, p.max, memory_bytes)
        if why:
            n = p.max[0]
            side = min(max(p.max[2:]), _round_up(DEFAULT_MAX_SIDE, size_multiple))
            while side > min_size and limit_problem(footprint, (n, 3, side, side), memory_bytes):
                side -= size_multiple
            where = f"profile {i}" if len(profiles) > 1 else "the profile"
            raise ProfileError(f"{where}: --max {format_shape(p.max)} is refused: {why}",
                               fix=f"--max {n}x3x{side}x{side} or smaller (or a smaller batch)")


def make_profiles(mins: Sequence[str] = (), opts: Sequence[str] = (), maxs: Sequence[str] = (), *,
                  min_size: int, size_multiple: int, footprint=None,
                  memory_bytes: int | None = None) -> list[ShapeRange]:
    """The profiles that repeated ``--min/--opt/--max`` options describe (trtexec's spelling).

    k profiles are k values of an option; an option given once applies to all profiles, one not
    given takes its default (``min`` 1x3xMINxMIN, ``max`` the family's ``default_profile``:
    1x3x2048x2048 for AdaIN, smaller for the attention families, ``opt`` 1x3x512x512 clipped into
    [min, max]). Checks: min <= opt <= max in every dimension, H and W at least ``min_size``, max H
    and W multiples of ``size_multiple``, and, given the family's ``footprint``
    (``Manifest.footprint``), every max within TensorRT's tensor size and ``memory_bytes``
    (``check_limits``).
    """
    given = {"--min": [parse_shape(s, "--min") for s in mins], "--opt": [parse_shape(s, "--opt") for s in opts],
             "--max": [parse_shape(s, "--max") for s in maxs]}
    k = max([len(v) for v in given.values()] + [1])
    for option, values in given.items():
        if len(values) not in (0, 1, k):
            counts = ", ".join(f"{o} x{len(v)}" for o, v in given.items())
            raise ProfileError(f"{k} profiles but {option} is given {len(values)} times ({counts})",
                               fix=f"give {option} once (for all profiles) or {k} times (one per profile)")
    default = default_profile(min_size, size_multiple, footprint, memory_bytes)
    profiles = []
    for i in range(k):
        def pick(option, fallback):
            values = given[option]
            return values[i if len(values) > 1 else 0] if values else fallback

        lo = pick("--min", default.min)
        hi = pick("--max", None)
        if hi is None:
            hi = tuple(max(a, b) for a, b in zip(default.max, lo))
            hi = hi[:2] + tuple(_round_up(d, size_multiple) for d in hi[2:])
        opt = pick("--opt", None)
        if opt is None:
            opt = tuple(min(max(d, a), b) for d, a, b in zip(default.opt, lo, hi))
        profiles.append(check_profile(ShapeRange(lo, opt, hi), i, len(given["--max"]) > 0 or k > 1,
                                      min_size=min_size, size_multiple=size_multiple))
    if footprint is not None:
        check_limits(profiles, footprint, memory_bytes, min_size=min_size, size_multiple=size_multiple)
    return profiles


def check_profile(profile: ShapeRange, index: int = 0, named: bool = True, *, min_size: int,
                  size_multiple: int) -> ShapeRange:
    """ProfileError unless ``min <= opt <= max``, H/W >= ``min_size`` and max H/W multiples of ``size_multiple``."""
    where = f"profile {index}" if named else "the profile"
    axes = ("N", "C", "H", "W")
    for a, lo, opt, hi in zip(axes, profile.min, profile.opt, profile.max):
        if not lo <= opt <= hi:
            raise ProfileError(f"{where}: {a} must satisfy min <= opt <= max, got {lo}, {opt}, {hi} "
                               f"({profile.text()})", fix="check --min/--opt/--max")
    if min(profile.min[2:]) < min_size:
        raise ProfileError(f"{where}: --min {format_shape(profile.min)} is below the export's minimum image side "
                           f"{min_size}", fix=f"--min {profile.min[0]}x3x{min_size}x{min_size}")
    bad = [d for d in profile.max[2:] if d % size_multiple]
    if bad:
        fixed = profile.max[:2] + tuple(_round_up(d, size_multiple) for d in profile.max[2:])
        raise ProfileError(f"{where}: --max {format_shape(profile.max)}: H and W must be multiples of {size_multiple} "
                           f"(content images are padded to one)", fix=f"--max {format_shape(fixed)}")
    return profile


# --------------------------------------------------------------------------------------
# Symbolic shapes of the manifest -> per-graph profiles
# --------------------------------------------------------------------------------------
def _symbol(dim: str) -> tuple[str, int]:
    """``"H/8"`` -> ``("H", 8)``; ``"N"`` -> ``("N", 1)``."""
    base, _, stride = dim.partition("/")
    return base, int(stride) if stride else 1


def image_env(image_shape: Sequence[int]) -> dict[str, int]:
    """Symbol values for an encoder image [N,3,H,W]: style sizes range as content sizes do."""
    n, _, h, w = image_shape
    return {"N": int(n), "H": int(h), "W": int(w), "Hs": int(h), "Ws": int(w)}


def tensor_ranges(manifest, profile: ShapeRange) -> dict[str, dict[str, dict[str, ShapeRange]]]:
    """``{graph: {"inputs"|"outputs": {name: ShapeRange}}}`` of every tensor for one image profile."""
    envs = [image_env(s) for s in (profile.min, profile.opt, profile.max)]
    out = {}
    for graph in ("encoder", "transform", "decoder"):
        out[graph] = {}
        for side in ("inputs", "outputs"):
            tensors = manifest.inputs(graph) if side == "inputs" else manifest.outputs(graph)
            out[graph][side] = {t["name"]: ShapeRange(*(evaluate_shape(t["shape"], e) for e in envs)) for t in tensors}
    return out


def graph_profiles(manifest, profiles: Sequence[ShapeRange]) -> dict[str, list[dict[str, ShapeRange]]]:
    """Per graph, one ``{input name: ShapeRange}`` per image profile: what each engine is built with."""
    ranges = [tensor_ranges(manifest, p) for p in profiles]
    return {g: [r[g]["inputs"] for r in ranges] for g in ("encoder", "transform", "decoder")}


# --------------------------------------------------------------------------------------
# Run time: which profile takes these inputs?
# --------------------------------------------------------------------------------------
def solve_symbols(manifest, graph: str, shapes: Mapping[str, Sequence[int]]) -> dict[str, int]:
    """The symbol values (``N``, ``H``, ``W``, ``Hs``, ``Ws``) that a graph's input shapes imply.

    Raises EngineShapeError where a fixed dimension differs, or the inputs disagree: different
    batch sizes, or taps that cannot come from one image (outside the encoder, content sizes
    ``H``/``W`` are multiples of the size multiple, so ``H/4`` is exactly twice ``H/8``).
    """
    bounds: dict[str, list[int]] = {}
    seen: dict[str, list[str]] = {}
    for t in manifest.inputs(graph):
        name = t["name"]
        if name not in shapes:
            raise EngineShapeError(f"{graph}: input {name} is missing")
        shape = tuple(int(d) for d in shapes[name])
        spec = t["shape"]
        if len(shape) != len(spec):
            raise EngineShapeError(f"{graph}: input {name} has shape {format_shape(shape)}, the manifest says rank "
                                   f"{len(spec)} ([{','.join(map(str, spec))}])")
        for axis, (want, got) in enumerate(zip(spec, shape)):
            if isinstance(want, int):
                if got != want:
                    raise EngineShapeError(f"{graph}: input {name} has {got} at axis {axis} where the graph takes "
                                           f"{want} (shape {format_shape(shape)})")
                continue
            base, stride = _symbol(want)
            lo, hi = (got, got) if stride == 1 else (stride * (got - 1) + 1, stride * got)
            old = bounds.setdefault(base, [1, math.inf])
            old[0], old[1] = max(old[0], lo), min(old[1], hi)
            seen.setdefault(base, []).append(f"{name}[{axis}]={got} ({want})")
            if got < 1 or old[0] > old[1]:
                raise EngineShapeError(f"{graph}: inputs disagree on {base}: {', '.join(seen[base])}",
                                       fix="feed the outputs of one run of the previous graph")
    values = {}
    m = int(manifest.size_multiple)
    for base, (lo, hi) in bounds.items():
        if graph != "encoder" and base in _CONTENT_SYMBOLS:
            value = int(hi) // m * m
            if value < lo:
                raise EngineShapeError(f"{graph}: {', '.join(seen[base])} do not come from a content image padded to "
                                       f"a multiple of {m}", fix="feed the outputs of one run of the previous graph")
        else:
            value = int(hi)  # N and the encoder's H, W are exact; a style tap's Hs/8 allows 8 values of Hs
        values[base] = value
    return values


def match_profile(manifest, graph: str, shapes: Mapping[str, Sequence[int]],
                  profiles: Sequence[Mapping[str, ShapeRange]], rebuild=None) -> int:
    """Index of the first profile whose ranges take every input of ``graph``; EngineShapeError otherwise.

    ``profiles``: the engine's per-graph profiles (``graph_profiles(...)[graph]``); ``rebuild``:
    image shape (or None) -> the command that builds an engine taking it (the error's fix).
    """
    values = solve_symbols(manifest, graph, shapes)
    for index, ranges in enumerate(profiles):
        if all(ranges[name].contains(tuple(shapes[name])) for name in ranges):
            return index
    worst = []
    for name in (t["name"] for t in manifest.inputs(graph)):
        if not any(r[name].contains(tuple(shapes[name])) for r in profiles):
            spans = "; ".join(f"profile {i}: {format_shape(r[name].min)} .. {format_shape(r[name].max)}"
                              for i, r in enumerate(profiles))
            worst.append(f"{name} {format_shape(shapes[name])} ({spans})")
    needed = needed_image_shape(values, int(manifest.size_multiple))
    raise EngineShapeError(f"{graph}: no optimization profile of the engine takes "
                           + (", ".join(worst) or "these inputs together")
                           + (f"; that is an image of {format_shape(needed)}" if needed else ""),
                           fix=rebuild(needed) if rebuild else None)


def needed_image_shape(values: Mapping[str, int], size_multiple: int) -> Shape | None:
    """The encoder image shape (padded to the size multiple) that symbol values stand for, if known."""
    if not {"N", "H", "W"} <= set(values) and not {"N", "Hs", "Ws"} <= set(values):
        return None
    h = values.get("H", values.get("Hs"))
    w = values.get("W", values.get("Ws"))
    return (values["N"], 3, _round_up(h, size_multiple), _round_up(w, size_multiple))


def widened(profile: ShapeRange, image: Sequence[int]) -> ShapeRange:
    """``profile`` with its max raised (and min lowered) to take ``image``: for a rebuild suggestion."""
    lo = tuple(min(a, b) for a, b in zip(profile.min, image))
    hi = tuple(max(a, b) for a, b in zip(profile.max, image))
    return ShapeRange(lo, tuple(min(max(o, a), b) for o, a, b in zip(profile.opt, lo, hi)), hi)
