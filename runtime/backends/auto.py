"""``--backend auto``: the fastest installed backend and precision that passes its floors on this machine.

A rule from what the CPU and OpenVINO's CPU plugin say, backed by measurements (side by side in
one process, ``benchmarks/results/suite/amd-epyc-2c/``), not a timing probe at start-up:

- CUDA (``--device cuda``, or ``auto`` on a machine where ONNX Runtime's CUDA provider loads):
  ``onnxruntime`` on CUDA, as before (TensorRT and inductor need engines built ahead).
- CPU, float32 export, ``openvino`` installed and ``BF16`` in its ``OPTIMIZATION_CAPABILITIES``
  (AVX-512 BF16 or AMX): ``openvino bf16``. Measured on an AMD EPYC with AVX-512 BF16 (no AMX):
  content path 1.55-2.9x ONNX Runtime float32 over the four families (``benchmarks/results/suite/amd-epyc-2c/``),
  and every family within the bf16 floors of ``stylert.core.checks`` (``stylert compare``).
- CPU, int8 export, ``openvino`` installed and the CPU has VNNI or AMX-INT8 (``avx512_vnni``,
  ``avx_vnni``, ``amx_int8``): ``openvino`` on the QDQ graphs (integer kernels; the float parts in
  bf16 where supported). Without VNNI, 8-bit products saturate in 16 bits: ONNX Runtime, whose int8
  export is made for it (``reduce_range``).
- Otherwise (no bf16, OpenVINO not installed, a float16 export): ``onnxruntime``. OpenVINO float32
  measured the same as ONNX Runtime float32 (AMD EPYC AVX2 and AVX-512 machines), so it gains nothing.

``choose`` returns the pick and the one line that says it (``Choice.line``), e.g.
``openvino bf16 (AVX-512 BF16)``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from .registry import REGISTRY


@dataclass(frozen=True)
class Choice:
    backend: str
    device: str
    precision: str | None  # what the backend is asked for (openvino: bf16/f32), None: the export's own
    line: str  # e.g. "openvino bf16 (AVX-512 BF16)"


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (``/proc/cpuinfo``; empty where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_unit(flags=None) -> str:
    """What gives the CPU bf16: ``AMX`` (amx_bf16), ``AVX-512 BF16`` (avx512_bf16), or ``''``."""
    flags = cpu_flags() if flags is None else flags
    return "AMX" if "amx_bf16" in flags else "AVX-512 BF16" if "avx512_bf16" in flags else ""


def int8_unit(flags=None) -> str:
    """What gives the CPU fast int8: ``AMX`` (amx_int8), ``VNNI`` (avx512_vnni / avx_vnni), or ``''``."""
    flags = cpu_flags() if flags is None else flags
    return "AMX" if "amx_int8" in flags else "VNNI" if {"avx512_vnni", "avx_vnni"} & flags else ""


def _openvino_caps() -> tuple[list[str] | None, str]:
    """OpenVINO's CPU capabilities, or None and why it is not used."""
    spec = REGISTRY["openvino"]
    if not spec.installed():
        return None, f"openvino not installed: {spec.install}"
    try:
        from .openvino import capabilities

        return capabilities(), ""
    except Exception as err:  # a plugin that does not load here
        return None, f"OpenVINO's CPU plugin does not load: {str(err).splitlines()[0][:80]}"


def choose(manifest, device: str = "auto", notice=None) -> Choice:
    """The backend for ``manifest`` (an export) on ``device`` ("auto", "cpu", "cuda[:N]"); see the module doc."""
    from ..pipeline import resolve_device

    export = manifest.precision
    if device != "cpu":
        ort_device = resolve_device("onnxruntime", device, None)
        if ort_device != "cpu":
            return Choice("onnxruntime", ort_device, None, f"onnxruntime {export} (CUDA)")
    caps, why = _openvino_caps()
    if caps is not None:
        if export == "fp32" and "BF16" in caps:
            return Choice("openvino", "cpu", "bf16", f"openvino bf16 ({bf16_unit() or 'BF16 in the CPU plugin'})")
        if export == "int8" and "INT8" in caps and int8_unit():
            floats = "bf16" if "BF16" in caps else "f32"
            return Choice("openvino", "cpu", floats, f"openvino int8 ({int8_unit()}; float layers {floats})")
        why = {"fp32": "no bf16 on this CPU, OpenVINO float32 gains nothing over ONNX Runtime",
               "int8": "no VNNI/AMX on this CPU: ONNX Runtime's int8 kernels",
               "fp16": "float16 export"}.get(export, f"{export} export")
    return Choice("onnxruntime", "cpu", None, f"onnxruntime {export} ({why})")
