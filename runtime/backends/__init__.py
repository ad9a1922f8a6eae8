"""Every runner of the runtime, one interface (Polygraphy's runner pattern): activate / infer / deactivate.

Data in and out of ``infer`` is a dict of tensor name -> array. Each backend lives in its own
module and imports its framework lazily, so that ONNX Runtime never pulls in torch:

- ``onnxrt``    ONNX Runtime (CPU and CUDA providers; ``nchwc`` keeps its blocked CPU layout)
- ``torchrt``   the export's float32 ``torch.export`` programs (also the reference of ``compare``)
- ``tensorrt``  TensorRT plans built by ``stylert build`` (``buffers``: their device arena)
- ``inductor``  AOTInductor packages built by ``stylert build``
- ``openvino``  the ONNX graphs compiled by OpenVINO's CPU plugin (bf16 where the CPU has it)

Each backend is described once in ``registry.REGISTRY`` (devices, availability, factory, engines,
what ``doctor`` says); ``auto`` picks the fastest one that passes its accuracy floors here.
``RUNNERS`` maps a backend name to the factory that makes its three runners; ``make_runners``
is the one way to get them.
"""

from __future__ import annotations

from collections.abc import Callable

from . import registry as _registry
from .base import BaseRunner


GRAPHS = _registry.GRAPHS
#: backend name -> factory(manifest, device, ort_fold=, cuda_graphs=, precision=) -> {graph: runner}
RUNNERS: dict[str, Callable[..., dict[str, BaseRunner]]] = {n: b.factory for n, b in _registry.REGISTRY.items()}
BACKENDS = _registry.BACKENDS


def make_runners(manifest, backend: str, device: str, ort_fold: bool | None = None,
                 cuda_graphs: bool = False, precision: str | None = None) -> dict[str, BaseRunner]:
    """One runner per graph for ``backend`` on ``device`` ("cpu" or "cuda"). ``ort_fold``: keep
    ONNX Runtime's blocked CPU layout across pads (default on; see ``nchwc``). ``cuda_graphs``:
    capture and replay CUDA graphs (torch and tensorrt backends on CUDA). ``precision``: the
    inference precision where the backend chooses one (openvino: auto, bf16, f32)."""
    return _registry.get(backend).factory(manifest, device, ort_fold=ort_fold, cuda_graphs=cuda_graphs,
                                          precision=precision)


__all__ = ["BACKENDS", "BaseRunner", "GRAPHS", "RUNNERS", "make_runners"]
