"""Optional accelerator libraries: import them or say how to install them, and what really loads.

ONNX Runtime lists the CUDA execution provider wherever its library is installed, GPU or not,
so ``cuda_provider_loads`` probes a one-node session once. TensorRT is imported only here
(``import_tensorrt``), so that a missing TensorRT is one line with the install command.
Nothing heavy is imported at module import.
"""

from __future__ import annotations

import contextlib
import functools
import io

from ..errors import MissingDependencyError, ModelError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
TENSORRT_INSTALL = ("pip install 'stylert[tensorrt]' -- TensorRT's libraries come from NVIDIA's package index "
                    "(https://pypi.nvidia.com) and need a CUDA GPU")


DEVICES = ("auto", "cpu", "cuda")


def choose_device(requested: str, has_cuda, who: str, notice=None) -> str:
    """The one device rule of every path and backend: ``cpu`` is the CPU; an explicit ``cuda`` (or
    ``cuda:N``) that ``who`` cannot run on here is a ModelError, never a silent CPU run; ``auto`` is
    CUDA where it works and otherwise the CPU, said through ``notice``. ``has_cuda``: a callable,
    asked only when CUDA matters."""
    if requested == "cpu":
        return "cpu"
    if requested != "auto" and not (requested == "cuda" or requested.startswith("cuda:")):
        raise ModelError(f"unknown device {requested!r}", fix=f"use --device {' or '.join(DEVICES)}")
    available = has_cuda()
    if requested == "auto":
        if not available and notice is not None:
            notice(f"{who}: no CUDA on this machine (no GPU or no CUDA libraries); --device auto runs on the CPU")
        return "cuda" if available else "cpu"
    if not available:
        raise ModelError(f"--device {requested} asked for, but {who} cannot run on CUDA here "
                         "(no GPU or no CUDA libraries)", fix="use --device cpu, or --device auto to fall back")
    return requested


def onnxruntime():
    try:
        import onnxruntime as ort
    except ImportError:
        raise MissingDependencyError("onnxruntime", "pip install onnxruntime-gpu", "the onnxruntime backend") from None
    return ort


def device_index(device: str) -> int:
    """``"cuda:N"`` -> N; ``"cuda"`` (and ``"cpu"``) -> 0. ModelError for anything else after ``cuda:``."""
    _, sep, index = str(device).partition(":")
    if not sep:
        return 0
    if not index.isdigit():
        raise ModelError(f"unknown device {device!r}", fix="use cuda or cuda:N (N the GPU's index)")
    return int(index)


@functools.lru_cache(maxsize=1)
def preload_cuda_libraries() -> str | None:
    """Load the CUDA and cuDNN libraries that pip wheels (``nvidia-*-cu12``) install, before a CUDA
    session: ``onnxruntime.preload_dlls()`` (ONNX Runtime >= 1.21; the ONNX Runtime CUDA provider docs,
    "Preload DLLs"). Without it, a CUDA that comes from wheels is not found and the session quietly
    runs on the CPU. Once per process. Returns why it did not run (old ONNX Runtime, or its error),
    or None."""
    ort = onnxruntime()
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:
        return f"onnxruntime {ort.__version__} has no preload_dlls (added in 1.21)"
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            preload()
    except Exception as err:  # a missing wheel is not an error here: the provider check after the session says it
        return f"{type(err).__name__}: {err}"
    return None


def session_providers(device: str) -> list:
    """The ``providers`` argument of an InferenceSession on ``device``: the CPU, or the CUDA provider on
    GPU ``device_index(device)`` (provider option ``device_id``) with the CPU for what CUDA lacks."""
    if device == "cpu":
        return [PROVIDERS["cpu"]]
    return [(PROVIDERS["cuda"], {"device_id": str(device_index(device))}), PROVIDERS["cpu"]]


def checked_session(ort, model, device: str, sess_options=None, path=None):
    """``ort.InferenceSession(model)`` on ``device`` that really runs there: the CUDA libraries preloaded
    first (``preload_cuda_libraries``), and afterwards ``session.get_providers()`` must hold the CUDA
    provider, else ModelError (one line) instead of a silent CPU run."""
    if device != "cpu":
        preload_cuda_libraries()
    session = ort.InferenceSession(model, sess_options=sess_options, providers=session_providers(device))
    kept = session.get_providers()
    if device != "cpu" and PROVIDERS["cuda"] not in kept:
        why = preload_cuda_libraries()
        raise ModelError(f"ONNX Runtime did not keep the CUDA execution provider for {device} (it kept "
                         f"{', '.join(kept)}): no GPU, or the CUDA/cuDNN libraries did not load"
                         + (f"; preload: {why}" if why else ""),
                         fix="pip install 'onnxruntime-gpu[cuda,cudnn]' (CUDA 12 from pip), or use --device cpu")
    return session


@functools.lru_cache(maxsize=1)
def cuda_provider_loads() -> bool:
    """True when a session really keeps the CUDA execution provider (libraries and a GPU present).
    It is listed wherever its library is installed, GPU or not: probed once on a one-node graph, after
    ``preload_cuda_libraries``."""
    ort = onnxruntime()
    if PROVIDERS["cuda"] not in ort.get_available_providers():
        return False
    preload_cuda_libraries()
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    # A failing CUDA provider logs errors from C++ straight to stderr: the answer is get_providers().
    ort.set_default_logger_severity(4)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            session = ort.InferenceSession(model.SerializeToString(), providers=[PROVIDERS["cuda"], PROVIDERS["cpu"]])
        return PROVIDERS["cuda"] in session.get_providers()
    except Exception:  # any failure to start CUDA means: not usable here
        return False
    finally:
        ort.set_default_logger_severity(2)  # ONNX Runtime's default (warnings)


def tensorrt_missing() -> MissingDependencyError:
    """The one-line error for a machine without TensorRT's Python package."""
    return MissingDependencyError("tensorrt", TENSORRT_INSTALL, "TensorRT engines")


def import_tensorrt():
    """``import tensorrt``, or the one-line ``MissingDependencyError`` naming the install command."""
    try:
        import tensorrt
    except ImportError:
        raise tensorrt_missing() from None
    return tensorrt
