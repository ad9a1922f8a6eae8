"""Every backend against the PyTorch reference on the same inputs (Polygraphy's Comparator pattern).

The reference is the export's float32 ``torch.export`` programs on the CPU (``--backend torch``).
For each backend: each graph is fed exactly the reference's inputs for that graph and its
outputs are compared with the reference's; then the whole chain runs on its own and the final
image is compared. A check passes when ``max|got - ref| <= atol + rtol * max|ref|`` with the
manifest's tolerances for the backend's precision, and (end to end) the PSNR reaches the
minimum; NaN or Inf fails and names the graph.
"""

from __future__ import annotations

import numpy as np

from ..core.checks import MIN_GRAPH_PSNR_DB, MIN_PSNR_DB, TOLERANCES, Check, Tolerance, check, failed, format_checks
from ..export.manifest import chain
from .backends import GRAPHS
from .pipeline import Pipeline


def _tolerance(manifest_data: dict, graph: str, output: str, precision: str) -> tuple[Tolerance, float | None]:
    """The manifest's tolerance of ``graph``/``output``; for a float16 engine of a float32 export,
    the float16 ones, and for bf16 inference (OpenVINO) the bf16 ones with their PSNR floors per
    graph and end to end (``stylert.core.checks``). Returns (tolerance, min PSNR or None)."""
    if precision == "bf16":
        floor = MIN_PSNR_DB["bf16"] if graph == "end_to_end" else MIN_GRAPH_PSNR_DB["bf16"].get(graph)
        return TOLERANCES["bf16"][graph], floor
    if precision == "fp16" and manifest_data["precision"] != "fp16":
        return TOLERANCES["fp16"][graph], MIN_PSNR_DB["fp16"] if graph == "end_to_end" else None
    entry = manifest_data["tolerances"][graph][output]
    return Tolerance.from_json(entry), entry.get("min_psnr_db")


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
            checks.append(failed("open", exc, backend=label))
            continue
        with pipe:
            # per graph: OpenVINO runs an int8 export's quantized graphs in int8 and its float transform in bf16
            precisions = {g: getattr(r, "precision", pipe.manifest.precision) for g, r in pipe.runners.items()}
            precision = "int8" if "int8" in precisions.values() else precisions["encoder"]
            if precisions["encoder"] != pipe.manifest.precision:  # say what it ran in: "openvino (cpu, bf16)"
                label = f"{backend} ({device}, {pipe.precision})"
            for i, (graph, feeds, ref_out) in enumerate(recorder.calls):
                kind = ""
                if graph == "encoder":
                    kind = "content " if i == 0 else "style "
                shape = "x".join(str(d) for d in next(iter(feeds.values())).shape) if graph == "encoder" else ""
                try:
                    got = pipe.runners[graph].infer(feeds)
                except Exception as exc:
                    checks.append(failed(graph, exc, f"{kind}{shape}".strip(), backend=label))
                    continue
                for name, want in ref_out.items():
                    tol, min_psnr = _tolerance(data, graph, name, precisions[graph])
                    checks.append(check(graph, name, f"{kind}{shape}".strip(), np.asarray(got[name]),
                                        np.asarray(want), tol, min_psnr=min_psnr, backend=label))
            whole = _Recorder(pipe)
            try:
                image = np.asarray(chain(whole, data["routing"], to_nchw(content), to_nchw(style), alpha_arr))
            except Exception as exc:
                checks.append(failed("end-to-end", exc, f"alpha {alpha}", backend=label))
                continue
        tol, min_psnr = _tolerance(data, "end_to_end", "image", precision)
        checks.append(check("end-to-end", "image", f"alpha {alpha}", image, np.asarray(ref_image), tol,
                            min_psnr=min_psnr, image=True, backend=label))
    return checks


__all__ = ["Check", "compare", "format_checks", "GRAPHS"]
