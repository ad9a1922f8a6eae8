"""TensorRT plans from the export's ONNX graphs, strongly typed, with Polygraphy's loaders.

Per graph::

    network = NetworkFromOnnxPath("encoder.onnx", strongly_typed=True)  # NetworkDefinitionCreationFlag.STRONGLY_TYPED
    network = PostprocessNetwork(network, record)                        # reads the parsed tensors' types (no change)
    config  = CreateConfig(profiles=[Profile().add(name, min, opt, max)  # one per image profile, every input
                                     for every input],
                           load_timing_cache=cache,                      # IBuilderConfig.set_timing_cache
                           version_compatible=..., hardware_compatibility_level=AMPERE_PLUS)
    config  = PostprocessConfig(config, check)                           # reads back the flags set: no FP16/INT8/
                                                                         # precision-constraint flag may be on
    plan    = EngineBytesFromNetwork(network, config, save_timing_cache=cache)()   # build_serialized_network

One path for TensorRT 10.x and 11.x (``tensorrt_path``): a strongly typed network takes every
tensor's type from the ONNX graph, so the precision of a plan is the precision of the graph it
is built from, and no precision flag is set:

* ``fp16``: the graphs of an fp16 export (``stylert export --precision fp16``): float16 weights
  and activations, with the mean/variance statistics, the attention logits and softmax in
  float32 inside the graph (``fp32_layers.fp16_graph_problems`` checks that before the build);
* ``int8``: the encoder and decoder from an int8 export's TensorRT QDQ variants
  (``encoder.tensorrt.onnx``: symmetric int8 weights and activations, zero point 0, float32
  biases; ``export.quantize.tensorrt_qdq_problems`` checks them), the transform from its float32
  graph; layers the Q/DQ nodes leave float run in float32;
* ``fp32``: the graphs of an fp32 export. (Polygraphy clears ``BuilderFlag.TF32`` unless asked.)

Why: TensorRT 11 removed ``BuilderFlag.FP16``/``INT8``/``OBEY_PRECISION_CONSTRAINTS`` and layer
precision (``ILayer.precision``): its bindings say "Deprecated in TensorRT 11.0. Strongly typed
mode is always enabled"; TensorRT 10.12-10.16 deprecate them, "superseded by strong typing".
For explicit quantization the developer guide says: "Use explicit quantization with Strong
Typing. Precision-control build flags are not required and should not be specified"
(https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/quantized-types-explicit-quantization.html).
TensorRT older than 10.0 is refused (``STRONGLY_TYPED`` and the name-based I/O API the runtime
uses came with 10.0); no weakly typed path is kept.

Documentation followed (TensorRT 10/11 Python API, Polygraphy 0.53):

* Polygraphy TensorRT loaders: ``polygraphy/backend/trt/loader.py`` (``NetworkFromOnnxPath(path,
  strongly_typed=True)`` -> ``CreateNetwork``: ``1 << NetworkDefinitionCreationFlag.STRONGLY_TYPED``;
  ``PostprocessNetwork(network, func)``: ``func(network=...)``; ``EngineBytesFromNetwork`` with
  ``save_timing_cache``), ``config.py`` (``CreateConfig``: ``load_timing_cache`` ->
  ``create_timing_cache`` + ``set_timing_cache``, ``version_compatible`` ->
  ``BuilderFlag.VERSION_COMPATIBLE``, ``hardware_compatibility_level``; ``PostprocessConfig(config,
  func)``: ``func(builder, network, config)``), ``profile.py`` (``Profile.add(name, min, opt, max)``).
* ``IBuilderConfig.get_flag(BuilderFlag)``, ``INetworkDefinition.get_flag(NetworkDefinitionCreationFlag)``,
  ``ITensor.dtype``; timing cache: ``ITimingCache``
  (https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/python-api/infer/Core/TimingCache.html).
* Version and hardware compatibility: ``BuilderFlag.VERSION_COMPATIBLE`` (the runtime must set
  ``engine_host_code_allowed``) and ``HardwareCompatibilityLevel.AMPERE_PLUS``,
  https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/advanced.html

Every ``tensorrt`` name used here and in the runtime is checked against the bindings of the
versions claimed (``engines/trt_api_check.py``); the build itself has not run on a GPU here.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from pathlib import Path

from ..core.files import atomic_write, sha256_of
from ..core.providers import import_tensorrt
from ..errors import EngineBuildError, MissingDependencyError
from ..export.manifest import GRAPH_NAMES, Manifest
from ..runtime.engine_manifest import source_of
from ..runtime.profiles import ShapeRange, graph_profiles

#: TensorRT major versions this build path is written and checked for (``trt_api_check.CLAIMED``).
SUPPORTED_MAJORS = (10, 11)
#: Builder flags that set precision the weakly typed way: none may be on in a strongly typed build
#: (some are gone from TensorRT 11's bindings; the names are compared as strings).
PRECISION_FLAGS = ("FP16", "BF16", "INT8", "FP8", "INT4", "FP4", "OBEY_PRECISION_CONSTRAINTS",
                   "PREFER_PRECISION_CONSTRAINTS")


def _polygraphy_trt():
    try:
        from polygraphy.backend import trt as poly_trt
    except ImportError:
        raise MissingDependencyError("polygraphy", "pip install polygraphy", "TensorRT builds") from None
    return poly_trt


def version_tuple(version: str) -> tuple[int, ...]:
    """``"10.16.1.11"`` -> ``(10, 16, 1, 11)`` (leading digits of each part)."""
    out = []
    for part in str(version).split("."):
        m = re.match(r"\d+", part)
        if not m:
            break
        out.append(int(m.group()))
    return tuple(out)


def tensorrt_path(version: str) -> dict:
    """How plans are built with TensorRT ``version``: ``{"tensorrt", "path", "network_flags", "line"}``.

    Raises EngineBuildError for TensorRT older than 10.0. A major version newer than the ones
    checked (``SUPPORTED_MAJORS``) builds the same way, with a note that it is unchecked.
    """
    v = version_tuple(version)
    major = v[0] if v else 0
    if major < SUPPORTED_MAJORS[0]:
        raise EngineBuildError(f"TensorRT {version} is older than 10.0, the oldest this build supports (strongly "
                               "typed networks, tensors by name)", fix="pip install 'stylert[tensorrt]' (TensorRT "
                                                                       "10.x or 11.x)")
    if major == 10:
        how = "strongly typed (NetworkDefinitionCreationFlag.STRONGLY_TYPED)"
    else:
        how = "strongly typed (always on since TensorRT 11)"
    note = "" if major in SUPPORTED_MAJORS else (f"; TensorRT {major} is newer than the versions checked "
                                                  f"({', '.join(f'{m}.x' for m in SUPPORTED_MAJORS)})")
    line = (f"TensorRT {version}: {how}; precision from the ONNX graph (fp16 from an fp16 export, int8 from the QDQ "
            f"graphs of an int8 export, fp32 from an fp32 export), no precision builder flags{note}")
    return {"tensorrt": str(version), "path": "strongly_typed", "network_flags": ["STRONGLY_TYPED"], "line": line}


def record_network(network, out: dict) -> None:
    """``PostprocessNetwork`` callback: what the strongly typed parse made, changing nothing.

    ``out["strongly_typed"]``: TensorRT 10: ``network.get_flag(STRONGLY_TYPED)``; TensorRT 11: True
    (its bindings: the flag is "retained for API compatibility but is ignored", strong typing is
    always on); ``out["layer_output_types"]``: data type name -> number of layer outputs of that
    type (e.g. ``{"HALF": 120, "FLOAT": 40}``)."""
    trt = import_tensorrt()
    flag = bool(network.get_flag(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    out["strongly_typed"] = flag or version_tuple(trt.__version__)[:1] >= (11,)
    counts: dict[str, int] = {}
    for i in range(network.num_layers):
        layer = network.get_layer(i)
        for j in range(layer.num_outputs):
            name = getattr(layer.get_output(j).dtype, "name", str(layer.get_output(j).dtype))
            counts[name] = counts.get(name, 0) + 1
    out["layer_output_types"] = dict(sorted(counts.items()))


def check_config(builder, network, config, out: dict) -> None:
    """``PostprocessConfig`` callback: records the builder flags really set (``out["builder_flags"]``)
    and refuses any precision flag (``PRECISION_FLAGS``): a strongly typed build takes none."""
    trt = import_tensorrt()
    members = getattr(trt.BuilderFlag, "__members__", {})
    on = sorted(name for name, flag in members.items() if config.get_flag(flag))
    out["builder_flags"] = on
    bad = [f for f in on if f in PRECISION_FLAGS]
    if bad:
        raise EngineBuildError(f"precision builder flags {', '.join(bad)} are set on a strongly typed build",
                               fix="report this with the TensorRT and Polygraphy versions")


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


def build_plan(onnx_path: Path, plan_path: Path, ranges_per_profile: list[dict[str, ShapeRange]],
               timing_cache: Path, *, version_compatible: bool = False, hardware_compatible: bool = False) -> dict:
    """One ONNX graph -> one serialized strongly typed plan at ``plan_path``; returns what the engine
    manifest records for it (build seconds, network flag, layer output types, builder flags set)."""
    trt = import_tensorrt()
    poly_trt = _polygraphy_trt()
    from polygraphy.exception import PolygraphyException

    seen: dict = {}
    network = poly_trt.NetworkFromOnnxPath(str(onnx_path), strongly_typed=True)
    network = poly_trt.PostprocessNetwork(network, functools.partial(record_network, out=seen),
                                          name="stylert: record the parsed types")
    timing_cache.parent.mkdir(parents=True, exist_ok=True)
    config = poly_trt.CreateConfig(
        profiles=trt_profiles(ranges_per_profile),
        load_timing_cache=str(timing_cache),  # a missing file: Polygraphy warns and starts an empty cache
        version_compatible=version_compatible or None,
        hardware_compatibility_level=trt.HardwareCompatibilityLevel.AMPERE_PLUS if hardware_compatible else None,
        profiling_verbosity=trt.ProfilingVerbosity.DETAILED,
    )
    config = poly_trt.PostprocessConfig(config, functools.partial(check_config, out=seen))
    start = time.perf_counter()
    try:
        serialized = poly_trt.EngineBytesFromNetwork(network, config=config, save_timing_cache=str(timing_cache))()
    except PolygraphyException as err:
        raise EngineBuildError(f"TensorRT could not build {onnx_path.name}: {str(err).strip().splitlines()[-1]}",
                               path=onnx_path, fix="see TensorRT's log above") from err
    seconds = time.perf_counter() - start
    if serialized is None:
        raise EngineBuildError(f"TensorRT built no plan for {onnx_path.name}", path=onnx_path,
                               fix="see TensorRT's log above")
    if not seen.get("strongly_typed"):
        raise EngineBuildError(f"the network of {onnx_path.name} was not created strongly typed", path=onnx_path,
                               fix="pip install -U polygraphy (NetworkFromOnnxPath(strongly_typed=True))")
    with atomic_write(plan_path, overwrite=True) as tmp, open(tmp, "wb") as f:
        f.write(memoryview(serialized))
    return {"build_seconds": round(seconds, 2), "strongly_typed": True,
            "layer_output_types": seen.get("layer_output_types", {}),
            "builder_flags": seen.get("builder_flags", [])}


def check_source(path: Path, graph: str, precision: str) -> None:
    """Refuse a source graph a strongly typed ``precision`` plan cannot come from: an fp16 graph whose
    statistics/softmax are float16 (``fp16_graph_problems``), a QDQ graph TensorRT would not parse
    (``tensorrt_qdq_problems``: INT32 biases of an int8 export made before they were kept float)."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    if precision == "fp16":
        from .fp32_layers import fp16_graph_problems

        problems = fp16_graph_problems(model)
        what = "an fp16 plan would overflow in float16"
    elif precision == "int8" and any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node):
        from ..export.quantize import tensorrt_qdq_problems

        problems = tensorrt_qdq_problems(model)
        what = "TensorRT's ONNX parser would refuse it"
    else:
        return
    if problems:
        raise EngineBuildError(f"the {graph} graph {path.name}: {problems[0]} ({len(problems)} problem(s)): {what}",
                               path=path, fix=f"re-export with `stylert export --precision {precision}` "
                                              "(this stylert's export)")


