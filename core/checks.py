"""One comparison for every backend against the PyTorch reference: ``Tolerance``, ``psnr``, ``Check``.

Used by export validation (ONNX Runtime vs PyTorch, ``stylert.export.validate``), by
``stylert compare`` (every runtime backend vs the float32 ``torch.export`` programs,
``stylert.runtime.compare``) and by the GPU measurement scripts.

Rule (Polygraphy's / Optimum's ``atol``-``rtol`` check, relative to the output's scale since VGG
features reach the hundreds and images 0..1): an output passes when it is finite and

    max |got - want| <= atol + rtol * max |want|

and, end to end, when the PSNR of the two images (both clamped to 0..1, peak 1) reaches the
minimum. PSNR = 10 log10(peak^2 / MSE) in dB, float64, +inf for identical arrays.

Tolerances live here once (``TOLERANCES``, ``MIN_PSNR_DB``, ``MIN_GRAPH_PSNR_DB``); an export copies those of its
precision into its manifest (``tolerances``), and readers take them from there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

RULE = "max|got - want| <= atol + rtol * max|want|"


@dataclass(frozen=True)
class Tolerance:
    """``|got - want| <= atol + rtol * peak`` element-wise, peak = max |want| (same units as the output)."""

    atol: float
    rtol: float

    def allowed(self, peak: float) -> float:
        return self.atol + self.rtol * peak

    def to_json(self) -> dict:
        return {"atol": self.atol, "rtol": self.rtol, "rule": RULE}

    @classmethod
    def from_json(cls, data: dict) -> "Tolerance":
        return cls(float(data["atol"]), float(data["rtol"]))


#: precision -> graph (encoder, transform, decoder, end_to_end) -> tolerance against PyTorch float32.
TOLERANCES = {
    "fp32": {"encoder": Tolerance(1e-4, 1e-4), "transform": Tolerance(1e-4, 1e-4),
             "decoder": Tolerance(1e-4, 1e-4), "end_to_end": Tolerance(1e-3, 1e-4)},
    "fp16": {"encoder": Tolerance(1e-2, 2e-2), "transform": Tolerance(1e-2, 2e-2),
             "decoder": Tolerance(1e-2, 2e-2), "end_to_end": Tolerance(5e-2, 5e-2)},
    # int8: single values move by up to half the scale (measured on the validation images: encoder
    # max rel 0.54, decoder 0.22, end to end 0.44 abs); the PSNR floors below are the real gate.
    # The transform stays float32 and runs on the reference's features: float32's tolerance.
    "int8": {"encoder": Tolerance(0.0, 0.75), "transform": Tolerance(1e-4, 1e-4),
             "decoder": Tolerance(0.0, 0.5), "end_to_end": Tolerance(0.75, 0.0)},
    # bf16 inference (OpenVINO's CPU plugin on a float32 export): 8-bit mantissas. Measured on real
    # weights, every family at 512 (sanet also 1024, 19,584 softmax positions): per graph max rel
    # <= 0.041 and >= 52 dB; end to end max abs 0.13-0.35 at 39.9-47.1 dB. Floors with 2.5x margin:
    "bf16": {"encoder": Tolerance(0.0, 0.1), "transform": Tolerance(0.0, 0.1),
             "decoder": Tolerance(0.0, 0.1), "end_to_end": Tolerance(0.6, 0.0)},
}
#: precision -> the end-to-end PSNR (dB, clamped 0..1 images) an output must reach against float32.
MIN_PSNR_DB = {"fp32": 60.0, "fp16": 30.0, "int8": 22.0, "bf16": 35.0}
#: precision -> graph -> the PSNR (dB, peak max|want|) each output of that graph must reach, where
#: the max difference alone says too little. int8 on the synthetic validation images measured
#: encoder 33.1-39.6 dB, decoder 35.8 dB, end to end 25.5 dB at 224x320 (real images: about 30 dB);
#: at 64x96 from 64x64 calibration, decoder 28.8 dB. Floors with that margin:
MIN_GRAPH_PSNR_DB = {"int8": {"encoder": 26.0, "decoder": 26.0},
                     "bf16": {"encoder": 40.0, "transform": 40.0, "decoder": 40.0}}


def psnr(got: np.ndarray, want: np.ndarray, peak: float = 1.0) -> float:
    """PSNR in dB of ``got`` against ``want`` (same shape): 10 log10(peak^2 / mean((got - want)^2)),
    computed in float64; +inf when they are equal. Images 0..1: peak 1 (the default)."""
    mse = float(np.mean((np.asarray(got, np.float64) - np.asarray(want, np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * math.log10(peak * peak / mse)


@dataclass
class Check:
    """One output of one graph (or the end-to-end image) compared with the reference."""

    graph: str  # encoder, transform, decoder or end-to-end
    output: str
    inputs: str  # what it ran on, e.g. "content 2x224x320"
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float  # max_abs / max|want|
    atol: float
    rtol: float
    allowed: float  # atol + rtol * max|want|
    psnr: float  # dB; images clamped to 0..1 with peak 1, features with peak max|want|
    min_psnr: float | None  # asked end to end only
    finite: bool
    backend: str = ""  # the backend (and device) that produced ``got``, where several are compared
    error: str | None = None  # the backend raised instead of answering: the first line of its error

    @property
    def ok(self) -> bool:
        return (self.error is None and self.finite and self.max_abs <= self.allowed
                and (self.min_psnr is None or self.psnr >= self.min_psnr))

    def why(self) -> str:
        """What failed, only the criteria that did ("max abs diff 0.9 > 0.75", "PSNR 21.5 dB < 22"); "" when ok."""
        if self.error is not None:
            return self.error
        if not self.finite:
            return "NaN or Inf in the output"
        reasons = []
        if self.max_abs > self.allowed:
            reasons.append(f"max abs diff {self.max_abs:.3g} > {self.allowed:.3g}")
        if self.min_psnr is not None and self.psnr < self.min_psnr:
            reasons.append(f"PSNR {self.psnr:.1f} dB < {self.min_psnr:g}")
        return " and ".join(reasons)


def check(graph: str, output: str, inputs: str, got: np.ndarray, want: np.ndarray, tol: Tolerance, *,
          min_psnr: float | None = None, image: bool = False, backend: str = "") -> Check:
    """Compare ``got`` with ``want`` (same shape; a mismatch raises ValueError). ``image``: both are
    images, clamped to 0..1 for the PSNR (what the runtime writes); otherwise the PSNR's peak is max|want|."""
    got64, want64 = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got64.shape != want64.shape:
        raise ValueError(f"{graph} output {output} has shape {list(got64.shape)}, the reference's is "
                         f"{list(want64.shape)}")
    finite = bool(np.isfinite(got64).all())
    peak = float(np.abs(want64).max()) if want64.size else 0.0
    max_abs = float(np.abs(got64 - want64).max()) if finite and got64.size else (0.0 if finite else float("inf"))
    if not finite:
        value = float("nan")
    elif image:
        value = psnr(np.clip(got64, 0, 1), np.clip(want64, 0, 1))
    else:
        value = psnr(got64, want64, max(peak, 1e-12))
    return Check(graph, output, inputs, tuple(got64.shape), max_abs, max_abs / peak if peak > 0 else max_abs,
                 tol.atol, tol.rtol, tol.allowed(peak), value, min_psnr, finite, backend)


