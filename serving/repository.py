"""Write a Triton model repository from a stylert export.

    REPO/
      README.md                      how to serve it (here, the NGC container, GPUs, instances)
      <name>_encoder/config.pbtxt    one model per graph, from the manifest: names, dtypes,
      <name>_encoder/1/model.onnx    dynamic dims (-1), max_batch_size + dynamic_batching where
      <name>_transform/...           every tensor has the batch dimension N first, instance_group
      <name>_decoder/...
      stylize/config.pbtxt           the BLS model (python backend): content/style/style_name/
      stylize/1/model.py             alpha/weights -> stylized (see models/stylize_model.py)
      stylize/1/stylize.json         routing and facts the BLS model needs (no stylert import)
      stylize/1/styles/<style>.npz   named styles, encoded now (stylert style-code files)

Backends of the graph models: ``onnxruntime`` (``platform: onnxruntime_onnx``; on GPU the
TensorRT execution accelerator at the export's precision, with an engine cache and one profile),
``tensorrt`` (the plans of ``stylert build`` with ``model.plan``; every optimisation profile
listed in ``instance_group.profile``), ``python`` (each graph in ONNX
Runtime inside a python-backend model, for servers whose Triton has no onnxruntime backend).

Every ``config.pbtxt`` is built as Triton's own ``ModelConfig`` protobuf (``tritonclient``),
written as text, read back and checked (:func:`validate_config`) before the repository is moved
into place.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import MissingDependencyError
from .errors import ServingError

BACKENDS = ("python", "onnxruntime", "tensorrt")
GRAPHS = ("encoder", "transform", "decoder")
STYLIZE = "stylize"
DEFAULT_MAX_PIXELS = 4096 * 4096
MODELS_DIR = Path(__file__).resolve().parent / "models"
_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "float64": "TYPE_FP64", "int64": "TYPE_INT64",
           "int32": "TYPE_INT32", "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL", "string": "TYPE_STRING"}
_MODEL_FILE = {"python": "model.py", "onnxruntime": "model.onnx", "tensorrt": "model.plan"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def model_config_pb2():
    """Triton's ``ModelConfig`` protobuf module (from tritonclient)."""
    try:
        from tritonclient.grpc import model_config_pb2 as pb
    except ImportError:
        raise MissingDependencyError("tritonclient", "pip install 'stylert[serve]'",
                                     "Triton model configs") from None
    return pb


# --------------------------------------------------------------------------------------
# config.pbtxt
# --------------------------------------------------------------------------------------
def config_from_dict(data: dict):
    """A ``ModelConfig`` message from its JSON form (unknown fields and enum names are errors)."""
    from google.protobuf import json_format

    pb = model_config_pb2()
    try:
        return json_format.ParseDict(data, pb.ModelConfig())
    except json_format.ParseError as err:
        raise ServingError(f"model {data.get('name')!r}: not a valid Triton ModelConfig: {err}") from None


def validate_config(text: str, model_dir: Path | None = None, where: str | os.PathLike | None = None):
    """Parse ``config.pbtxt`` text with Triton's ``ModelConfig`` and check what Triton checks when
    it loads one: name, backend or platform, batching, tensors, dims, instance groups, the model
    file. Returns the message; raises ServingError naming the file."""
    from google.protobuf import text_format

    pb = model_config_pb2()
    where = where or (model_dir / "config.pbtxt" if model_dir else "config.pbtxt")
    fix = "rewrite the repository with `stylert triton`"
    try:
        cfg = text_format.Parse(text, pb.ModelConfig())
    except text_format.ParseError as err:
        raise ServingError(f"is not a Triton ModelConfig: {err}", path=where, fix=fix) from None
    problems = []
    if not cfg.name:
        problems.append("no name")
    if model_dir is not None and cfg.name != model_dir.name:
        problems.append(f"name {cfg.name!r} is not its folder's {model_dir.name!r}")
    if not (cfg.backend or cfg.platform):
        problems.append("neither backend nor platform")
    if cfg.max_batch_size < 0:
        problems.append("max_batch_size < 0")
    if cfg.HasField("dynamic_batching") and cfg.max_batch_size == 0:
        problems.append("dynamic_batching needs max_batch_size > 0")
    for side, tensors in (("input", cfg.input), ("output", cfg.output)):
        names = [t.name for t in tensors]
        if len(set(names)) != len(names):
            problems.append(f"duplicate {side} names {names}")
        for t in tensors:
            if not t.name or t.data_type == pb.DataType.TYPE_INVALID:
                problems.append(f"{side} {t.name!r}: no name or no data_type")
            if not t.dims or any(d == 0 or d < -1 for d in t.dims):
                problems.append(f"{side} {t.name!r}: dims {list(t.dims)} (each -1 or > 0)")
    if not cfg.output:
        problems.append("no outputs")
    for group in cfg.instance_group:
        if group.count < 1:
            problems.append("instance_group count < 1")
        if group.kind == pb.ModelInstanceGroup.Kind.KIND_CPU and group.gpus:
            problems.append("a KIND_CPU instance_group lists gpus")
    if model_dir is not None:
        flavour = "python" if cfg.backend == "python" else (
            "tensorrt" if cfg.platform == "tensorrt_plan" or cfg.backend == "tensorrt" else "onnxruntime")
        file = model_dir / "1" / (cfg.default_model_filename or _MODEL_FILE[flavour])
        if not file.is_file():
            problems.append(f"no model file {file.relative_to(model_dir)}")
    if problems:
        raise ServingError("; ".join(problems), path=where, fix=fix)
    return cfg