def source_graph(export: Manifest, graph: str, precision: str) -> tuple[Path, str]:
    """The ONNX file a plan is built from and its SHA-256 (``source_of``: for int8, the TensorRT QDQ
    variant an int8 export holds for a quantized graph), checked against the manifest and
    ``check_source``."""
    path, sha = source_of(export, "tensorrt", graph, precision)
    if not path.is_file() or sha256_of(path) != sha:
        raise EngineBuildError(f"{path.name} is missing or does not match the manifest's SHA-256", path=path,
                               fix="re-export with `stylert export`")
    check_source(path, graph, precision)
    return path, sha


def build(export: Manifest, out_dir: Path, profiles: list[ShapeRange], precision: str, timing_cache: Path, *,
          version_compatible: bool = False, hardware_compatible: bool = False,
          log: Callable[[str], None] | None = None) -> tuple[dict, dict]:
    """The three plans into ``out_dir``; returns (graphs entry, builder entry) of ``engine.json``."""
    trt = import_tensorrt()
    _polygraphy_trt()
    import torch

    path = tensorrt_path(trt.__version__)  # refuses TensorRT < 10 (build_engines has said which path)
    if precision != export.precision:
        raise EngineBuildError(f"{precision} plans are built from an {precision} export; {export.root} is "
                               f"{export.precision}", path=export.root,
                               fix=f"stylert export ... --precision {precision} -o OUT, then stylert build OUT")
    if not torch.cuda.is_available():
        raise EngineBuildError("TensorRT builds need a CUDA GPU and torch sees none on this machine",
                               fix="build on the GPU machine that will run the engines")
    per_graph = graph_profiles(export, profiles)
    sources = {g: source_graph(export, g, precision) for g in GRAPH_NAMES}  # every graph checked before building
    graphs = {}
    for g in GRAPH_NAMES:
        onnx_path, source_sha = sources[g]
        plan_path = out_dir / f"{g}.plan"
        if log:
            log(f"  {g}: building a strongly typed {precision} plan from {onnx_path.name} ...")
        info = build_plan(onnx_path, plan_path, per_graph[g], timing_cache,
                          version_compatible=version_compatible, hardware_compatible=hardware_compatible)
        graphs[g] = {"file": plan_path.name, "sha256": sha256_of(plan_path), "bytes": plan_path.stat().st_size,
                     "source": {"file": onnx_path.name, "sha256": source_sha},
                     "profiles": [{n: r.to_json() for n, r in p.items()} for p in per_graph[g]], **info}
        if log:
            types = ", ".join(f"{k} {v}" for k, v in info["layer_output_types"].items())
            log(f"  {g}: {graphs[g]['bytes'] / 2**20:.1f} MB in {info['build_seconds']:.1f} s (layer outputs: "
                f"{types or 'n/a'})")
    builder_flags = sorted({f for info in graphs.values() for f in info["builder_flags"]})
    builder = {
        "builder": "polygraphy.backend.trt (NetworkFromOnnxPath(strongly_typed=True), PostprocessNetwork, "
                   "CreateConfig, PostprocessConfig, EngineBytesFromNetwork)",
        "path": path["path"],
        "network_flags": path["network_flags"],
        "flags": builder_flags,  # read back from every graph's IBuilderConfig
        "precision_from": {"fp16": "the fp16 export's graphs (float16, statistics and softmax float32)",
                           "int8": "the int8 export's TensorRT QDQ graphs (encoder, decoder) and float32 transform",
                           "fp32": "the fp32 export's graphs"}[precision],
        "precision_constraints": None,
        "version_compatible": bool(version_compatible),
        "hardware_compatibility": "ampere_plus" if hardware_compatible else "none",
        "timing_cache": str(timing_cache),
        "tensorrt": trt.__version__,
    }
    return graphs, builder
