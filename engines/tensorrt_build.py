"""TensorRT plans from the export's ONNX graphs, with Polygraphy's loaders (as ``polygraphy convert`` does).

Per graph::

    network = NetworkFromOnnxPath("encoder.onnx")                      # TensorRT's ONNX parser
    network = PostprocessNetwork(network, pin_fp32_layers)             # fp16: statistics, softmax -> FP32
    config  = CreateConfig(fp16=True, precision_constraints="obey",    # BuilderFlag.FP16 +
                           profiles=[Profile().add(name, min, opt, max) # OBEY_PRECISION_CONSTRAINTS
                                     for every input],                  # one per image profile
                           load_timing_cache=cache,                     # IBuilderConfig.set_timing_cache
                           version_compatible=..., hardware_compatibility_level=AMPERE_PLUS)
    plan    = EngineBytesFromNetwork(network, config, save_timing_cache=cache)()   # build_serialized_network

Documentation followed (TensorRT 10 and Polygraphy 0.53):

* Polygraphy TensorRT loaders: ``polygraphy/backend/trt/loader.py`` (``NetworkFromOnnxPath``,
  ``PostprocessNetwork``, ``EngineBytesFromNetwork`` with ``save_timing_cache``: the cache is
  combined with what the file holds and written back), ``config.py`` (``CreateConfig``: ``fp16``
  sets ``BuilderFlag.FP16``, ``precision_constraints="obey"`` sets
  ``BuilderFlag.OBEY_PRECISION_CONSTRAINTS``, ``load_timing_cache`` -> ``create_timing_cache`` +
  ``set_timing_cache``, ``version_compatible`` -> ``BuilderFlag.VERSION_COMPATIBLE``,
  ``hardware_compatibility_level``), ``profile.py`` (``Profile.add(name, min, opt, max)``);
  https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/polygraphy/backend/trt/profile.html
* Layer precision: ``ILayer.precision`` and ``ILayer.set_output_type(i, DataType.FLOAT)`` only
  bind with ``OBEY_PRECISION_CONSTRAINTS`` (TensorRT developer guide, "Reduced Precision" /
  "Layer-Level Control of Precision").
* Timing cache: ``IBuilderConfig.create_timing_cache(bytes)``, ``set_timing_cache(cache,
  ignore_mismatch=False)``, ``get_timing_cache().serialize()`` (``ITimingCache`` Python API,
  https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/TimingCache.html).
* Version and hardware compatibility: ``BuilderFlag.VERSION_COMPATIBLE`` (plans that later
  TensorRT runtimes run; the runtime must set ``engine_host_code_allowed``) and
  ``HardwareCompatibilityLevel.AMPERE_PLUS`` (any GPU of compute capability 8.0 or newer),
  https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/advanced.html
* Optimization profiles: ``IOptimizationProfile`` (min/opt/max per input; one profile is selected
  per execution context at run time),
  https://docs.nvidia.com/deeplearning/tensorrt/api/python_api/infer/Core/OptimizationProfile.html

INT8 (``--precision int8``, an int8 export): the encoder and decoder are built from the export's
TensorRT QDQ variants (``quantization.tensorrt.graphs`` in its manifest: int8 activations with
zero point 0 and per-channel int8 weights, the only quantization TensorRT's explicit mode
takes) as strongly typed networks (``NetworkFromOnnxPath(..., strongly_typed=True)``,
``NetworkDefinitionCreationFlag.STRONGLY_TYPED``): TensorRT then runs each layer in the type
the Q/DQ nodes give it and, as its documentation says for explicit quantization ("Use explicit
quantization with Strong Typing. Precision-control build flags are not required and should
not be specified", developer guide, "Explicit Quantization",
https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/quantized-types-explicit-quantization.html),
no INT8/FP16 builder flags are set for them; layers left float (the sensitive convs, the
statistics) run in FP32. The transform graph has no Q/DQ and builds as in fp16 (FP16, its
statistics pinned to FP32).

This module cannot run on machines without TensorRT (all of this project's); it is exercised
where ``tensorrt`` imports and a GPU is present.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path

from ..core.files import atomic_write, sha256_of
from ..core.providers import import_tensorrt
from ..errors import EngineBuildError, MissingDependencyError
from ..export.manifest import GRAPH_NAMES, Manifest
from ..runtime.engine_manifest import source_of
from ..runtime.profiles import ShapeRange, graph_profiles
from .fp32_layers import Fp32Plan, fp32_plan

#: Layer types that never carry a float computation to pin (shape arithmetic, constants).
_SKIP_LAYER_TYPES = ("SHAPE", "CONSTANT", "IDENTITY", "CAST", "ASSERTION")


def _polygraphy_trt():
    try:
        from polygraphy.backend import trt as poly_trt
    except ImportError:
        raise MissingDependencyError("polygraphy", "pip install polygraphy", "TensorRT builds") from None
    return poly_trt


def pin_fp32_layers(network, plan: Fp32Plan, pinned: list[str], unmatched: list[str]) -> None:
    """``PostprocessNetwork`` callback: every layer that computes one of ``plan``'s ONNX nodes runs in FP32.

    TensorRT's ONNX parser names a node's layer after the node and its output tensors after the
    node's outputs; a layer matches by either. Layers whose outputs are not float (shape
    arithmetic) are left alone. ``pinned``/``unmatched`` collect layer and node names.
    """
    trt = import_tensorrt()
    skip = {getattr(trt.LayerType, name) for name in _SKIP_LAYER_TYPES if hasattr(trt.LayerType, name)}
    floats = (trt.float32, trt.float16)
    hit_nodes = set()
    for index in range(network.num_layers):
        layer = network.get_layer(index)
        outputs = [layer.get_output(j) for j in range(layer.num_outputs)]
        by_name = layer.name in plan.nodes
        by_tensor = [t.name for t in outputs if t.name in plan.tensors]
        if not (by_name or by_tensor) or layer.type in skip:
            continue
        if not outputs or not all(t.dtype in floats for t in outputs):
            continue
        layer.precision = trt.float32
        for j in range(layer.num_outputs):
            layer.set_output_type(j, trt.float32)
        pinned.append(layer.name)
        hit_nodes.add(layer.name)
        hit_nodes.update(n for n, tensors in plan.outputs.items() if set(tensors) & set(by_tensor))
    unmatched.extend(n for n in plan.nodes if n not in hit_nodes)


def trt_profiles(ranges_per_profile: list[dict[str, ShapeRange]]):
    """Polygraphy ``Profile``s: every input of the graph with its min/opt/max, one per image profile."""
    poly_trt = _polygraphy_trt()
    out = []
    for ranges in ranges_per_profile:
        profile = poly_trt.Profile()
        for name, r in ranges.items():
            profile.add(name, min=list(r.min), opt=list(r.opt), max=list(r.max))
        out.append(profile)
    return out


def build_plan(onnx_path: Path, plan_path: Path, ranges_per_profile: list[dict[str, ShapeRange]], precision: str,
               timing_cache: Path, *, version_compatible: bool = False, hardware_compatible: bool = False) -> dict:
    """One ONNX graph -> one serialized plan at ``plan_path``; returns what the engine manifest records."""
    trt = import_tensorrt()
    poly_trt = _polygraphy_trt()
    from polygraphy.exception import PolygraphyException

    typed = precision == "int8" and _has_qdq(onnx_path)  # explicit quantization: strongly typed, no flags
    fp16 = precision == "fp16" or (precision == "int8" and not typed)
    plan = fp32_plan(onnx_path) if fp16 else Fp32Plan()
    pinned: list[str] = []
    unmatched: list[str] = []
    network = (poly_trt.NetworkFromOnnxPath(str(onnx_path), strongly_typed=True) if typed
               else poly_trt.NetworkFromOnnxPath(str(onnx_path)))
    if fp16 and plan.nodes:
        network = poly_trt.PostprocessNetwork(
            network, functools.partial(pin_fp32_layers, plan=plan, pinned=pinned, unmatched=unmatched),
            name="stylert: statistics, powers and softmax in FP32")
    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    config = poly_trt.CreateConfig(
        fp16=fp16,
        precision_constraints="obey" if fp16 else None,
        profiles=trt_profiles(ranges_per_profile),
        load_timing_cache=str(timing_cache),  # a missing file: Polygraphy warns and starts an empty cache
        version_compatible=version_compatible or None,
        hardware_compatibility_level=trt.HardwareCompatibilityLevel.AMPERE_PLUS if hardware_compatible else None,
        profiling_verbosity=trt.ProfilingVerbosity.DETAILED,
    )
    start = time.perf_counter()
    try:
        serialized = poly_trt.EngineBytesFromNetwork(network, config=config, save_timing_cache=str(timing_cache))()
    except PolygraphyException as err:
        raise EngineBuildError(f"TensorRT could not build {onnx_path.name}: {str(err).strip().splitlines()[-1]}",
                               path=onnx_path, fix="see TensorRT's log above") from err
    seconds = time.perf_counter() - start
    if fp16 and plan.nodes and not pinned:
        raise EngineBuildError(f"none of the {len(plan.nodes)} FP32 nodes of {onnx_path.name} matched a TensorRT "
                               "layer: an FP16 plan would overflow in its statistics", path=onnx_path,
                               fix="--precision fp32, and report the TensorRT version")
    with atomic_write(plan_path, overwrite=True) as tmp, open(tmp, "wb") as f:
        f.write(memoryview(serialized))
    return {"build_seconds": round(seconds, 2), "strongly_typed": typed, "fp16": fp16,
            "fp32_layers": pinned, "fp32_nodes": plan.nodes,
            "fp32_unmatched_nodes": unmatched, "fp32_op_types": plan.summary()}


def _has_qdq(onnx_path: Path) -> bool:
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)


def source_graph(export: Manifest, graph: str, precision: str) -> tuple[Path, str]:
    """The ONNX file a plan is built from and its SHA-256 (``source_of``: for int8, the TensorRT QDQ
    variant an int8 export holds for a quantized graph), checked against the manifest."""
    path, sha = source_of(export, "tensorrt", graph, precision)
    if not path.is_file() or sha256_of(path) != sha:
        raise EngineBuildError(f"{path.name} is missing or does not match the manifest's SHA-256", path=path,
                               fix="re-export with `stylert export`")
    return path, sha


def build(export: Manifest, out_dir: Path, profiles: list[ShapeRange], precision: str, timing_cache: Path, *,
          version_compatible: bool = False, hardware_compatible: bool = False,
          log: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """The three plans into ``out_dir``; returns (graphs entry, builder entry) of ``engine.json``."""
    trt = import_tensorrt()
    _polygraphy_trt()
    import torch

    if not torch.cuda.is_available():
        raise EngineBuildError("TensorRT builds need a CUDA GPU and torch sees none on this machine",
                               fix="build on the GPU machine that will run the engines")
    per_graph = graph_profiles(export, profiles)
    graphs = {}
    for g in GRAPH_NAMES:
        onnx_path, source_sha = source_graph(export, g, precision)
        plan_path = out_dir / f"{g}.plan"
        if log:
            log(f"  {g}: building {precision} plan from {onnx_path.name} ...")
        info = build_plan(onnx_path, plan_path, per_graph[g], precision, timing_cache,
                          version_compatible=version_compatible, hardware_compatible=hardware_compatible)
        graphs[g] = {"file": plan_path.name, "sha256": sha256_of(plan_path), "bytes": plan_path.stat().st_size,
                     "source": {"file": onnx_path.name, "sha256": source_sha},
                     "profiles": [{n: r.to_json() for n, r in p.items()} for p in per_graph[g]], **info}
        if log:
            log(f"  {g}: {graphs[g]['bytes'] / 2**20:.1f} MB in {info['build_seconds']:.1f} s, "
                f"{len(info['fp32_layers'])} layers pinned to FP32")
    flags = (["FP16", "OBEY_PRECISION_CONSTRAINTS"] if precision in ("fp16", "int8") else []) + (
        ["STRONGLY_TYPED (encoder, decoder: explicit Q/DQ; no precision flags)"] if precision == "int8" else []) + (
        ["VERSION_COMPATIBLE"] if version_compatible else [])
    builder = {
        "builder": "polygraphy.backend.trt (NetworkFromOnnxPath, PostprocessNetwork, CreateConfig, "
                   "EngineBytesFromNetwork)",
        "flags": flags,
        "precision_constraints": "obey" if precision in ("fp16", "int8") else None,
        "version_compatible": bool(version_compatible),
        "hardware_compatibility": "ampere_plus" if hardware_compatible else "none",
        "timing_cache": str(timing_cache),
        "tensorrt": trt.__version__,
    }
    return graphs, builder
