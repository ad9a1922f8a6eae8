"""INT8 exports: static QDQ quantization of the encoder and decoder with ``onnxruntime.quantization``.

    calibration = calibration_set(DIR, count)            # content + style images, hashed
    result = quantize_graphs(files, routing, alpha_levels, calibration, log=print)
    manifest["quantization"] = result.to_json()

What is quantized and how (the measurements behind each choice, dated, are in
``benchmarks/results/int8_quality/README.md``; the current figures in ``docs/int8.md``):

- Conv, Relu, MaxPool, Pad and Resize of the encoder and the decoder, in QDQ format (the form
  ONNX Runtime's CPU kernels and TensorRT both consume): weights int8, symmetric, per output
  channel, 7-bit (``reduce_range``: without VNNI the u8 x s8 kernels saturate int16);
  activations uint8, calibrated per graph (``onnxruntime.quantization.quantize_static``).
- Calibration (``CALIBRATION``): the 99.99th percentile for the encoder (its ReLU features have
  long tails), the 99.9999th for the decoder (min-max ranges are set by rare large activations).
  Calibrating the decoder on every content with every style (``cross_decoder_feeds``,
  N (N - 1) more feeds) is off by default (``CROSS_DECODER_FEEDS``): ONNX Runtime's histogram
  calibration holds every feed's activations.
- The encoder's graph outputs that its quantized layers go on from (relu2_1 and relu3_1 of the
  multi-level families; not the last tap, relu4_1, which is left to the sensitivity pass) get
  their range from the 99.9999th percentile of their calibration values (``OUTPUT_PERCENTILE``),
  so that validation's per-tap tolerance holds. A range costs no time: the same layers run
  quantized.
- A concatenation of unlike ranges keeps the Conv after it float (``concat_float_nodes``,
  ``CONCAT_RANGE_RATIO``): a QLinearConv has one input scale, and the adain-multilevel decoder
  joins its relu_3 with the stylized relu2_1, whose range is 7.6x wider.
- Never quantized: the transform graph (AdaIN statistics, attention logits and softmax), the
  mean/variance statistics inside the encoder; inputs and outputs stay float32.
- Sensitive layers stay float: every Conv is tried in float alone (the rest quantized) on
  calibration pairs, ranked by the end-to-end PSNR it wins back, and the best are kept in float
  one at a time while the PSNR is under ``target_psnr``, fewer than ``max_float`` layers are
  float and the next layer wins at least ``MIN_GAIN_DB`` (the defaults come from the measured
  trade-off curve).
- ONNX Runtime leaves ``DequantizeLinear -> Pad -> QuantizeLinear`` around every reflection pad
  when both carry the same scale and zero point; a uint8 reflection pad is exact then, so the
  pair is removed and the pad runs on uint8 (``fold_uint8_pads``).
- The TensorRT variants (``TENSORRT_SUFFIX``) hold the same layers with symmetric int8
  activations and float32 biases: TensorRT's explicit quantization takes zero points of 0 only,
  and its ONNX parser dequantizes INT8, FP8 and INT4, not INT32 biases.

Sources: ONNX Runtime's quantization documentation ("Quantize ONNX models": QDQ format,
``reduce_range``, percentile calibration); TensorRT's "Working with quantized types" (explicit
quantization, symmetric scales).
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.checks import psnr
from ..core.files import sha256_of
from ..core.images import collect_images, load_image
from .errors import ExportError
from .routing import chain

#: Graphs that get quantized; the transform (statistics, softmax) always stays float32.
QUANTIZED_GRAPHS = ("encoder", "decoder")
#: Operators quantized (QDQ around them); everything else stays float32.
OP_TYPES = ("Conv", "Relu", "MaxPool", "Pad", "Resize")
#: graph -> (calibration method, its options): chosen from measurement (the module docstring).
CALIBRATION = {"encoder": ("Percentile", {"CalibPercentile": 99.99}),
               "decoder": ("Percentile", {"CalibPercentile": 99.9999})}
#: graph -> the percentile that sets the range of its graph outputs that its quantized layers also
#: consume (the encoder's inner taps; see the module docstring). Graphs not named keep CALIBRATION's range.
OUTPUT_PERCENTILE = {"encoder": 99.9999}
#: Calibration images are resized (short side) and centre-cropped to this size.
CALIBRATION_PIXELS = 256
#: Calibrate the decoder on every content x style combination too (see the module docstring).
CROSS_DECODER_FEEDS = False
DEFAULT_COUNT = 8
#: Pairs (of the calibration set) the sensitivity pass scores on.
SENSITIVITY_PAIRS = 2
#: The default selection, chosen from the trade-off curve (benchmarks/results/int8_quality/README.md): on the
#: holdout at 512x512 the encoder's last conv in float won 1.1 dB (mean) and took the style loss
#: from 1.14x to 1.08x float32's for 1.84x -> 1.71x; the next layers won 0.04 dB each for ~10%
#: of speed. So: float layers only while the PSNR on the scored pairs is under the target and a
#: layer wins at least MIN_GAIN_DB.
DEFAULT_TARGET_PSNR = 33.0
DEFAULT_MAX_FLOAT = 2
#: A Concat's output is quantized with one scale for all its inputs. When the widest input's
#: calibrated range is more than this many times the narrowest's, the narrow input loses more than
#: 2 bits of its steps, so the Conv that consumes the concatenation stays float (with the Pads
#: between, and the Resize that brings a graph input into the Concat): ``concat_float_nodes``.
CONCAT_RANGE_RATIO = 4.0
MIN_GAIN_DB = 1.0
#: ``encoder.tensorrt.onnx``: the TensorRT variant of a quantized graph, beside it in the export.
TENSORRT_SUFFIX = ".tensorrt.onnx"


@dataclass
class CalibrationSet:
    """Content and style images for calibration; ``pairs()`` loads them as [1, 3, S, S] arrays."""

    directory: Path
    content: list[Path]
    style: list[Path]
    pixels: int = CALIBRATION_PIXELS

    def pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        def load(p: Path) -> np.ndarray:
            return np.ascontiguousarray(load_image(p, size=self.pixels, crop=True).transpose(2, 0, 1)[None])

        return [(load(c), load(s)) for c, s in zip(self.content, self.style)]

    def to_json(self) -> dict:
        def entry(p: Path) -> dict:
            return {"file": str(p.relative_to(self.directory)), "sha256": sha256_of(p)}

        return {"directory": str(self.directory), "count": len(self.content), "pixels": self.pixels,
                "content": [entry(p) for p in self.content], "style": [entry(p) for p in self.style]}


def calibration_set(directory, count: int = DEFAULT_COUNT, pixels: int = CALIBRATION_PIXELS) -> CalibrationSet:
    """``count`` content and ``count`` style images from ``directory``: its ``content/`` and
    ``style/`` folders where it has them (the training layout), else its images, the style of
    pair i being image i + 1 (sorted by name; the first ``count`` of each list)."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ExportError(f"calibration directory {root} not found", fix="--calibration DIR (a folder of images, or "
                                                                           "with content/ and style/ folders)")
    if count < 1:
        raise ExportError(f"--calibration-size must be at least 1, got {count}", fix="--calibration-size 8")
    if (root / "content").is_dir() and (root / "style").is_dir():
        content, style = collect_images(root / "content"), collect_images(root / "style")
    else:
        images = collect_images(root)
        if len(images) < 2:
            raise ExportError(f"calibration directory {root} has {len(images)} image(s); 2 or more are needed",
                              fix="add images, or give a folder with content/ and style/ folders")
        content, style = images, images[1:] + images[:1]
    n = min(count, len(content))
    chosen = CalibrationSet(root, content[:n], [style[i % len(style)] for i in range(n)], pixels)
    for p in dict.fromkeys([*chosen.content, *chosen.style]):
        _check_colour(p)
    return chosen


