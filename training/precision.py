"""Which mixed precision ``--amp`` means on a device.

    CUDA                                   torch.autocast("cuda", float16) + GradScaler
    CPU with bfloat16 instructions         torch.autocast("cpu", bfloat16), no scaler (bfloat16 has
      (lscpu / /proc/cpuinfo flags            float32's exponent range: gradients do not underflow)
      ``amx_bf16`` or ``avx512_bf16``)
    any other CPU                          none: float32 (a notice says so)

The CPU flags are read from ``/proc/cpuinfo`` (Linux); where that file is missing, no bfloat16
instructions are assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

#: CPU flags with native bfloat16 arithmetic (Intel AMX tiles; AVX-512 BF16 on Intel Cooper Lake+ and AMD Zen 4+).
BF16_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The ``flags`` of the first processor in ``cpuinfo``; empty when unreadable."""
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


@dataclass(frozen=True)
class Precision:
    """``dtype``: the autocast dtype (None: float32, no autocast); ``scaler``: whether a GradScaler is
    needed (float16 only); ``reason``: one line for the log."""

    device_type: str
    dtype: torch.dtype | None
    scaler: bool
    reason: str

    @property
    def enabled(self) -> bool:
        return self.dtype is not None


def select(amp: bool, device_type: str, flags: frozenset[str] | None = None) -> Precision:
    """The precision of a training run on ``device_type`` ("cuda", "cpu", ...) when ``--amp`` is ``amp``.
    ``flags``: the CPU flags (default: ``cpu_flags()``)."""
    if not amp:
        return Precision(device_type, None, False, "float32")
    if device_type == "cuda":
        return Precision(device_type, torch.float16, True, "mixed precision: float16 autocast with gradient scaling")
    if device_type == "cpu":
        flags = cpu_flags() if flags is None else flags
        have = [f for f in BF16_FLAGS if f in flags]
        if have:
            return Precision(device_type, torch.bfloat16, False,
                             f"mixed precision: bfloat16 autocast on the CPU ({', '.join(have)})")
        return Precision(device_type, None, False,
                         f"--amp: this CPU has no bfloat16 instructions ({' or '.join(BF16_FLAGS)}); float32")
    return Precision(device_type, None, False, f"--amp: no mixed precision on {device_type}; float32")
