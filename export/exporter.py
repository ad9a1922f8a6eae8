"""``export_model``: a PyTorch model -> a validated export directory, written atomically.

    out/encoder.onnx  out/transform.onnx  out/decoder.onnx  out/manifest.json

Steps: refuse an existing ``out`` unless ``overwrite`` (and even then anything that is not a
stylert export); export the three graphs of the family's spec into a temporary sibling
directory; validate them against PyTorch (``validate.py``); write the manifest; check it with
``load_manifest``; only then rename the directory into place. Any failure removes the
temporary directory and leaves ``out`` as it was.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..core.checks import MIN_GRAPH_PSNR_DB
from ..core.files import building_directory, check_output_dir, sha256_of
from ..models.base import StyleModel
from .errors import ExportError
from .manifest import FORMAT, FORMAT_VERSION, MANIFEST_NAME, chain, load_manifest
from .onnx_graphs import export_graph, ir_version_for, save_torch_program
from .specs import GRAPHS, FamilyExportSpec, GraphSpec, get_export_spec
from .validate import DEFAULT_SIZES, TorchGraphs, ValidationReport, validate

_PREPROCESSING = {
    "vgg-normalised": "the encoder's first layer is a fixed 1x1 conv: RGB -> BGR, x255, minus the Caffe "
                      "per-channel means (normalised VGG19)",
    "vgg-torchvision": "(image - ImageNet mean) / ImageNet std, in the graph (torchvision VGG19 layout)",
}


@dataclass
class ExportResult:
    out_dir: Path
    manifest: dict
    report: ValidationReport
    seconds: dict[str, float] = field(default_factory=dict)


def routing_of(graphs: dict[str, GraphSpec]) -> dict:
    """The manifest's routing: for each graph input, where its value comes from."""
    routing = {name: {i: src.to_json() for i, src in g.sources.items()} for name, g in graphs.items()}
    routing["result"] = {"graph": "decoder", "output": "image"}
    return routing


def check_sizes(sizes, model: StyleModel) -> list[tuple[int, int]]:
    """Validation sizes: at least one; each a multiple of the size multiple and >= the minimum."""
    sizes = [tuple(int(v) for v in s) for s in sizes]
    if not sizes:
        raise ExportError("at least one validation size is needed", fix="--validate-size 224x320")
    m = model.size_multiple
    bad = [f"{h}x{w}" for h, w in sizes if h % m or w % m or min(h, w) < 2 * m]
    if bad:
        raise ExportError(f"validation sizes {', '.join(bad)} do not fit {model.family}: height and width must be "
                          f"multiples of {m} and at least {2 * m}", fix=f"e.g. --validate-size {14 * m}x{20 * m}")
    return sizes


def _check_target(out: Path, overwrite: bool) -> None:
    """``stylert.core.files.check_output_dir``: an export directory (its manifest) is replaced with
    ``overwrite``, a folder of anything else never."""
    check_output_dir(out, overwrite=overwrite, kind="export", what="export directory", owned=_is_export_dir)


def _is_export_dir(path: Path) -> bool:
    try:
        return json.loads((path / MANIFEST_NAME).read_text(encoding="utf-8")).get("format") == FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def example_inputs(spec: FamilyExportSpec, reference: dict[str, GraphSpec], routing: dict) -> dict[str, dict]:
    """Per graph, input name -> float32 tensor: the spec's dummy inputs routed through the PyTorch graphs."""
    runner = TorchGraphs(reference)
    chain(runner, routing, *spec.dummy_inputs())
    examples = {}
    for graph, feeds, _ in runner.calls:
        examples.setdefault(graph, {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in feeds.items()})
    return examples