def _check_colour(path: Path) -> None:
    """Refuse a calibration image without colour (grey, 16-bit grey, or RGB with equal channels): its
    activations miss the colour ranges of the photographs stylized later, and the int8 graphs it
    calibrates fail validation with no other word on why. Unreadable files are ``load_image``'s errors."""
    from PIL import Image

    img = load_image(path, size=32)
    if float(np.abs(img - img.mean(axis=2, keepdims=True)).max()) < 1.0 / 255.0:
        with Image.open(path) as opened:
            mode = opened.mode
        raise ExportError(f"{path}: a calibration image without colour (pixel mode {mode}, every pixel grey): int8 "
                          "ranges calibrated on it do not cover colour photographs",
                          fix="calibrate on 8-bit colour images like the ones you will stylize")


# --------------------------------------------------------------------------------------
# Running graphs (ONNX Runtime, CPU)
# --------------------------------------------------------------------------------------
def _session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class _Graphs:
    """graph name -> ONNX Runtime session; ``record`` keeps every graph's feeds (for calibration)."""

    def __init__(self, files: dict[str, Path], record: bool = False):
        self.sessions = {g: _session(p) for g, p in files.items()}
        self.feeds: dict[str, list[dict]] | None = {g: [] for g in files} if record else None
        self.results: dict[str, list[dict]] | None = {g: [] for g in files} if record else None

    def __call__(self, graph: str, feeds: dict) -> dict:
        s = self.sessions[graph]
        names = [i.name for i in s.get_inputs()]
        feed = {k: np.ascontiguousarray(feeds[k], np.float32) for k in names}
        if self.feeds is not None:
            self.feeds[graph].append(feed)
        outputs = [o.name for o in s.get_outputs()]
        result = dict(zip(outputs, s.run(outputs, feed)))
        if self.results is not None:
            self.results[graph].append(result)
        return result

    def images(self, routing, pairs, alpha) -> list[np.ndarray]:
        return [np.clip(chain(self, routing, c, s, alpha), 0, 1) for c, s in pairs]