def write_config(model_dir: Path, data: dict) -> str:
    """Build ``data`` as a ModelConfig, write it as ``model_dir/config.pbtxt``, read it back and validate."""
    from google.protobuf import text_format

    text = text_format.MessageToString(config_from_dict(data))
    (model_dir / "config.pbtxt").write_text(text, encoding="utf-8")
    validate_config((model_dir / "config.pbtxt").read_text(encoding="utf-8"), model_dir)
    return text


def validate_repository(repo: str | os.PathLike) -> dict:
    """Every ``*/config.pbtxt`` of ``repo`` validated -> {model name: ModelConfig}."""
    repo = Path(repo)
    found = {d.name: validate_config((d / "config.pbtxt").read_text(encoding="utf-8"), d)
             for d in sorted(repo.iterdir()) if (d / "config.pbtxt").is_file()}
    if not found:
        raise ServingError("holds no */config.pbtxt", path=repo, fix="write it with `stylert triton EXPORT_DIR -o REPO`")
    return found


# --------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------
@dataclass
class RepositoryOptions:
    backend: str = "onnxruntime"
    name: str | None = None          # model name prefix; default: the family (adain-multilevel -> adain_multilevel)
    max_batch_size: int = 8
    instances: int = 1
    device: str | None = None        # "cpu" | "gpu"; default: cpu for python, gpu otherwise
    gpus: tuple[int, ...] = ()
    queue_delay_us: int = 2000
    max_pixels: int = DEFAULT_MAX_PIXELS
    style_size: int = 512
    styles: list[tuple[str, Path]] = field(default_factory=list)  # (name, image or .npz code)
    engines: Path | None = None      # tensorrt: the engine folder (default: EXPORT/engines/tensorrt)
    trt_cache: str = "/tmp/stylert-trt-cache"  # onnxruntime on GPU: TensorRT engine cache (on the server)
    runtime: str = "onnxruntime"     # python: what runs each graph inside its model (registry.PYTHON_FLAVOUR)
    precision: str = "auto"          # python + openvino: inference precision (auto: bf16 where the CPU has it)


