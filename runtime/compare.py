"""Every backend against the PyTorch reference on the same inputs (Polygraphy's Comparator pattern).

The reference is the export's float32 ``torch.export`` programs on the CPU (``--backend torch``).
For each backend: each graph is fed exactly the reference's inputs for that graph and its
outputs are compared with the reference's; then the whole chain runs on its own and the final
image is compared. A check passes when ``max|got - ref| <= atol + rtol * max|ref|`` with the
manifest's tolerances for the backend's precision, and (end to end) the PSNR reaches the
minimum; NaN or Inf fails and names the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.manifest import chain
from .pipeline import GRAPHS, Pipeline

#: Tolerances for float16 engines (TensorRT, inductor on CUDA) where the manifest is float32.
FP16_TOLERANCE = {"atol": 1e-2, "rtol": 2e-2, "min_psnr_db": 35.0}


@dataclass
class Check:
    backend: str
    graph: str  # encoder, transform, decoder or end-to-end
    output: str
    inputs: str
    max_abs: float
    psnr: float
    allowed: float
    min_psnr: float | None
    finite: bool
    error: str | None = None  # the backend raised instead of answering (shape outside a profile...)

    @property
    def ok(self) -> bool:
        return self.error is None and self.finite and self.max_abs <= self.allowed and (self.min_psnr is None or self.psnr >= self.min_psnr)


def psnr(got: np.ndarray, ref: np.ndarray) -> float:
    """PSNR with the reference's peak magnitude as the signal peak (1 for images in 0..1)."""
    peak = max(float(np.abs(ref).max()), 1e-12)
    mse = float(np.mean((got.astype(np.float64) - ref.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak**2 / mse)


def _tolerance(manifest_data: dict, graph: str, output: str, precision: str) -> tuple[float, float, float | None]:
    tol = manifest_data["tolerances"]
    if precision == "fp16" and manifest_data["precision"] != "fp16":
        t = FP16_TOLERANCE
        return t["atol"], t["rtol"], t["min_psnr_db"] if graph == "end_to_end" else None
    entry = tol[graph][output]
    return entry["atol"], entry["rtol"], entry.get("min_psnr_db")


class _Recorder:
    """``run(graph, feeds)`` for ``chain`` that remembers every call's inputs and outputs."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.calls: list[tuple[str, dict, dict]] = []

    def __call__(self, graph, feeds):
        out = self.pipeline.runners[graph].infer(feeds)
        self.calls.append((graph, feeds, out))
        return out


def compare(export_dir, backends: list[tuple[str, str]], content: np.ndarray, style: np.ndarray,
            alpha: float = 0.8, reference: Pipeline | None = None) -> list[Check]:
    """content/style: [H, W, 3] float32 0..1 (content already a multiple of the size multiple).

    backends: (backend, device) pairs, each opened with ``Pipeline.open``.
    """
    ref_pipe = reference or Pipeline.open(export_dir, "torch", "cpu")
    data = ref_pipe.manifest.data
    alpha_arr = ref_pipe.alpha_array(alpha)
    to_nchw = lambda a: np.ascontiguousarray(a.transpose(2, 0, 1)[None], dtype=np.float32)  # noqa: E731
    with ref_pipe:
        recorder = _Recorder(ref_pipe)
        ref_image = chain(recorder, data["routing"], to_nchw(content), to_nchw(style), alpha_arr)
    checks: list[Check] = []
    for backend, device in backends:
        label = f"{backend} ({device})"
        try:
            pipe = Pipeline.open(export_dir, backend, device).activate()
        except Exception as exc:  # one failed row, and the other backends still run
            checks.append(_failed(label, "open", exc))
            continue
        with pipe:
            precision = getattr(pipe.runners["encoder"], "precision", pipe.manifest.precision)
            for i, (graph, feeds, ref_out) in enumerate(recorder.calls):
                kind = ""
                if graph == "encoder":
                    kind = "content " if i == 0 else "style "
                shape = "x".join(str(d) for d in next(iter(feeds.values())).shape) if graph == "encoder" else ""
                try:
                    got = pipe.runners[graph].infer(feeds)
                except Exception as exc:
                    checks.append(_failed(label, graph, exc, f"{kind}{shape}".strip()))
                    continue
                for name, want in ref_out.items():
                    have = np.asarray(got[name])
                    atol, rtol, min_psnr = _tolerance(data, graph, name, precision)
                    finite = bool(np.isfinite(have).all())
                    diff = float(np.abs(have - want).max()) if finite else float("inf")
                    checks.append(Check(label, graph, name, f"{kind}{shape}".strip(), diff,
                                        psnr(have, want) if finite else float("nan"),
                                        atol + rtol * float(np.abs(want).max()), min_psnr, finite))
            whole = _Recorder(pipe)
            try:
                image = np.asarray(chain(whole, data["routing"], to_nchw(content), to_nchw(style), alpha_arr))
            except Exception as exc:
                checks.append(_failed(label, "end-to-end", exc, f"alpha {alpha}"))
                continue
        atol, rtol, min_psnr = _tolerance(data, "end_to_end", "image", precision)
        finite = bool(np.isfinite(image).all())
        ref_c, got_c = np.clip(ref_image, 0, 1), np.clip(image, 0, 1)
        checks.append(Check(label, "end-to-end", "image", f"alpha {alpha}",
                            float(np.abs(image - ref_image).max()) if finite else float("inf"),
                            psnr(got_c, ref_c) if finite else float("nan"),
                            atol + rtol * float(np.abs(ref_image).max()), min_psnr, finite))
    return checks


def _failed(label: str, graph: str, exc: Exception, inputs: str = "") -> Check:
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return Check(label, graph, "-", inputs, float("inf"), float("nan"), 0.0, None, False,
                 error=f"{type(exc).__name__}: {first_line}"[:300])


def format_checks(checks: list[Check]) -> str:
    rows = [("backend", "graph", "output", "inputs", "max abs", "PSNR dB", "allowed", "result")]
    for c in checks:
        min_psnr = f" (min {c.min_psnr:g})" if c.min_psnr else ""
        result = ("pass" if c.ok else f"FAIL: {c.error}" if c.error
                  else "FAIL: NaN/Inf in the " + c.graph + " output" if not c.finite else "FAIL")
        rows.append((c.backend, c.graph, c.output, c.inputs, f"{c.max_abs:.2e}", f"{c.psnr:.1f}{min_psnr}",
                     f"{c.allowed:.2e}", result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


__all__ = ["Check", "compare", "format_checks", "GRAPHS"]
