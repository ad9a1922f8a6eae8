"""Every runner of the runtime, one interface (Polygraphy's runner pattern): activate / infer / deactivate.

Data in and out of ``infer`` is a dict of tensor name -> array. Each backend lives in its own
module and imports its framework lazily, so that ONNX Runtime never pulls in torch:

- ``onnxrt``    ONNX Runtime (CPU and CUDA providers; ``nchwc`` keeps its blocked CPU layout)
- ``torchrt``   the export's float32 ``torch.export`` programs (also the reference of ``compare``)
- ``tensorrt``  TensorRT plans built by ``stylert build`` (``buffers``: their device arena)
- ``inductor``  AOTInductor packages built by ``stylert build``

``RUNNERS`` maps a backend name to the factory that makes its three runners; ``make_runners``
is the one way to get them.
"""

from __future__ import annotations

from collections.abc import Callable

from ...errors import ModelError
from .base import BaseRunner


def _onnxruntime(manifest, device: str, *, ort_fold=None, cuda_graphs=False) -> dict[str, BaseRunner]:
    from .onnxrt import OnnxrtRunner, SessionFromOnnx

    # Quantized graphs run ONNX Runtime's integer kernels, not its blocked float layout: the layout
    # fold finds nothing to fold there (0 folds measured on the int8 encoder and decoder) and would
    # only build every session twice. ``ort_fold=True`` still asks for it.
    quantized = set(manifest.data.get("quantization", {}).get("graphs", ()))

    def fold(graph: str):
        return False if ort_fold is None and graph in quantized else ort_fold

    return {g: OnnxrtRunner(SessionFromOnnx(manifest.graph_path(g), device, fold_layout=fold(g)), g)
            for g in GRAPHS}


def _torch(manifest, device: str, *, ort_fold=None, cuda_graphs=False) -> dict[str, BaseRunner]:
    from .torchrt import TorchProgramRunner

    return {g: TorchProgramRunner(manifest, g, device, cuda_graphs=cuda_graphs) for g in GRAPHS}


def _tensorrt(manifest, device: str, *, ort_fold=None, cuda_graphs=False) -> dict[str, BaseRunner]:
    from .tensorrt import tensorrt_runners

    return tensorrt_runners(manifest, device, cuda_graphs=cuda_graphs)


def _inductor(manifest, device: str, *, ort_fold=None, cuda_graphs=False) -> dict[str, BaseRunner]:
    from .inductor import inductor_runners

    return inductor_runners(manifest, device)


GRAPHS = ("encoder", "transform", "decoder")
#: backend name -> factory(manifest, device, ort_fold=, cuda_graphs=) -> {graph: runner}
RUNNERS: dict[str, Callable[..., dict[str, BaseRunner]]] = {
    "onnxruntime": _onnxruntime, "torch": _torch, "tensorrt": _tensorrt, "inductor": _inductor,
}
BACKENDS = tuple(RUNNERS)


def make_runners(manifest, backend: str, device: str, ort_fold: bool | None = None,
                 cuda_graphs: bool = False) -> dict[str, BaseRunner]:
    """One runner per graph for ``backend`` on ``device`` ("cpu" or "cuda"). ``ort_fold``: keep
    ONNX Runtime's blocked CPU layout across pads (default on; see ``nchwc``). ``cuda_graphs``:
    capture and replay CUDA graphs (torch and tensorrt backends on CUDA)."""
    if backend not in RUNNERS:
        raise ModelError(f"unknown backend {backend!r}", fix=f"use one of {', '.join(BACKENDS)}")
    return RUNNERS[backend](manifest, device, ort_fold=ort_fold, cuda_graphs=cuda_graphs)


__all__ = ["BACKENDS", "BaseRunner", "GRAPHS", "RUNNERS", "make_runners"]