class _Reader:
    """``onnxruntime.quantization.CalibrationDataReader`` over recorded feeds."""

    def __init__(self, feeds: list[dict]):
        self.feeds = feeds
        self.i = 0

    def get_next(self):
        if self.i >= len(self.feeds):
            return None
        self.i += 1
        return self.feeds[self.i - 1]

    def rewind(self):
        self.i = 0

    def __len__(self):
        return len(self.feeds)

    def set_range(self, start_index: int, end_index: int):
        self.feeds, self.i = self.feeds[start_index:end_index], 0


@contextlib.contextmanager
def _quiet():
    """onnxruntime.quantization prints progress and logs advice on the root logger: silence both."""
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        logging.getLogger().setLevel(level)


def cross_decoder_feeds(files: dict[str, Path], routing, pairs, alpha) -> list[dict]:
    """The decoder's feeds for content i with style j, every j != i: N (N - 1) more transform
    outputs from the N pairs' images (each image encoded once)."""
    runner = _Graphs(files, record=True)
    codes: dict[int, dict] = {}

    def run(graph: str, feeds: dict) -> dict:
        if graph == "encoder":
            key = id(next(iter(feeds.values())))
            if key not in codes:
                codes[key] = runner(graph, feeds)
            return codes[key]
        return runner(graph, feeds)

    for i, (content, _) in enumerate(pairs):
        for j, (_, style) in enumerate(pairs):
            if i != j:
                chain(run, routing, content, style, alpha)
    return runner.feeds["decoder"]


