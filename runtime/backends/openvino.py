"""OpenVINO backend: the export's ONNX graphs compiled by OpenVINO's CPU plugin.

OpenVINO reads the ONNX files directly (float32 exports, and the int8 exports' QDQ graphs, which
its CPU plugin runs with integer kernels). The inference precision of float layers is a
property of the compiled model (``INFERENCE_PRECISION_HINT``):

- ``auto`` (default): ``bf16`` where the CPU plugin lists ``BF16`` in ``OPTIMIZATION_CAPABILITIES``
  (AVX-512 BF16 or AMX), else ``f32``;
- ``bf16`` / ``f32``: asked for explicitly (``STYLERT_OPENVINO_PRECISION`` or ``precision=``).

Reduced precision is checked, not assumed: ``runtime_precisions()`` reads the precision each node
really ran in back from the compiled model (``get_runtime_model()``), and ``stylert compare``
checks every graph and the whole chain against the float32 reference with the bf16 floors of
``stylert.core.checks``. The attention families' softmax over all style positions runs in bf16 and
passes them (measured up to 19,584 positions, ``benchmarks/results/suite/amd-epyc-2c/``). A graph that
must stay float32 is named in ``float32_graphs`` (or ``STYLERT_OPENVINO_F32_GRAPHS=transform,...``):
it is compiled with the f32 hint. Per-node attributes (``ov::disable_conversion`` in rt_info) do not
survive the CPU plugin's own graph transformations in OpenVINO 2026.4 (Softmax and MatMul measured
still in bf16 with them), so the graph is the unit.

Compiled models are cached on disk by OpenVINO itself (``CACHE_DIR``, under
``stylert.core.weights.cache_dir()/openvino``, or ``STYLERT_OPENVINO_CACHE``; empty turns it off): a
second process imports the compiled blob instead of compiling again. Shapes stay dynamic (any N,
H, W the ONNX graph allows).

Errors: a missing ``openvino`` package is a ``MissingDependencyError`` naming the install
command; asking for bf16 on a CPU without it is a ``ModelError``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...errors import MissingDependencyError, ModelError
from .base import BaseRunner

PRECISION_ENV = "STYLERT_OPENVINO_PRECISION"
CACHE_ENV = "STYLERT_OPENVINO_CACHE"
F32_ENV = "STYLERT_OPENVINO_F32_GRAPHS"  # graphs compiled in f32 under bf16, comma-separated
PRECISIONS = ("auto", "bf16", "f32")

_core = None


def openvino():
    """The ``openvino`` module, or a MissingDependencyError naming the install command."""
    try:
        import openvino as ov
    except ImportError:
        raise MissingDependencyError("openvino", "pip install openvino", "the openvino backend") from None
    return ov


def core():
    """One ``openvino.Core`` per process (it holds the plugins and the model cache setting)."""
    global _core
    if _core is None:
        _core = openvino().Core()
    return _core


def capabilities() -> list[str]:
    """The CPU plugin's ``OPTIMIZATION_CAPABILITIES`` (e.g. ["BF16", "FP32", "INT8", ...])."""
    return [str(c) for c in core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")]


def supports_bf16() -> bool:
    return "BF16" in capabilities()


def resolve_precision(precision: str | None = None) -> str:
    """``auto``/None -> ``bf16`` where the CPU supports it, else ``f32``; ``bf16``/``f32`` as asked
    (``STYLERT_OPENVINO_PRECISION`` when ``precision`` is None). ModelError for bf16 without support."""
    precision = (precision or os.environ.get(PRECISION_ENV) or "auto").lower()
    precision = {"fp32": "f32", "float32": "f32", "bfloat16": "bf16"}.get(precision, precision)
    if precision not in PRECISIONS:
        raise ModelError(f"unknown OpenVINO precision {precision!r}", fix=f"use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if supports_bf16() else "f32"
    if precision == "bf16" and not supports_bf16():
        raise ModelError("this CPU has no bf16 support in OpenVINO (no BF16 in OPTIMIZATION_CAPABILITIES: "
                         "needs AVX-512 BF16 or AMX)", fix="use precision f32")
    return precision


def cache_dir() -> Path | None:
    """Where OpenVINO keeps compiled models: ``$STYLERT_OPENVINO_CACHE`` (empty: no cache), else the
    project's cache folder (``stylert.core.weights.cache_dir()``) ``/openvino``."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return Path(env) if env else None
    from ...core.weights import cache_dir as root

    return root() / "openvino"


def float32_graphs() -> tuple[str, ...]:
    """The graphs named in ``$STYLERT_OPENVINO_F32_GRAPHS`` (comma-separated), compiled in f32."""
    return tuple(g.strip() for g in os.environ.get(F32_ENV, "").split(",") if g.strip())


class OpenvinoRunner(BaseRunner):
    """One ONNX graph compiled for OpenVINO's CPU plugin.

    ``precision``: the stylert name of what the graph runs in (``bf16``, ``fp32``, or ``int8`` for
    a quantized graph: integer kernels, the rest in ``inference_precision``);
    ``inference_precision``: OpenVINO's hint as the compiled model reports it (``bf16``/``f32``);
    ``compile_seconds``: time to compile or to load from the cache."""

    def __init__(self, path: str | os.PathLike, name: str | None = None, precision: str | None = None,
                 threads: int | None = None, quantized: bool = False):
        super().__init__(name or Path(path).stem)
        self.path = Path(path)
        self.asked = precision
        self.threads = threads
        self.quantized = quantized
        self.compiled = None
        self.request = None
        self.inference_precision: str | None = None
        self.compile_seconds = 0.0
        self._inputs: list[str] = []
        self._outputs: list[str] = []

    @property
    def precision(self) -> str:
        if self.quantized:
            return "int8"
        return {"bf16": "bf16", "f32": "fp32"}.get(self.inference_precision or resolve_precision(self.asked), "fp32")

    def activate_impl(self):
        import time

        start = time.perf_counter()
        c = core()
        precision = resolve_precision(self.asked)
        config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
        if self.threads:
            config["INFERENCE_NUM_THREADS"] = int(self.threads)
        cache = cache_dir()
        if cache is not None:
            cache.mkdir(parents=True, exist_ok=True)
            config["CACHE_DIR"] = str(cache)
        # from the path, so that a cached model loads without reading the ONNX graph
        self.compiled = c.compile_model(str(self.path), "CPU", config)
        # what the compiled model reports, not what was asked: an ov.Type (bfloat16 / float32)
        hint = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        name = hint.get_type_name() if hasattr(hint, "get_type_name") else str(hint)
        self.inference_precision = {"bf16": "bf16", "f32": "f32"}.get(name, name)
        self.request = self.compiled.create_infer_request()
        self._inputs = [p.get_any_name() for p in self.compiled.inputs]
        self._outputs = [p.get_any_name() for p in self.compiled.outputs]
        self._types = {p.get_any_name(): p.get_element_type().to_dtype() for p in self.compiled.inputs}
        self.compile_seconds = time.perf_counter() - start

    def deactivate_impl(self):
        self.request = None
        self.compiled = None

    def input_names(self):
        return list(self._inputs)

    def output_names(self):
        return list(self._outputs)

    def infer_impl(self, feed, keep_on_device):
        arrays = {k: np.ascontiguousarray(feed[k], dtype=self._types[k]) for k in self._inputs}
        self.request.infer(arrays)
        # copies: the request's output buffers are reused by the next call
        return {n: np.array(self.request.get_tensor(n).data) for n in self._outputs}

    def runtime_precisions(self) -> dict[str, str]:
        """Node type -> the set of precisions it ran in (comma-joined), from the compiled model's
        runtime graph (``runtimePrecision``); e.g. {"Convolution": "bf16", "Softmax": "f32"}."""
        seen: dict[str, set] = {}
        for node in self.compiled.get_runtime_model().get_ordered_ops():
            info = node.get_rt_info()
            layer = str(info["layerType"].astype(str)) if "layerType" in info else node.get_type_name()
            prec = str(info["runtimePrecision"].astype(str)) if "runtimePrecision" in info else "?"
            seen.setdefault(layer, set()).add(prec.lower())
        return {k: ",".join(sorted(v)) for k, v in sorted(seen.items())}


def openvino_runners(manifest, device: str, precision: str | None = None, graphs=("encoder", "transform", "decoder"),
                     threads: int | None = None) -> dict[str, BaseRunner]:
    """One ``OpenvinoRunner`` per graph of an export, on the CPU. ``precision``: ``auto``/``bf16``/``f32``."""
    if device != "cpu":
        raise ModelError("the openvino backend runs on the CPU here (OpenVINO's GPU plugin is for Intel GPUs)",
                         fix="--device cpu, or --backend onnxruntime / tensorrt on an NVIDIA GPU")
    openvino()
    precision = resolve_precision(precision)  # a bad or unsupported precision stops here, before any compile
    quantized = set(manifest.data.get("quantization", {}).get("graphs", ()))
    keep = float32_graphs()
    return {g: OpenvinoRunner(manifest.graph_path(g), g, "f32" if g in keep else precision, threads,
                              quantized=g in quantized)
            for g in graphs}
