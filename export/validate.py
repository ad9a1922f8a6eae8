"""Export-time validation: the ONNX graphs in ONNX Runtime against PyTorch, on the same inputs.

In Optimum's order, per graph: input/output names (``OutputNameError``), then shapes
(``ShapeError``), then values (``AtolError`` when ``max|onnx - torch| > atol + rtol *
max|torch|``). Each graph runs on the inputs the PyTorch reference graphs route to it (the
encoder on a content and on a style image of another, non-multiple size), at every
validation size (the first with batch 2); then the three ONNX graphs chained by the
manifest's routing run end to end against the PyTorch model's own API
(``decode(transfer(encode(c), encode_style(s), alpha))``), compared by max difference and PSNR
of the clamped images.

References are always the float32 PyTorch model: the fp16 variant's differences are those of
float16 against float32. fp32 graphs run on ONNX Runtime's CPU provider; fp16 graphs on the
CUDA provider where one really runs, else the CPU provider. A graph that ONNX Runtime cannot
run on its provider (no float16 kernel for an op) is reported as *not run*, with the reason,
never skipped silently.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.checks import MIN_GRAPH_PSNR_DB, RULE, Check, Tolerance, check
from ..core.providers import cuda_provider_loads
from .errors import AtolError, OutputNameError, ShapeError, ValidationError
from .inputs import alpha_values, style_size, synthetic_images
from .manifest import chain
from .specs import GRAPHS, GraphSpec

#: Default validation sizes (H, W): non-square, multiples of 16, not multiples of 64.
DEFAULT_SIZES = ((224, 320), (304, 400))


@dataclass
class ValidationReport:
    precision: str
    provider: str
    onnxruntime: str
    sizes: list[str]
    checks: list[Check] = field(default_factory=list)
    not_run: dict[str, str] = field(default_factory=dict)  # graph -> why ONNX Runtime could not run it

    @property
    def status(self) -> str:
        if any(not c.ok for c in self.checks):
            return "failed"
        return "not-run" if self.not_run else "passed"

    @property
    def failures(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def summary(self) -> str:
        psnrs = [c.psnr for c in self.checks if c.graph == "end-to-end"]
        text = (f"{self.status}: {len(self.checks)} outputs compared at {len(self.sizes)} sizes "
                f"({', '.join(self.sizes)}) on {self.provider}")
        if psnrs:
            text += f"; end-to-end PSNR >= {min(psnrs):.1f} dB"
        if self.not_run:
            text += "; NOT RUN: " + "; ".join(f"{g}: {why}" for g, why in self.not_run.items())
        return text

    def to_json(self) -> dict:
        out = {"status": self.status, "summary": self.summary(), "precision": self.precision,
               "provider": self.provider, "onnxruntime": self.onnxruntime, "sizes": self.sizes,
               "rule": RULE + " (want: PyTorch float32)",
               "checks": [_round(asdict(c)) for c in self.checks]}
        if self.not_run:
            out["not_run"] = self.not_run
        return out

    def format(self) -> str:
        """The report as a table: one line per graph output and validation size."""
        head = (f"validation: {self.precision} graphs on ONNX Runtime {self.onnxruntime} {self.provider} vs PyTorch "
                f"float32; pass if max|onnx - torch| <= atol + rtol * max|torch|")
        rows = [("graph", "inputs", "output", "shape", "max abs", "max rel", "tolerance", "PSNR", "result")]
        for c in self.checks:
            psnr = f"{c.psnr:.1f} dB" + ("" if c.min_psnr is None else f" (min {c.min_psnr:g})")
            rows.append((c.graph, c.inputs, c.output, "x".join(map(str, c.shape)), f"{c.max_abs:.2e}",
                         f"{c.max_rel:.2e}", f"{c.allowed:.2e}", psnr, "pass" if c.ok else "FAIL"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = [head] + ["  " + "  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
        for graph, why in self.not_run.items():
            lines.append(f"  NOT RUN {graph}: {why}")
        lines.append(f"  => {self.summary()}")
        return "\n".join(lines)


def _round(d: dict) -> dict:
    """A check as JSON: 4 significant digits, non-finite numbers as null, empty fields left out."""
    out = {}
    for k, v in d.items():
        if k in ("backend", "error") and not v:
            continue
        if isinstance(v, float):
            v = float(f"{v:.4g}") if math.isfinite(v) else None
        out[k] = list(v) if isinstance(v, tuple) else v
    return out


# --------------------------------------------------------------------------------------
# Runners: graph name + feeds -> outputs, numpy in and out
# --------------------------------------------------------------------------------------
class TorchGraphs:
    """The float32 PyTorch graph modules (the reference), recording every call."""

    def __init__(self, graphs: dict[str, GraphSpec]):
        self.graphs = graphs
        self.calls: list[tuple[str, dict, dict]] = []

    @torch.no_grad()
    def __call__(self, graph: str, feeds: dict) -> dict:
        spec = self.graphs[graph]
        args = [torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in spec.input_names]
        out = {n: t.numpy() for n, t in zip(spec.output_names, spec.module(*args))}
        self.calls.append((graph, feeds, out))
        return out


def _unsupported(err: Exception) -> str | None:
    """Why ONNX Runtime cannot run a graph on this provider (a missing kernel), else None."""
    text = str(err)
    if type(err).__name__ in ("NotImplemented", "NotImplementedError") or "Could not find an implementation" in text:
        first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
        return first[:300]
    return None


# Whether ONNX Runtime's CUDA provider really runs here: the runtime's probe, cached.
cuda_provider_works = cuda_provider_loads


def choose_providers(precision: str) -> list:
    """fp32: the CPU provider. fp16: CUDA (TF32 off) where it really runs, else CPU."""
    if precision == "fp16" and cuda_provider_works():
        return [("CUDAExecutionProvider", {"use_tf32": 0}), "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def make_session(path: Path, providers: list):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


class OnnxRuntimeGraphs:
    """ONNX Runtime sessions of the exported graphs; a graph it cannot run is kept in ``not_run``."""

    def __init__(self, files: dict[str, Path], providers: list,
                 session_factory: Callable[[Path, list], object] | None = None):
        factory = session_factory or make_session
        self.sessions: dict[str, object] = {}
        self.not_run: dict[str, str] = {}
        self.provider = "CPUExecutionProvider"
        for graph in GRAPHS:
            try:
                self.sessions[graph] = factory(files[graph], providers)
            except Exception as err:  # ORT raises its own pybind types; only a missing kernel is tolerated
                reason = _unsupported(err)
                if reason is None:
                    raise ValidationError(f"ONNX Runtime cannot load the {graph} graph: {err}", path=files[graph],
                                          fix="re-export; report the bug if it persists") from err
                self.not_run[graph] = reason
        for s in self.sessions.values():
            self.provider = s.get_providers()[0]
            break

    def input_names(self, graph: str) -> list[str]:
        return [i.name for i in self.sessions[graph].get_inputs()]

    def output_names(self, graph: str) -> list[str]:
        return [o.name for o in self.sessions[graph].get_outputs()]

    def __call__(self, graph: str, feeds: dict) -> dict:
        session = self.sessions[graph]
        names = self.output_names(graph)
        try:
            values = session.run(names, {k: np.ascontiguousarray(v, np.float32) for k, v in feeds.items()})
        except Exception as err:
            reason = _unsupported(err)
            if reason is None:
                raise ValidationError(f"ONNX Runtime failed to run the {graph} graph: {err}") from err
            self.not_run[graph] = reason
            raise _NotRunnable(graph) from err
        return dict(zip(names, values))


class _NotRunnable(Exception):
    pass


# --------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------
def compare(graph: str, inputs: str, name: str, got: np.ndarray, want: np.ndarray, tol: Tolerance,
            min_psnr: float | None = None) -> Check:
    """One output against PyTorch (``stylert.core.checks.check``); a shape mismatch raises ``ShapeError``."""
    try:
        return check(graph, name, inputs, got, want, tol, min_psnr=min_psnr, image=graph == "end-to-end")
    except ValueError as err:
        raise ShapeError(f"{err} ({inputs})", fix="check the export spec's symbolic axes") from None


def _shape(x: np.ndarray) -> str:
    return "x".join(str(d) for d in (x.shape[0], *x.shape[2:]))


def validate(model, reference: dict[str, GraphSpec], files: dict[str, Path], routing: dict, precision: str,
             sizes, tolerances: dict[str, Tolerance], min_psnr: float, *, providers: list | None = None,
             session_factory=None, log: Callable[[str], None] | None = None) -> ValidationReport:
    """Validate the exported ``files`` against ``reference`` (float32 graph specs of ``model``).

    Returns the report; raises ``OutputNameError``/``ShapeError``/``AtolError`` (each with
    ``.report``) when the graphs do not match PyTorch.
    """
    import onnxruntime as ort

    providers = providers or choose_providers(precision)
    onnx_graphs = OnnxRuntimeGraphs(files, providers, session_factory)
    report = ValidationReport(precision, onnx_graphs.provider, ort.__version__, [f"{h}x{w}" for h, w in sizes])
    report.not_run.update(onnx_graphs.not_run)
    try:
        _check_names(onnx_graphs, reference)
        for i, (h, w) in enumerate(sizes):
            batch = 2 if i == 0 else 1
            if log:
                log(f"validating at {batch}x{h}x{w} ...")
            _validate_size(model, reference, onnx_graphs, routing, report, tolerances, min_psnr, batch, h, w, seed=i,
                           graph_psnr=MIN_GRAPH_PSNR_DB.get(precision, {}))
    except ValidationError as err:
        err.report = report
        raise
    report.not_run.update(onnx_graphs.not_run)
    if report.failures:
        worst = report.failures[0]
        err = AtolError(
            f"{len(report.failures)} output(s) differ from PyTorch beyond tolerance, first: {worst.graph} "
            f"{worst.output} ({worst.inputs}): {worst.why()}",
            fix=("nothing was written; the validation report above gives every output. An int8 export gets closer "
                 "to float32 with more calibration images (--calibration-size) or images like the ones it will "
                 "stylize; keep layers float with --float-layers" if precision == "int8" else
                 "nothing was written; the validation report above gives every output"))
        err.report = report
        raise err
    return report


def _check_names(onnx_graphs: OnnxRuntimeGraphs, reference: dict[str, GraphSpec]) -> None:
    for graph, spec in reference.items():
        if graph not in onnx_graphs.sessions:
            continue
        for side, real, want in (("inputs", onnx_graphs.input_names(graph), spec.input_names),
                                 ("outputs", onnx_graphs.output_names(graph), spec.output_names)):
            if real != want:
                raise OutputNameError(f"the {graph} graph's {side} are {real}, the spec's {want}",
                                      fix="the export spec and the exported graph disagree: a bug in the spec")


def _validate_size(model, reference, onnx_graphs, routing, report, tolerances, min_psnr, batch, h, w, seed,
                   graph_psnr=None):
    content = synthetic_images(batch, h, w, seed=10 * seed + 1)
    sh, sw = style_size(h, w, 2 * model.size_multiple)
    style = synthetic_images(batch, sh, sw, seed=10 * seed + 2)
    alpha = alpha_values(len(model.alpha_levels))

    torch_graphs = TorchGraphs(reference)
    chain(torch_graphs, routing, content, style, alpha)
    for (graph, feeds, want), kind in zip(torch_graphs.calls, ("content", "style", None, None)):
        if graph in onnx_graphs.not_run:
            continue
        label = f"{kind} {_shape(feeds['image'])}" if kind else f"content {batch}x{h}x{w}"
        try:
            got = onnx_graphs(graph, feeds)
        except _NotRunnable:
            continue
        for name in reference[graph].output_names:
            report.checks.append(compare(graph, label, name, got[name], want[name], tolerances[graph],
                                         (graph_psnr or {}).get(graph)))

    if onnx_graphs.not_run:
        return  # no end to end without every graph
    try:
        image = chain(onnx_graphs, routing, content, style, alpha)
    except _NotRunnable:
        return
    with torch.no_grad():
        c, s = torch.from_numpy(content), torch.from_numpy(style)
        want = model.decode(model.transfer(model.encode(c), model.encode_style(s), tuple(float(a) for a in alpha)))
    label = f"content {batch}x{h}x{w}, style {batch}x{sh}x{sw}, alpha {','.join(f'{a:g}' for a in alpha)}"
    report.checks.append(compare("end-to-end", label, "image", image, want.numpy(), tolerances["end_to_end"],
                                 min_psnr))