def failed(graph: str, exc: BaseException, inputs: str = "", backend: str = "") -> Check:
    """A check whose backend raised: a failed row carrying the first line of the error."""
    first_line = (str(exc).strip().splitlines() or [""])[0]
    return Check(graph, "-", inputs, (), float("inf"), float("inf"), 0.0, 0.0, 0.0, float("nan"), None, False,
                 backend, error=f"{type(exc).__name__}: {first_line}"[:300])


def format_checks(checks: list[Check], *, with_backend: bool = True) -> str:
    """A plain-text table: one row per check, with the measured difference and what was allowed."""
    rows = [(("backend",) if with_backend else ()) + ("graph", "inputs", "output", "max abs", "allowed", "PSNR dB",
                                                       "result")]
    for c in checks:
        min_psnr = f" (min {c.min_psnr:g})" if c.min_psnr else ""
        result = ("pass" if c.ok else f"FAIL: {c.error}" if c.error
                  else f"FAIL: NaN/Inf in the {c.graph} output" if not c.finite else "FAIL")
        rows.append(((c.backend,) if with_backend else ()) + (c.graph, c.inputs, c.output, f"{c.max_abs:.2e}",
                                                               f"{c.allowed:.2e}", f"{c.psnr:.1f}{min_psnr}", result))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)