def parse_style(value: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (the name is the file's stem)."""
    name, sep, path = value.partition("=")
    if not sep:
        name, path = Path(value).stem, value
    if not _NAME.fullmatch(name):
        raise ServingError(f"style name {name!r} must be letters, digits, '_', '.', '-'",
                           fix="name it with NAME=PATH, e.g. --style starry=starry_night.jpg")
    return name, Path(path)


def _dims(shape, batched: bool) -> list[int]:
    dims = [d if isinstance(d, int) else -1 for d in shape]
    return dims[1:] if batched else dims


def _batchable(manifest, graph: str) -> bool:
    tensors = manifest.inputs(graph) + manifest.outputs(graph)
    return all(t["shape"] and t["shape"][0] == "N" for t in tensors)


def ort_tensorrt_parameters(manifest, graph: str, model_name: str, opts: RepositoryOptions, max_batch: int) -> dict:
    """The TensorRT accelerator's parameters of the ``onnxruntime`` flavour on GPU (names from Triton's
    onnxruntime_backend README, "Parameter mapping between ONNX Runtime and Triton ONNXRuntime Backend").

    - no ``precision_mode``: whole-graph FP16 overflows the float32 statistics of the fp16 export
      (and every op of an fp32 one); the precision is the export's, in the graph;
    - an engine cache (``trt_engine_cache_enable``, ``trt_engine_cache_path`` = ``opts.trt_cache``/
      model, a folder on the server) and one explicit profile (``trt_profile_min/opt/max_shapes``,
      ``name:NxCxHxW`` comma-separated, every input with a dynamic dimension) from the family's default profile
      (``runtime.profiles.default_profile``: within TensorRT's tensor size) up to ``max_batch``
      images, so that an engine is built once, not per image size.
    """
    from ..runtime.profiles import ShapeRange, default_profile, format_shape, graph_profiles

    # sides for one image (the transform, where attention is, runs unbatched); batch up to max_batch
    profile = default_profile(int(manifest.min_size), int(manifest.size_multiple), manifest.footprint)
    profile = ShapeRange(profile.min, profile.opt, (max(1, max_batch),) + profile.max[1:])
    dynamic = {t["name"] for t in manifest.inputs(graph) if any(not isinstance(d, int) for d in t["shape"])}
    ranges = {n: r for n, r in graph_profiles(manifest, [profile])[graph][0].items() if n in dynamic}

    def shapes(which):
        return ",".join(f"{name}:{format_shape(getattr(r, which))}" for name, r in ranges.items())

    return {"max_workspace_size_bytes": str(1 << 30),
            "trt_engine_cache_enable": "1", "trt_engine_cache_path": f"{opts.trt_cache.rstrip('/')}/{model_name}",
            "trt_profile_min_shapes": shapes("min"), "trt_profile_opt_shapes": shapes("opt"),
            "trt_profile_max_shapes": shapes("max")}


def graph_config(manifest, graph: str, model_name: str, opts: RepositoryOptions, max_batch: int | None = None,
                 profiles: int = 1) -> dict:
    """The ModelConfig (JSON form) of one graph model. ``profiles``: the TensorRT plan's optimization
    profiles, all given to the instance group (``instance_group.profile``; unset, Triton uses profile 0
    only)."""
    batched = _batchable(manifest, graph) and opts.max_batch_size > 0
    mbs = (opts.max_batch_size if max_batch is None else min(opts.max_batch_size, max_batch)) if batched else 0
    batched = mbs > 0

    def tensor(t):
        return {"name": t["name"], "data_type": _DTYPES[t["dtype"]], "dims": _dims(t["shape"], batched)}

    device = opts.device or ("cpu" if opts.backend == "python" else "gpu")
    group = {"kind": "KIND_GPU" if device == "gpu" else "KIND_CPU", "count": opts.instances}
    if device == "gpu" and opts.gpus:
        group["gpus"] = list(opts.gpus)
    cfg = {"name": model_name, "max_batch_size": mbs,
           "input": [tensor(t) for t in manifest.inputs(graph)],
           "output": [tensor(t) for t in manifest.outputs(graph)],
           "instance_group": [group]}
    if batched:
        cfg["dynamic_batching"] = {"max_queue_delay_microseconds": opts.queue_delay_us}
    if opts.backend == "python":
        cfg["backend"] = "python"
        cfg["parameters"] = {"intra_op_threads": {"string_value": "0"}, "runtime": {"string_value": opts.runtime}}
        if opts.runtime == "openvino":
            cfg["parameters"]["precision"] = {"string_value": opts.precision}
    elif opts.backend == "onnxruntime":
        cfg["platform"] = "onnxruntime_onnx"
        cfg["backend"] = "onnxruntime"
        if device == "gpu":
            cfg["optimization"] = {"execution_accelerators": {"gpu_execution_accelerator": [{
                "name": "tensorrt", "parameters": ort_tensorrt_parameters(manifest, graph, model_name, opts, mbs)}]}}
    else:
        cfg["platform"] = "tensorrt_plan"
        cfg["backend"] = "tensorrt"
        group["profile"] = [str(i) for i in range(profiles)]
    return cfg


def stylize_config(opts: RepositoryOptions, levels) -> dict:
    """The ModelConfig (JSON form) of the BLS model: the interface of models/stylize_model.py."""
    image = [-1, -1, 3]
    return {
        "name": STYLIZE, "backend": "python", "max_batch_size": 0,
        "input": [
            {"name": "content", "data_type": "TYPE_UINT8", "dims": image},
            {"name": "style", "data_type": "TYPE_UINT8", "dims": image, "optional": True},
            {"name": "style_name", "data_type": "TYPE_STRING", "dims": [-1], "optional": True},
            {"name": "alpha", "data_type": "TYPE_FP32", "dims": [-1], "optional": True},
            {"name": "weights", "data_type": "TYPE_FP32", "dims": [-1], "optional": True},
        ],
        "output": [{"name": "stylized", "data_type": "TYPE_UINT8", "dims": image}],
        "instance_group": [{"kind": "KIND_CPU", "count": opts.instances}],
        "parameters": {"alpha_levels": {"string_value": ",".join(levels)}},
    }


def stylize_spec(manifest, names: dict[str, str], styles: dict[str, str], opts: RepositoryOptions) -> dict:
    """``stylize.json``: the manifest's routing as the BLS model uses it (mirrors Pipeline.__init__)."""
    routing = manifest.routing
    transform = routing["transform"]
    d = manifest.data
    return {
        "format": "stylert-triton-stylize", "format_version": 1, "stylert": __version__,
        "family": manifest.family, "precision": manifest.precision,
        "encoder_sha256": d["graphs"]["encoder"]["sha256"],
        "graph_sha256": {g: d["graphs"][g]["sha256"] for g in GRAPHS},
        "size_multiple": manifest.size_multiple, "min_size": int(d["min_size"]),
        "representation": d["style"]["representation"],
        "alpha_levels": manifest.alpha_levels,
        "max_pixels": opts.max_pixels,
        "models": names,
        "graph_inputs": {g: {t["name"]: t["dtype"] for t in manifest.inputs(g)} for g in GRAPHS},
        "encoder_inputs": [n for n, s in routing["encoder"].items() if s.get("runtime") == "image"],
        "content_inputs": {n: s["output"] for n, s in transform.items()
                           if s.get("graph") == "encoder" and s.get("image") == "content"},
        "code_inputs": {n: s["output"] for n, s in transform.items()
                        if s.get("graph") == "encoder" and s.get("image") == "style"},
        "alpha_inputs": [n for n, s in transform.items() if s.get("runtime") == "alpha"],
        "decoder_inputs": {n: s["output"] for n, s in routing["decoder"].items()},
        "result": routing["result"]["output"],
        "styles": styles,
    }


def _encode_styles(export_dir: Path, manifest, opts: RepositoryOptions, out: Path, log) -> dict[str, str]:
    """Each ``--style`` as a style-code file in ``out`` -> {name: relative path}."""
    if not opts.styles:
        return {}
    from ..core.images import load_image, max_pixels_from_env
    from ..runtime.codes import StyleCode
    from ..runtime.pipeline import Pipeline

    names = [n for n, _ in opts.styles]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ServingError(f"style name(s) {', '.join(dupes)} given twice", fix="name them apart with NAME=PATH")
    out.mkdir(parents=True)
    sha = manifest.data["graphs"]["encoder"]["sha256"]
    stored = {}
    images = {}
    for name, path in opts.styles:  # read every style before encoding any
        if path.suffix.lower() == ".npz":
            code = StyleCode.load(path)
            code.check_for(manifest.family, sha, path)
            images[name] = code
        else:
            images[name] = load_image(path, size=opts.style_size, limit_option="--max-pixels",
                                      max_pixels=max(opts.max_pixels, max_pixels_from_env()))
    pipeline = None
    try:
        for name, path in opts.styles:
            code = images[name]
            if not isinstance(code, StyleCode):
                if pipeline is None:
                    pipeline = Pipeline.open(export_dir, "onnxruntime", "cpu").activate()
                code = pipeline.encode_style(code, source=path.name)
                code.meta.update({"style_size": opts.style_size})
            code.save(out / f"{name}.npz")
            stored[name] = f"styles/{name}.npz"
            log(f"style {name}: {path} ({code.nbytes / 1024:.1f} KB code)")
    finally:
        if pipeline is not None:
            pipeline.deactivate()
    return stored


def _tensorrt_plans(export_dir: Path, opts: RepositoryOptions):
    from ..runtime.engine_manifest import engine_dir, load_engine_manifest

    folder = opts.engines or engine_dir(export_dir, "tensorrt")
    engine = load_engine_manifest(folder, export_dir=export_dir, backend="tensorrt")
    max_n = min(p.max[0] for p in engine.profiles)
    return engine, max_n


def write_repository(export_dir: str | os.PathLike, out: str | os.PathLike, options: RepositoryOptions | None = None,
                     *, overwrite: bool = False, log=lambda message: None) -> Path:
    """Write the repository for ``export_dir`` into ``out`` (atomically: built beside it, then moved)."""
    from ..core.files import building_directory, check_output_dir
    from ..export.manifest import load_manifest

    opts = options or RepositoryOptions()
    export_dir, out = Path(export_dir), Path(out)
    if opts.backend not in BACKENDS:
        raise ServingError(f"unknown backend {opts.backend!r}", fix=f"use one of {', '.join(BACKENDS)}")
    from ..runtime.backends.registry import PYTHON_FLAVOUR

    if opts.runtime not in PYTHON_FLAVOUR:
        raise ServingError(f"{opts.runtime!r} does not run inside python-backend models",
                           fix=f"use --runtime {' or '.join(PYTHON_FLAVOUR)}")
    if opts.runtime != "onnxruntime" and opts.backend != "python":
        raise ServingError(f"--runtime {opts.runtime} is for the python flavour's graph models",
                           fix="add --backend python")
    if opts.device not in (None, "cpu", "gpu"):
        raise ServingError(f"unknown device {opts.device!r}", fix="use cpu or gpu")
    if opts.backend == "tensorrt" and opts.device == "cpu":
        raise ServingError("TensorRT plans run on GPUs only", fix="drop --device cpu, or use --backend onnxruntime")
    if opts.instances < 1 or opts.max_batch_size < 0 or opts.max_pixels < 1:
        raise ServingError("--instances and --max-pixels must be >= 1, --max-batch-size >= 0")
    if out.resolve() == export_dir.resolve() or export_dir.resolve() in out.resolve().parents:
        raise ServingError("is inside the export directory", path=out, fix="write the repository elsewhere")
    check_output_dir(out, overwrite=overwrite, kind="triton-repository", what="model repository",
                     owned=_is_stylert_repository, inputs=[export_dir, *(opts.engines and [opts.engines] or []), *(p for _, p in opts.styles)])
    manifest = load_manifest(export_dir)
    model_config_pb2()  # fail early without tritonclient
    prefix = opts.name or manifest.family.replace("-", "_")
    if not _NAME.fullmatch(prefix) or prefix == STYLIZE:
        raise ServingError(f"model name {prefix!r} must be letters, digits, '_', '.', '-' and not {STYLIZE!r}",
                           fix="pass another --name")
    names = {g: f"{prefix}_{g}" for g in GRAPHS}
    engine, max_n = _tensorrt_plans(export_dir, opts) if opts.backend == "tensorrt" else (None, None)

    with building_directory(out, "the model repository", kind="triton-repository") as tmp:
        for g in GRAPHS:
            version = tmp / names[g] / "1"
            version.mkdir(parents=True)
            if opts.backend == "tensorrt":
                shutil.copy2(engine.graph_file(g), version / "model.plan")
            else:
                shutil.copy2(manifest.graph_path(g), version / "model.onnx")
            if opts.backend == "python":
                shutil.copy2(MODELS_DIR / "graph_model.py", version / "model.py")
            write_config(tmp / names[g], graph_config(manifest, g, names[g], opts, max_n,
                                                      len(engine.profiles) if engine is not None else 1))
            log(f"{names[g]}: {opts.backend}")
        version = tmp / STYLIZE / "1"
        version.mkdir(parents=True)
        styles = _encode_styles(export_dir, manifest, opts, version / "styles", log)
        shutil.copy2(MODELS_DIR / "stylize_model.py", version / "model.py")
        spec = stylize_spec(manifest, names, styles, opts)
        (version / "stylize.json").write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
        write_config(tmp / STYLIZE, stylize_config(opts, manifest.alpha_levels))
        (tmp / "README.md").write_text(repository_readme(export_dir, manifest, names, styles, opts), encoding="utf-8")
        validate_repository(tmp)
    return out


def _is_stylert_repository(path: Path) -> bool:
    """A repository ``write_repository`` wrote before repositories carried the marker: its stylize model."""
    return (path / STYLIZE / "1" / "stylize.json").is_file() and (path / "README.md").is_file()


def repository_readme(export_dir: Path, manifest, names: dict, styles: dict, opts: RepositoryOptions) -> str:
    levels = manifest.alpha_levels
    runtime = {"onnxruntime": "ONNX Runtime", "openvino": f"OpenVINO, {opts.precision} precision"}.get(opts.runtime)
    flavour = {"python": f"python backend ({runtime} inside the model; needs `{opts.runtime}` and `numpy` in the "
                         "server's Python; the nvidia-pytriton server's stub needs `numpy<2`, see `stylert serve "
                         "--python-env`)",
               "onnxruntime": "onnxruntime backend (`onnxruntime_onnx`; on GPU with the TensorRT accelerator at the "
                              f"export's precision, engines cached in `{opts.trt_cache}` on the server)",
               "tensorrt": "tensorrt backend (`tensorrt_plan`, plans from `stylert build`; same GPU model and "
                           "TensorRT version as the build)"}[opts.backend]
    device = opts.device or ("cpu" if opts.backend == "python" else "gpu")
    named = ", ".join(f"`{n}`" for n in styles) or "none (write the repository with `--style NAME=IMAGE`)"
    package = {"onnxruntime": "onnxruntime-gpu"}.get(opts.runtime, opts.runtime)
    pip = f"pip install {package} 'numpy<2' && " if opts.backend == "python" else ""
    alpha_shape = "[1]" if len(levels) == 1 else f"[1] or [{len(levels)}]"
    return f"""# Triton model repository: {manifest.family} ({manifest.precision})

Written by stylert {__version__} (`stylert triton`) from `{export_dir}`.

| model | what |
|---|---|
| `{names['encoder']}` | encoder graph, {flavour} |
| `{names['transform']}` | transform graph (style codes + alpha per level: {', '.join(levels)}) |
| `{names['decoder']}` | decoder graph |
| `stylize` | BLS (python backend, numpy only): pad, style codes, alpha, interpolation, decoder, crop, uint8 |

Graph models run on {device.upper()} instances ({opts.instances} per device); the encoder and decoder
batch requests of one size (`max_batch_size` {opts.max_batch_size}, dynamic batching).

## The `stylize` model

| tensor | type | shape | |
|---|---|---|---|
| `content` | UINT8 | [H, W, 3] | RGB; at most {opts.max_pixels} pixels |
| `style` | UINT8 | [h, w, 3] | optional: a style image, encoded per request |
| `style_name` | BYTES | [K] | optional: named styles: {named} |
| `alpha` | FP32 | {alpha_shape} | optional: strength, one value or one per level, in [0, 1] |
| `weights` | FP32 | [S] | optional: interpolation weights (named styles first, then `style`) |
| `stylized` (out) | UINT8 | [H, W, 3] | |

## Serve it

On this machine (the `tritonserver` on PATH, or the one in the `nvidia-pytriton` wheel, which
serves the `python` flavour only):

    stylert serve REPO          # REPO: this folder; 127.0.0.1: HTTP 8000, gRPC 8001, metrics 8002
    stylert stylize --server http://127.0.0.1:8000 -c photo.jpg -s style.jpg -o out.png

With NVIDIA's container (GPUs, every backend):

    docker run --rm --gpus all -p 8000:8000 -p 8001:8001 -p 8002:8002 \\
      -v "$PWD":/models nvcr.io/nvidia/tritonserver:24.10-py3 \\
      bash -c "{pip}tritonserver --model-repository=/models"

GPUs and instances: each graph model's `instance_group` says how many copies run and where
(`count` per GPU, `gpus: [0, 1]` to pin). Rewrite with `stylert triton ... --instances N --gpus 0,1`
or edit `config.pbtxt`. Several machines: put this same folder on each and spread requests with a
load balancer (HTTP/gRPC are stateless) or a Kubernetes Deployment with readiness on
`/v2/health/ready`.
"""