def output_ranges(path: Path, results: list[dict], percentile: float) -> dict[str, tuple[float, float]]:
    """Calibration ranges of the graph outputs of ``path`` that a quantized operator (``OP_TYPES``)
    produces and another consumes (the quantized path goes on from them), from their float32
    values ``results`` (one dict per calibration feed): the ``percentile`` of |x|, from 0 where x
    is never negative (ONNX Runtime's Percentile rule)."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    producer = {o: n.op_type for n in graph.node for o in n.output}
    quantized_inputs = {i for n in graph.node if n.op_type in OP_TYPES for i in n.input}
    ranges = {}
    for out in graph.output:
        if producer.get(out.name) not in OP_TYPES or out.name not in quantized_inputs or not results:
            continue
        values = np.concatenate([np.asarray(r[out.name], np.float32).ravel() for r in results])
        high = float(np.percentile(np.abs(values), percentile))
        ranges[out.name] = (0.0 if float(values.min()) >= 0 else -high, high)
    return ranges


# --------------------------------------------------------------------------------------
# Quantization of one graph
# --------------------------------------------------------------------------------------
def quantize_graph(src: Path, dst: Path, feeds: list[dict], graph: str, exclude=(), cache: Path | None = None,
                   target: str = "cpu", ranges: dict[str, tuple[float, float]] | None = None) -> int:
    """``src`` (float32 ONNX) -> ``dst`` (QDQ), calibrated on ``feeds``; nodes in ``exclude`` stay
    float. ``cache``: a calibration-range file (written on first use, then reused). ``ranges``:
    tensor -> (min, max) used instead of the calibrated range (``output_ranges``).

    ``target="cpu"``: uint8 activations, 7-bit per-channel weights, uint8 reflection pads (ONNX
    Runtime's CPU kernels). ``target="tensorrt"``: int8 symmetric activations (zero point 0, the
    only form TensorRT's explicit quantization takes), 8-bit per-channel weights, pads left as
    written. Returns the number of pads moved to uint8."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    method, options = CALIBRATION[graph]
    cpu = target == "cpu"
    # TensorRT: symmetric int8 everywhere, and biases left float (QuantizeBias=False): ONNX Runtime
    # otherwise stores each conv bias as INT32 behind a DequantizeLinear, which TensorRT's ONNX parser
    # refuses (it dequantizes INT8/FP8/INT4 only; onnx-tensorrt operators.md, DequantizeLinear).
    extra = dict(options) if cpu else {**options, "ActivationSymmetric": True, "WeightSymmetric": True,
                                       "QuantizeBias": False}
    if ranges:
        extra["TensorQuantOverrides"] = {t: [{"rmin": np.float32(lo), "rmax": np.float32(hi)}]
                                         for t, (lo, hi) in ranges.items()}
    quantize_static(
        str(src), str(dst), _Reader(feeds) if feeds else None,
        quant_format=QuantFormat.QDQ, op_types_to_quantize=list(OP_TYPES), per_channel=True, reduce_range=cpu,
        activation_type=QuantType.QUInt8 if cpu else QuantType.QInt8, weight_type=QuantType.QInt8,
        nodes_to_exclude=list(exclude), calibrate_method=getattr(CalibrationMethod, method), extra_options=extra,
        calibration_cache_path=str(cache) if cache else None)
    return fold_uint8_pads(dst) if cpu else 0


#: Types TensorRT's ONNX parser dequantizes (onnx-tensorrt ``docs/operators.md``: DequantizeLinear
#: "x" is INT8, FP8 or INT4; QuantizeLinear's zero point the same, and 0).
TENSORRT_DEQUANTIZABLE = ("INT8", "FLOAT8E4M3FN", "INT4")


def tensorrt_qdq_problems(model) -> list[str]:
    """What in a QDQ graph TensorRT's explicit quantization would refuse (empty: nothing).

    ``model``: an ``onnx.ModelProto`` or a path. Checked per node: every ``DequantizeLinear``
    reads an INT8/FP8/INT4 tensor (an initializer of that type, or the output of a
    ``QuantizeLinear`` whose zero point is of that type) -- not the INT32 biases that
    ``quantize_static`` writes by default, nor uint8; every ``QuantizeLinear`` and
    ``DequantizeLinear`` zero point is an int8 initializer equal to 0 (symmetric, as TensorRT
    takes it; a missing zero point means uint8 in ONNX and is refused too). One line per problem,
    naming the node."""
    import onnx
    from onnx import TensorProto, numpy_helper

    if isinstance(model, (str, Path)):
        model = onnx.load(str(model), load_external_data=False)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    ok_types = {getattr(TensorProto, t) for t in TENSORRT_DEQUANTIZABLE if hasattr(TensorProto, t)}
    problems = []

    def type_name(code: int) -> str:
        return TensorProto.DataType.Name(code)

    def zero_point(node) -> str | None:
        if len(node.input) < 3 or not node.input[2]:
            return f"{node.op_type} {node.name}: no zero point (uint8 in ONNX); TensorRT takes int8 with zero point 0"
        zp = inits.get(node.input[2])
        if zp is None:
            return f"{node.op_type} {node.name}: zero point {node.input[2]} is not an initializer"
        if zp.data_type != TensorProto.INT8 or numpy_helper.to_array(zp).any():
            return (f"{node.op_type} {node.name}: zero point {type_name(zp.data_type)} "
                    f"{numpy_helper.to_array(zp).ravel()[:4].tolist()}; TensorRT takes INT8 0")
        return None

    for node in graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if node.op_type == "DequantizeLinear":  # what it reads first: an INT32 bias is one problem, not two
            src = node.input[0]
            if src in inits:
                dtype = inits[src].data_type
            elif src in producer and producer[src].op_type == "QuantizeLinear":
                q = producer[src]
                dtype = inits[q.input[2]].data_type if len(q.input) > 2 and q.input[2] in inits else TensorProto.UINT8
            else:
                problems.append(f"DequantizeLinear {node.name}: input {src} is neither an initializer nor a "
                                "QuantizeLinear output")
                continue
            if dtype not in ok_types:
                problems.append(f"DequantizeLinear {node.name}: dequantizes {type_name(dtype)} ({src}); TensorRT "
                                f"dequantizes {'/'.join(TENSORRT_DEQUANTIZABLE)} only")
                continue
        bad = zero_point(node)
        if bad:
            problems.append(bad)
    return problems


def fold_uint8_pads(path: Path) -> int:
    """Rewrite ``DequantizeLinear(x) -> Pad(reflect|edge) -> QuantizeLinear`` with equal scale and
    zero point as ``Pad(x)`` on the quantized tensor (exact: padding copies values). Returns the
    number of pads rewritten; the file is rewritten in place."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    outputs = {o.name for o in g.output}
    remove, folded = set(), 0
    for pad in g.node:
        if pad.op_type != "Pad":
            continue
        mode = next((a.s.decode() for a in pad.attribute if a.name == "mode"), "constant")
        dq = producer.get(pad.input[0])
        users = consumers.get(pad.output[0], [])
        if mode not in ("reflect", "edge") or dq is None or dq.op_type != "DequantizeLinear" or len(users) != 1:
            continue
        q = users[0]
        if q.op_type != "QuantizeLinear" or pad.output[0] in outputs:
            continue

        def same(a, b):
            return a in inits and b in inits and np.array_equal(inits[a], inits[b]) and inits[a].dtype == inits[b].dtype

        if not (same(dq.input[1], q.input[1]) and len(dq.input) > 2 and len(q.input) > 2
                and same(dq.input[2], q.input[2])):
            continue
        pad.input[0] = dq.input[0]
        del pad.input[2:]  # the constant value (unused by reflect/edge) would be float
        for user in consumers.get(q.output[0], []):
            for k, name in enumerate(user.input):
                if name == q.output[0]:
                    user.input[k] = pad.output[0]
        if q.output[0] in outputs:
            pad.output[0] = q.output[0]
        remove.add(id(q))
        if all(c is pad or id(c) in remove for c in consumers.get(dq.output[0], [])) and dq.output[0] not in outputs:
            remove.add(id(dq))
        folded += 1
    keep = [n for n in g.node if id(n) not in remove]
    del g.node[:]
    g.node.extend(keep)
    # Shape inference recorded the pads' outputs as float: they are uint8 now.
    retyped = {n.output[0] for n in keep if n.op_type == "Pad"}
    infos = [v for v in g.value_info if v.name not in retyped]
    del g.value_info[:]
    g.value_info.extend(infos)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return folded


def conv_nodes(path: Path) -> list[str]:
    """Names of the graph's Conv nodes, in graph order."""
    import onnx

    return [n.name for n in onnx.load(str(path), load_external_data=False).graph.node if n.op_type == "Conv"]


def concat_float_nodes(path: Path, cache: Path, ratio: float = CONCAT_RANGE_RATIO) -> list[dict]:
    """Concatenations whose inputs' calibrated ranges differ more than ``ratio`` times, and the
    nodes to keep float for each: the Conv that consumes it, the Pads in between and the Resize
    nodes that bring a graph input into it (a skip connection of the multi-level decoders).

    ``path``: the float32 graph; ``cache``: its calibration cache (``quantize_graph`` writes it).
    Returns ``[{"concat", "inputs": {tensor: [min, max]}, "ratio", "nodes": [node names]}]``; shape
    arithmetic (Concats of non-activation tensors, with no calibrated range) is ignored.

    Why: a QLinearConv takes one uint8 scale for its whole input. The trained adain-multilevel
    decoder concatenates its own relu_3 (calibrated range 0..14) with the upsampled stylized
    relu2_1 (to 2,344 on a holdout pair); the shared range (-2.3..81.6) gave relu_3 about a sixth of
    its steps and took the int8 style loss to 1.15x float32's (8 holdout pairs, 512x512); with that
    Conv float 1.02x (the other concatenation, ratio 2.7, float too: no better and slower)."""
    import onnx
    from onnxruntime.quantization.calibrate import load_tensors_data

    model = onnx.load(str(path), load_external_data=False)
    graph_inputs = {i.name for i in model.graph.input}
    producer = {o: n for n in model.graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in model.graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    data = load_tensors_data(cache)
    found = []
    for node in model.graph.node:
        if node.op_type != "Concat":
            continue
        ranges = {}
        for t in node.input:
            if t in data.data:
                lo, hi = (float(v) for v in data[t].range_value)
                ranges[t] = (lo, hi)
        if len(ranges) < 2 or len(ranges) != len(node.input):
            continue
        widths = [hi - lo for lo, hi in ranges.values()]
        if min(widths) <= 0 or max(widths) / min(widths) <= ratio:
            continue
        nodes = [producer[t].name for t in node.input
                 if t in producer and producer[t].op_type == "Resize" and producer[t].input[0] in graph_inputs]
        tensor = node.output[0]
        while len(consumers.get(tensor, [])) == 1:
            nxt = consumers[tensor][0]
            if nxt.op_type not in ("Pad", "Conv"):
                break
            nodes.append(nxt.name)
            if nxt.op_type == "Conv":
                break
            tensor = nxt.output[0]
        found.append({"concat": node.name, "inputs": {t: [round(lo, 4), round(hi, 4)] for t, (lo, hi) in ranges.items()},
                      "ratio": round(max(widths) / min(widths), 2), "nodes": nodes})
    return found


# --------------------------------------------------------------------------------------
# The whole export
# --------------------------------------------------------------------------------------
@dataclass
class QuantizationResult:
    calibration: CalibrationSet
    float_layers: list[str]  # "graph/node" kept in float
    sensitivity: list[dict]  # per Conv: PSNR with it alone in float, gain over all quantized
    steps: list[dict]  # the greedy pass: layers in float -> PSNR
    psnr_db: float  # on the sensitivity pairs, against float32 graphs
    pads_folded: dict[str, int] = field(default_factory=dict)
    target_psnr: float = DEFAULT_TARGET_PSNR
    max_float: int = DEFAULT_MAX_FLOAT
    tensorrt: dict[str, dict] = field(default_factory=dict)  # graph -> file of its TensorRT QDQ variant
    output_ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)  # graph -> output -> (min, max)
    concats: dict[str, list[dict]] = field(default_factory=dict)  # graph -> concat_float_nodes(...)

    def to_json(self) -> dict:
        def r(v):
            return round(v, 2) if isinstance(v, float) and math.isfinite(v) else v

        return {
            "format": "QDQ (QuantizeLinear/DequantizeLinear), onnxruntime.quantization.quantize_static",
            "graphs": list(QUANTIZED_GRAPHS),
            "float32_graphs": ["transform"],
            "op_types": list(OP_TYPES),
            "weights": "int8, symmetric, per output channel, 7-bit range (reduce_range: no int16 saturation "
                       "without VNNI)",
            "activations": "uint8, asymmetric",
            "calibration": {**self.calibration.to_json(),
                            "method": {g: {"method": m, **o} for g, (m, o) in CALIBRATION.items()},
                            "outputs": {g: {"CalibPercentile": OUTPUT_PERCENTILE[g],
                                            "ranges": {t: [round(lo, 4), round(hi, 4)] for t, (lo, hi) in r.items()}}
                                        for g, r in self.output_ranges.items()},
                            "feeds": {"encoder": "the content and style image of each pair",
                                      "decoder": "the transform's output for every content with every style "
                                                 "(N x N)" if CROSS_DECODER_FEEDS else
                                                 "the transform's output for each pair"}},
            "float_layers": self.float_layers,
            "float_concats": {"rule": f"a Concat whose inputs' calibrated ranges differ more than "
                                      f"{CONCAT_RANGE_RATIO:g}x: the Conv after it stays float, with the Pads "
                                      f"between and the Resize of a graph input into it",
                              "graphs": self.concats},
            "selection": {"target_psnr_db": self.target_psnr, "max_float_layers": self.max_float,
                          "min_gain_db": MIN_GAIN_DB,
                          "scored_on": f"the first {SENSITIVITY_PAIRS} calibration pairs at "
                                       f"{self.calibration.pixels}x{self.calibration.pixels}, end to end against "
                                       f"the float32 graphs",
                          "psnr_db": r(self.psnr_db),
                          "steps": [{k: r(v) for k, v in s.items()} for s in self.steps]},
            "sensitivity": [{k: r(v) for k, v in s.items()} for s in self.sensitivity],
            "uint8_pads": self.pads_folded,
            "tensorrt": {"graphs": self.tensorrt,
                         "activations": "int8, symmetric (zero point 0); weights int8 symmetric per channel, 8-bit; "
                                        "biases float32 (not quantized); same calibration ranges and float layers; "
                                        "for `stylert build --precision int8`",
                         "biases": "float32"},
        }


def quantize_graphs(files: dict[str, Path], routing: dict, alpha_levels: int, calibration: CalibrationSet, *,
                    target_psnr: float = DEFAULT_TARGET_PSNR, max_float: int = DEFAULT_MAX_FLOAT,
                    float_layers: list[str] | None = None,
                    log: Callable[[str], None] | None = None) -> QuantizationResult:
    """Replace ``files["encoder"]`` and ``files["decoder"]`` (float32 ONNX) by QDQ graphs calibrated
    on ``calibration``. ``float_layers`` ("graph/node"): keep exactly these float, no sensitivity pass.
    Either way the Convs after concatenations of unlike ranges stay float (``concat_float_nodes``)."""
    say = log or (lambda _m: None)
    alpha = np.ones(alpha_levels, np.float32)
    pairs = calibration.pairs()
    with tempfile.TemporaryDirectory(prefix="stylert-int8-") as tmp_name, _quiet():
        tmp = Path(tmp_name)
        fp32 = {}
        for g, p in files.items():
            fp32[g] = tmp / f"{g}.fp32.onnx"
            fp32[g].write_bytes(p.read_bytes())
        say(f"calibrating on {len(pairs)} content/style pairs from {calibration.directory} ...")
        recorder = _Graphs(fp32, record=True)
        for c, s in pairs:
            chain(recorder, routing, c, s, alpha)
        feeds = recorder.feeds
        ranges = {g: output_ranges(fp32[g], recorder.results[g], OUTPUT_PERCENTILE[g])
                  for g in QUANTIZED_GRAPHS if g in OUTPUT_PERCENTILE}
        recorder.results = None
        if CROSS_DECODER_FEEDS and "decoder" in QUANTIZED_GRAPHS and len(pairs) > 1:
            feeds["decoder"] = feeds["decoder"] + cross_decoder_feeds(fp32, routing, pairs, alpha)
        scored = pairs[:SENSITIVITY_PAIRS]
        want = _Graphs(fp32).images(routing, scored, alpha)
        caches = {g: tmp / f"{g}.calibration.json" for g in QUANTIZED_GRAPHS}
        pads: dict[str, int] = {}

        built: dict[tuple, Path] = {}
        sessions: dict[Path, object] = {}

        concats: dict[str, list[dict]] = {}

        def concat_nodes(g: str) -> set[str]:
            """The nodes ``concat_float_nodes`` keeps float in ``g`` (calibrates ``g`` on first use)."""
            if g not in concats:
                if not caches[g].exists():
                    quantize_graph(fp32[g], tmp / f"{g}.calibrate.onnx", feeds[g], g, (), caches[g],
                                   ranges=ranges.get(g))
                concats[g] = concat_float_nodes(fp32[g], caches[g])
                for c in concats[g]:
                    say(f"  {g}: {c['concat']} joins ranges {c['ratio']:g}x apart: {', '.join(c['nodes'])} float")
            return {n for c in concats[g] for n in c["nodes"]}

        def build(float_set: set[str], suffix: str = "") -> dict[str, Path]:
            out = dict(fp32)
            for g in QUANTIZED_GRAPHS:
                exclude = tuple(sorted({n.split("/", 1)[1] for n in float_set if n.startswith(g + "/")}
                                       | concat_nodes(g)))
                if (g, exclude) not in built:
                    path = tmp / f"{g}.{len(built)}.onnx"
                    pads[g] = quantize_graph(fp32[g], path, feeds[g], g, exclude, caches[g],
                                             ranges=ranges.get(g))
                    built[(g, exclude)] = path
                out[g] = built[(g, exclude)]
            return out

        def score(graph_files) -> float:
            runner = _Graphs({})
            for g, p in graph_files.items():
                if p not in sessions:
                    sessions[p] = _session(p)
                runner.sessions[g] = sessions[p]
            got = runner.images(routing, scored, alpha)
            return min(psnr(a, b) for a, b in zip(got, want))

        sensitivity, steps = [], []
        if float_layers is not None:
            chosen = list(float_layers)
            known = {f"{g}/{n}" for g in QUANTIZED_GRAPHS for n in conv_nodes(fp32[g])}
            unknown = [n for n in chosen if n not in known]
            if unknown:
                raise ExportError(f"unknown layers to keep in float: {', '.join(unknown)}",
                                  fix=f"name Conv nodes as graph/node, e.g. {min(known)}")
            final = build(set(chosen), "final")
            value = score(final)
            steps.append({"float_layers": len(chosen), "psnr_db": value})
        else:
            say("quantizing everything ...")
            base = score(build(set(), "all"))
            steps.append({"float_layers": 0, "psnr_db": base})
            say(f"  all convs int8: {base:.2f} dB; sensitivity pass over the convs ...")
            layers = [f"{g}/{n}" for g in QUANTIZED_GRAPHS for n in conv_nodes(fp32[g]) if n not in concat_nodes(g)]
            for layer in layers:
                value = score(build({layer}, "probe"))
                sensitivity.append({"layer": layer, "psnr_db": value, "gain_db": value - base})
            sensitivity.sort(key=lambda s: -s["gain_db"])
            chosen, value = [], base
            for s in sensitivity:
                if value >= target_psnr or len(chosen) >= max_float or s["gain_db"] < MIN_GAIN_DB:
                    break
                trial = score(build(set(chosen + [s["layer"]]), "probe"))
                if trial <= value:
                    continue
                chosen.append(s["layer"])
                value = trial
                steps.append({"float_layers": len(chosen), "layer": s["layer"], "psnr_db": value})
                say(f"  + {s['layer']} in float: {value:.2f} dB")
            final = build(set(chosen), "final")
        tensorrt = {}
        for g in QUANTIZED_GRAPHS:
            files[g].write_bytes(final[g].read_bytes())
            exclude = sorted({n.split("/", 1)[1] for n in chosen if n.startswith(g + "/")} | concat_nodes(g))
            path = files[g].with_name(f"{g}{TENSORRT_SUFFIX}")
            quantize_graph(fp32[g], path, feeds[g], g, exclude, caches[g], target="tensorrt",
                           ranges=ranges.get(g))
            problems = tensorrt_qdq_problems(path)
            if problems:
                raise ExportError(f"the TensorRT variant of the {g} graph is not one TensorRT can parse: "
                                  f"{problems[0]} ({len(problems)} problem(s))",
                                  fix="report this with the onnxruntime version")
            tensorrt[g] = {"file": path.name, "sha256": sha256_of(path), "bytes": path.stat().st_size}
        result = QuantizationResult(calibration, chosen, sensitivity, steps, value, dict(pads), target_psnr, max_float,
                                    tensorrt, ranges, {g: concats.get(g, []) for g in QUANTIZED_GRAPHS})
    return result


def read_layers(text: str | None) -> list[str] | None:
    """``--float-layers`` value: comma-separated graph/node names, ``none`` for none, None: search."""
    if text is None:
        return None
    text = text.strip()
    return [] if text.lower() == "none" else [t.strip() for t in text.split(",") if t.strip()]