def versions() -> dict[str, str]:
    import onnx
    import onnxruntime
    import onnxscript

    return {"stylert": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "onnxscript": onnxscript.__version__, "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version()}


def build_manifest(model: StyleModel, spec: FamilyExportSpec, graphs: dict[str, GraphSpec], files: dict[str, Path],
                   params: dict[str, int], precision: str, opset: int, report: ValidationReport) -> dict:
    m = model.size_multiple
    routing = routing_of(graphs)
    tol = spec.TOLERANCES[precision]
    style_outputs = [f"style_{c.name}" for c in spec.style_code_specs()]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "family": model.family,
        "model": {
            "config": model.config_dict(),
            "encoder_layout": model.encoder.layout,
            "checkpoint": getattr(model, "checkpoint_info", None),
            "content_taps": list(model.content_taps),
            "style_taps": list(model.style_taps),
            "decoder_inputs": list(model.decoder_inputs),
        },
        "precision": precision,
        "dtypes": {
            "inputs_outputs": "float32",
            "compute": {"fp16": "float16", "int8": "int8 (QDQ) in the encoder's and decoder's quantized layers, "
                                                   "float32 elsewhere"}.get(precision, "float32"),
            "float32_inside": "mean/variance statistics" + (" and attention logits + softmax"
                                                            if spec.style_representation == "taps" else ""),
        },
        "opset": opset,
        "ir_version": ir_version_for(opset),
        "size_multiple": m,
        "min_size": model.min_size,
        "padding": f"reflect: the runtime pads content images to multiples of {m} and crops the result back",
        "symbols": {
            "N": "batch; every graph input of one run has the same N (repeat a style of batch 1 over N)",
            "H": "height of the image the encoder runs on (content: padded to a multiple of size_multiple; "
                 "style: any height >= min_size); the decoder's output has the content's H",
            "W": "width, as H",
            "Hs": "height of the style image (transform inputs of attention families)",
            "Ws": "width of the style image",
            "X/k": "ceil(X / k): the size of an encoder tap of stride k",
        },
        "preprocessing": {
            "where": "inside the encoder graph",
            "input": "RGB float32 0..1, [N,3,H,W] (channels R, G, B; no mean/std on the runtime side)",
            "details": _PREPROCESSING[model.encoder.layout],
        },
        "postprocessing": {
            "where": "runtime",
            "steps": "clamp to 0..1 in the runtime, then crop the padding",
            "decoder_output": "RGB float32 [N,3,H,W], nominally 0..1, not clamped in the graph",
        },
        "graphs": {
            name: {
                "file": files[name].name,
                "sha256": sha256_of(files[name]),
                "bytes": files[name].stat().st_size,
                "parameters": params[name],
                "inputs": [t.to_json() for t in g.inputs],
                "outputs": [t.to_json() for t in g.outputs],
            }
            for name, g in graphs.items()
        },
        "routing": routing,
        "style": {
            **spec.style_doc(),
            "graph": "encoder",
            "image": "the style image, any size >= min_size (no padding needed)",
            "encoder_outputs": [c.name for c in spec.style_code_specs()],
            "transform_inputs": style_outputs,
        },
        "alpha": {
            "input": "alpha",
            "dtype": "float32",
            "shape": [len(model.alpha_levels)],
            "levels": list(model.alpha_levels),
            "range": [0.0, 1.0],
            "semantics": spec.alpha_doc(),
        },
        "tolerances": {
            **{name: {o: {**g.tolerance[o].to_json(),
                          **({"min_psnr_db": MIN_GRAPH_PSNR_DB[precision][name]}
                             if name in MIN_GRAPH_PSNR_DB.get(precision, {}) else {})}
                      for o in g.output_names} for name, g in graphs.items()},
            "end_to_end": {"image": {**tol["end_to_end"].to_json(), "min_psnr_db": spec.MIN_PSNR[precision]}},
        },
        "validation": report.to_json(),
        "versions": versions(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def export_model(model: StyleModel, out_dir: str | os.PathLike, *, precision: str = "fp32",
                 opset: int | None = None, sizes=DEFAULT_SIZES, overwrite: bool = False,
                 log: Callable[[str], None] | None = None, session_factory=None,
                 calibration=None, float_layers: list[str] | None = None) -> ExportResult:
    """Export ``model`` to ``out_dir`` (three ONNX graphs + manifest.json), validated at ``sizes``
    (``opset``: None for the spec's ``DEFAULT_OPSET``). ``precision="int8"`` needs ``calibration``
    (``stylert.export.quantize.CalibrationSet``); ``float_layers`` skips its sensitivity pass.

    Raises ``OutputError`` (existing directory), ``ExportError`` (export or checks failed) or a
    ``ValidationError`` (with ``.report``); in every case nothing is left behind.
    """
    out = Path(os.path.abspath(out_dir))
    _check_target(out, overwrite)
    if precision == "int8" and calibration is None:
        raise ExportError("an int8 export needs calibration images", fix="--calibration DIR")
    sizes = check_sizes(sizes, model)
    spec = get_export_spec(model)
    opset = opset or spec.DEFAULT_OPSET
    model.eval()
    reference = spec.graphs("fp32")
    graphs = reference if precision == "fp32" else spec.graphs(precision)
    routing = routing_of(reference)
    seconds: dict[str, float] = {}
    with building_directory(out, "the export", tag="export") as tmp:
        examples = example_inputs(spec, reference, routing)
        files = {}
        params = {name: count for name, count in model.describe()["parameters"].items() if name in GRAPHS}
        for name in GRAPHS:
            if log:
                log(f"exporting {name} ...")
            start = time.perf_counter()
            files[name] = tmp / f"{name}.onnx"
            export_graph(graphs[name], examples[name], files[name], opset,
                         doc=f"stylert {model.family} {name} ({precision})",
                         metadata={"stylert.family": model.family, "stylert.precision": precision})
            seconds[name] = time.perf_counter() - start
        quantization = None
        if precision == "int8":
            from .quantize import quantize_graphs

            start = time.perf_counter()
            quantization = quantize_graphs(files, routing, len(model.alpha_levels), calibration,
                                           float_layers=float_layers, log=log)
            seconds["quantization"] = time.perf_counter() - start
        start = time.perf_counter()
        report = validate(model, reference, files, routing, precision, sizes, spec.TOLERANCES[precision],
                          spec.MIN_PSNR[precision], session_factory=session_factory, log=log)
        seconds["validation"] = time.perf_counter() - start
        manifest = build_manifest(model, spec, graphs, files, params, precision, opset, report)
        if quantization is not None:
            manifest["quantization"] = quantization.to_json()
        # The float32 PyTorch programs of the same graphs: the runtime's torch backend (the reference).
        start = time.perf_counter()
        manifest["torch_programs"] = {}
        for name in GRAPHS:
            path = tmp / f"{name}.pt2"
            save_torch_program(reference[name], examples[name], path)
            manifest["torch_programs"][name] = {"file": path.name, "sha256": sha256_of(path),
                                                "bytes": path.stat().st_size, "precision": "fp32",
                                                "load": "torch.export.load(file).module()"}
        seconds["torch_programs"] = time.perf_counter() - start
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        load_manifest(tmp)  # what the runtime will read must read back
    return ExportResult(out, manifest, report, seconds)


def format_summary(result: ExportResult) -> str:
    """One line per graph: file, size, parameters, inputs -> outputs, export time."""
    m = result.manifest
    rows = [("graph", "file", "MB", "parameters", "inputs -> outputs", "export")]
    for name in GRAPHS:
        g = m["graphs"][name]
        ios = ", ".join(t["name"] for t in g["inputs"]) + " -> " + ", ".join(t["name"] for t in g["outputs"])
        rows.append((name, g["file"], f"{g['bytes'] / 2**20:.1f}", f"{g['parameters']:,}", ios,
                     f"{result.seconds.get(name, 0.0):.1f} s"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    head = (f"{m['family']} -> {result.out_dir} ({m['precision']}, opset {m['opset']}, IR version {m['ir_version']}, "
            f"size multiple {m['size_multiple']})")
    return "\n".join([head] + ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows])
