"""PyTorch backend: the float32 ``torch.export`` programs that ``stylert export`` saves beside the
ONNX graphs (``encoder.pt2``...), on CPU or CUDA, with no model code.

They are the PyTorch reference computation of each graph: ``stylert compare`` measures the
other backends against them. Tensors stay on the device between graphs (``keep_on_device``).
"""

from __future__ import annotations

from ...errors import MissingDependencyError, ModelError
from .base import BaseRunner


def _torch():
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("torch", "pip install 'stylert[export]'", "the torch backend") from None
    return torch


def cuda_available() -> bool:
    return _torch().cuda.is_available()


def program_path(manifest, graph: str):
    programs = manifest.data.get("torch_programs") or {}
    if graph not in programs:
        raise ModelError(f"{manifest.root} has no torch program for the {graph} graph (exported by an older stylert?)",
                         fix="re-export with `stylert export`, or use --backend onnxruntime")
    return manifest.root / programs[graph]["file"]


class TorchRunner(BaseRunner):
    """What every runner of torch modules shares (``torch`` programs, inductor packages): names
    from the manifest, tensors stay on ``device`` when asked, CUDA memory handed back on deactivate.
    Subclasses set ``_inputs``/``_outputs``/``device`` and implement ``activate_impl``/``infer_impl``,
    calling ``super().deactivate_impl()`` after dropping their module."""

    _inputs: list[str]
    _outputs: list[str]
    device: str

    def deactivate_impl(self):
        if str(self.device).startswith("cuda"):
            _torch().cuda.empty_cache()

    def input_names(self):
        return self._inputs

    def output_names(self):
        return self._outputs

    def to_host(self, value):
        torch = _torch()
        return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


class TorchProgramRunner(TorchRunner):
    """One ``torch.export`` program. With ``cuda_graphs`` on a CUDA device, each input shape runs
    once eagerly (warm-up: allocations, cuDNN algorithm choice), is captured into a CUDA graph on its
    second call (``torch.cuda.graph``, static input and output tensors) and replayed from then on:
    inputs are copied into the static tensors; outputs stay valid until this runner replays again."""

    def __init__(self, manifest, graph: str, device: str = "cpu", cuda_graphs: bool = False):
        super().__init__(f"torch:{graph}")
        self.path = program_path(manifest, graph)
        self.expected_sha256 = manifest.data["torch_programs"][graph]["sha256"]
        self._inputs = [t["name"] for t in manifest.inputs(graph)]
        self._outputs = [t["name"] for t in manifest.outputs(graph)]
        self.device = device
        self.module = None
        self.supports_cuda_graph = bool(cuda_graphs) and str(device).startswith("cuda")
        self._graphs: dict[tuple, tuple] = {}  # input shapes -> (CUDAGraph, static inputs, static outputs)
        self._seen: dict[tuple, int] = {}

    def activate_impl(self):
        torch = _torch()
        from ...core.files import sha256_of

        if not self.path.is_file():
            raise ModelError("torch program named by the manifest is missing", path=self.path,
                             fix="re-export with `stylert export`")
        if sha256_of(self.path) != self.expected_sha256:
            raise ModelError("does not match its SHA-256 in manifest.json: modified or corrupt", path=self.path,
                             fix="re-export with `stylert export`")
        program = torch.export.load(str(self.path))
        self.module = program.module().to(self.device)

    def deactivate_impl(self):
        self.module = None
        self._graphs.clear()
        self._seen.clear()
        super().deactivate_impl()

    def _call(self, args):
        out = self.module(*args)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)

    def _graphed(self, torch, args):
        key = tuple((tuple(a.shape), a.dtype) for a in args)
        entry = self._graphs.get(key)
        if entry is None:
            self._seen[key] = self._seen.get(key, 0) + 1
            if self._seen[key] < 2:
                return self._call(args)  # first call of this shape: eager, outside any capture
            static_in = [a.clone() for a in args]
            graph = torch.cuda.CUDAGraph()
            torch.cuda.synchronize(self.device)
            with torch.cuda.graph(graph):
                static_out = self._call(static_in)
            entry = self._graphs[key] = (graph, static_in, static_out)
        graph, static_in, static_out = entry
        for slot, a in zip(static_in, args):
            slot.copy_(a, non_blocking=True)
        graph.replay()
        return static_out

    def infer_impl(self, feed, keep_on_device):
        torch = _torch()
        args = [v if isinstance(v, torch.Tensor) else torch.from_numpy(v) for v in (feed[n] for n in self._inputs)]
        with torch.inference_mode():
            args = [a.to(self.device) for a in args]
            out = self._graphed(torch, args) if self.supports_cuda_graph else self._call(args)
        out = dict(zip(self._outputs, out))
        if keep_on_device:
            return out
        return {k: v.detach().cpu().numpy() for k, v in out.items()}
