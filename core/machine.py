"""The machine a benchmark ran on, recorded beside every figure."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import socket
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: The CPU flags that decide which kernels run (x86 ``/proc/cpuinfo`` names): vector width, bf16 and
#: int8 dot products, and the AMX matrix units.
MATRIX_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8")


def cpu_flags() -> list[str]:
    """Which of ``MATRIX_FLAGS`` the CPU has (``/proc/cpuinfo``; [] where it cannot be read)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                have = set(line.split(":", 1)[1].split())
                return [f for f in MATRIX_FLAGS if f in have]
    except OSError:
        pass
    return []


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


#: module -> the distribution that installs it, where the names differ.
_DISTRIBUTIONS = {"onnxruntime": ("onnxruntime-gpu", "onnxruntime")}


def _version(module: str) -> str | None:
    """The installed version of ``module``, read from the package metadata (nothing is imported)."""
    for dist in _DISTRIBUTIONS.get(module, (module,)):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def _gpu() -> dict | None:
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    props = torch.cuda.get_device_properties(0)
    info = {"name": props.name, "compute_capability": f"{props.major}.{props.minor}",
            "memory_gb": round(props.total_memory / 1024**3, 1), "cuda": torch.version.cuda}
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        info["driver"] = out.stdout.strip().splitlines()[0] if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError, IndexError):
        info["driver"] = None
    return info


def machine_info() -> dict:
    """CPU (with its ``cpu_flags``), cores, memory, GPU, driver, package versions, git commit, host name."""
    return {
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": _cpu_model(),
        "cpu_flags": cpu_flags(),
        "cores": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "gpu": _gpu(),
        "versions": {m: _version(m) for m in ("torch", "onnx", "onnxruntime", "tensorrt", "numpy")},
        "git_commit": _git_commit(),
    }


def machine_name(info: dict) -> str:
    """A short file-name-safe name for results files: the GPU if any, else CPU and cores."""
    base = info["gpu"]["name"] if info.get("gpu") else f"{info['cpu']}-{info['cores']}c"
    return "".join(ch if ch.isalnum() else "-" for ch in base).strip("-").lower()[:60]
