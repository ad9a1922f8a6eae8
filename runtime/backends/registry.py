"""Every runtime backend described once: name, devices, availability, runner factory, engines, doctor line.

A ``Backend`` says everything the rest of stylert asks about a backend, so that adding one is one
entry in ``REGISTRY``:

    name            what ``--backend`` takes
    package         the Python module it needs, and ``install``: the command that installs it
    devices         where it runs ("cpu", "cuda")
    has_cuda        callable -> whether it really runs on CUDA here (asked only when CUDA matters)
    factory         (manifest, device, **options) -> {graph: runner}; options: ort_fold, cuda_graphs, precision
    engine          an ``EngineKind`` where the backend runs engines built ahead by ``stylert build``
                    (suffix, the source it compiles, the library whose version ties the engine), else None
    python_flavour  whether it runs inside the graph models of Triton's python flavour (``stylert triton
                    --backend python --runtime NAME``)
    doctor          callable -> the one line ``stylert doctor`` prints for it

Nothing heavy is imported here: each callable imports its framework when called.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

from ...errors import ModelError

GRAPHS = ("encoder", "transform", "decoder")


@dataclass(frozen=True)
class EngineKind:
    """Engines built ahead by ``stylert build`` for a backend (``stylert.runtime.engine_manifest``)."""

    suffix: str  # file of one graph's engine: ".plan", ".pt2"
    source: str  # what it compiles: "onnx" (the export's ONNX graph) or "torch_program"
    library: str  # the module whose version the engine is tied to ("tensorrt", "torch")
    builder: str  # module (under stylert.engines) with ``build(...)``
    gpu_only: bool = False  # builds and runs on CUDA GPUs only
    records_cpu_isa: bool = False  # CPU engines are tied to the vector ISA they were compiled for
    int8: bool = False  # builds int8 engines of an int8 export


@dataclass(frozen=True)
class Backend:
    name: str
    package: str
    install: str
    devices: tuple[str, ...]
    factory: Callable[..., dict]
    summary: str
    has_cuda: Callable[[], bool] | None = None
    engine: EngineKind | None = None
    python_flavour: bool = False
    doctor: Callable[[], str] | None = None

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    def runs_on_cuda(self) -> bool:
        """Whether this backend really runs on CUDA on this machine (False where it has no CUDA path)."""
        if "cuda" not in self.devices or not self.installed():
            return False
        return True if self.has_cuda is None else bool(self.has_cuda())

    def status(self) -> str:
        """One line: what it is and whether it runs here (``doctor``)."""
        if not self.installed():
            return f"not installed ({self.install}): {self.summary}"
        return self.doctor() if self.doctor is not None else f"ok: {self.summary}"


# -- factories -------------------------------------------------------------------------
def _onnxruntime(manifest, device: str, *, ort_fold=None, cuda_graphs=False, precision=None) -> dict:
    from .onnxrt import OnnxrtRunner, SessionFromOnnx

    # Quantized graphs run ONNX Runtime's integer kernels, not its blocked float layout: the layout
    # fold finds nothing to fold there (0 folds measured on the int8 encoder and decoder) and would
    # only build every session twice. ``ort_fold=True`` still asks for it.
    quantized = set(manifest.data.get("quantization", {}).get("graphs", ()))
    if precision not in (None, "auto", manifest.precision):
        raise ModelError(f"ONNX Runtime runs the export's own precision ({manifest.precision}), not {precision}",
                         fix="drop --precision, or use --backend openvino for bf16 on the CPU")

    def fold(graph: str):
        return False if ort_fold is None and graph in quantized else ort_fold

    return {g: OnnxrtRunner(SessionFromOnnx(manifest.graph_path(g), device, fold_layout=fold(g)), g)
            for g in GRAPHS}


def _torch(manifest, device: str, *, ort_fold=None, cuda_graphs=False, precision=None) -> dict:
    from .torchrt import TorchProgramRunner

    return {g: TorchProgramRunner(manifest, g, device, cuda_graphs=cuda_graphs) for g in GRAPHS}


def _tensorrt(manifest, device: str, *, ort_fold=None, cuda_graphs=False, precision=None) -> dict:
    from .tensorrt import tensorrt_runners

    return tensorrt_runners(manifest, device, cuda_graphs=cuda_graphs)


def _inductor(manifest, device: str, *, ort_fold=None, cuda_graphs=False, precision=None) -> dict:
    from .inductor import inductor_runners

    return inductor_runners(manifest, device)


def _openvino(manifest, device: str, *, ort_fold=None, cuda_graphs=False, precision=None) -> dict:
    from .openvino import openvino_runners

    return openvino_runners(manifest, device, precision)


# -- CUDA checks and doctor lines ---------------------------------------------------------
def _ort_cuda() -> bool:
    from ...core.providers import cuda_provider_loads

    return cuda_provider_loads()


def _torch_cuda() -> bool:
    from .torchrt import cuda_available

    return cuda_available()


def _tensorrt_cuda() -> bool:
    # TensorRT runs on CUDA only; its runners say what is missing (package, GPU, engine)
    return True


def _openvino_doctor() -> str:
    from .openvino import capabilities, openvino, resolve_precision

    try:
        caps = capabilities()
        precision = resolve_precision("auto")
    except Exception as err:  # a plugin that does not load here
        return f"installed, but its CPU plugin does not load: {str(err).splitlines()[0][:120]}"
    return (f"ok: {openvino().__version__.split('-')[0]}, CPU plugin {' '.join(caps)}; "
            f"runs exports in {precision} (--backend openvino)")


def _torch_doctor() -> str:
    import torch

    return f"ok: the export's float32 torch programs ({'CPU and CUDA' if torch.cuda.is_available() else 'CPU'})"


def _ort_doctor() -> str:
    import onnxruntime as ort

    return f"ok: {ort.__version__}, runs the export's ONNX graphs ({'CUDA and CPU' if _ort_cuda() else 'CPU'})"


REGISTRY: dict[str, Backend] = {b.name: b for b in (
    Backend("onnxruntime", "onnxruntime", "pip install onnxruntime-gpu", ("cpu", "cuda"), _onnxruntime,
            "the export's ONNX graphs in ONNX Runtime (CPU, CUDA)", has_cuda=_ort_cuda, python_flavour=True,
            doctor=_ort_doctor),
    Backend("torch", "torch", "pip install 'stylert[export]'", ("cpu", "cuda"), _torch,
            "the export's float32 torch.export programs (the reference of `stylert compare`)", has_cuda=_torch_cuda,
            doctor=_torch_doctor),
    Backend("tensorrt", "tensorrt", "pip install 'stylert[tensorrt]'", ("cuda",), _tensorrt,
            "TensorRT plans built by `stylert build --backend tensorrt` (NVIDIA GPUs)", has_cuda=_tensorrt_cuda,
            engine=EngineKind(".plan", "onnx", "tensorrt", "tensorrt_build", gpu_only=True, int8=True)),
    Backend("inductor", "torch", "pip install 'stylert[export]'", ("cpu", "cuda"), _inductor,
            "AOTInductor packages built by `stylert build --backend inductor`", has_cuda=_torch_cuda,
            engine=EngineKind(".pt2", "torch_program", "torch", "inductor_build", records_cpu_isa=True)),
    Backend("openvino", "openvino", "pip install openvino", ("cpu",), _openvino,
            "the export's ONNX graphs compiled by OpenVINO's CPU plugin (bf16 where the CPU has it, int8 exports)",
            python_flavour=True, doctor=_openvino_doctor),
)}
BACKENDS = tuple(REGISTRY)
#: Backends that run engines built ahead by ``stylert build``.
ENGINE_BACKENDS = tuple(n for n, b in REGISTRY.items() if b.engine is not None)
#: Backends that run inside the graph models of Triton's python flavour.
PYTHON_FLAVOUR = tuple(n for n, b in REGISTRY.items() if b.python_flavour)


def get(name: str) -> Backend:
    """The backend called ``name``; ModelError naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ModelError(f"unknown backend {name!r}", fix=f"use one of {', '.join(BACKENDS)}") from None
