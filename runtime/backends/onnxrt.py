"""ONNX Runtime backend: CPU and CUDA execution providers, IOBinding so features stay on the device.

``SessionFromOnnx`` is a lazy loader (Polygraphy's naming); ``OnnxrtRunner`` runs one graph.
``infer`` takes numpy arrays or ``OrtValue``s and, with ``keep_on_device=True``, returns
``OrtValue``s that can be fed to the next graph without a copy to the host.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path

import numpy as np

from ...core.providers import PROVIDERS, checked_session, device_index, onnxruntime
from .base import BaseRunner

FOLD_ENV = "STYLERT_ORT_FOLD"
#: ``0`` keeps ONNX Runtime's CPU arena at its high-water mark between runs (its default); otherwise
#: each CPU run hands the arena's free chunks back at its end (``memory.enable_memory_arena_shrinkage``).
SHRINK_ENV = "STYLERT_ORT_ARENA_SHRINK"


class SessionFromOnnx:
    """Callable that builds an ``InferenceSession`` for ``path`` on ``device`` ("cpu" or "cuda").

    On the CPU, ``fold_layout`` (default; ``STYLERT_ORT_FOLD=0`` turns it off) runs ONNX Runtime's
    own optimization and then keeps its blocked layout across reflection pads (``nchwc.py``):
    bit-identical outputs, two feature-map copies fewer per layer. ``folds`` says how many pads
    were folded (0: nothing to fold on this machine), ``fold_error`` why folding was skipped."""

    def __init__(self, path: str | os.PathLike, device: str = "cpu", threads: int | None = None,
                 fold_layout: bool | None = None):
        self.path = Path(path)
        self.device = device
        self.threads = threads
        self.fold_layout = os.environ.get(FOLD_ENV, "1") != "0" if fold_layout is None else fold_layout
        self.folds = 0
        self.fold_error: str | None = None

    def _options(self, ort, level):
        options = ort.SessionOptions()
        options.graph_optimization_level = level
        if self.threads:
            options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        return options

    def __call__(self):
        ort = onnxruntime()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if self.device == "cpu" and self.fold_layout:
                from .nchwc import folded_model_bytes

                try:
                    model, self.folds = folded_model_bytes(self.path, self.threads)
                except Exception as exc:  # ONNX Runtime's own graph is the fallback: never worse than without
                    model, self.folds, self.fold_error = None, 0, f"{type(exc).__name__}: {exc}"
                if model is not None:
                    # Already optimized for this CPU: running ORT's passes again would undo nothing but waste time.
                    options = self._options(ort, ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
                    return checked_session(ort, model, self.device, options)
            options = self._options(ort, ort.GraphOptimizationLevel.ORT_ENABLE_ALL)
            # on CUDA: the libraries preloaded, GPU device_index(device), the provider checked after
            return checked_session(ort, str(self.path), self.device, options)


class OnnxrtRunner(BaseRunner):
    """One ONNX graph. ``device`` is where the session runs; ``providers_in_use`` what ORT kept."""

    def __init__(self, session_loader: SessionFromOnnx, name: str | None = None):
        super().__init__(name or session_loader.path.stem)
        self.loader = session_loader
        self.session = None
        self.providers_in_use: list[str] = []

    @property
    def on_cuda(self) -> bool:
        return PROVIDERS["cuda"] in self.providers_in_use

    @property
    def layout_folds(self) -> int:
        """Reflection pads kept in ONNX Runtime's blocked CPU layout (``nchwc.py``); 0 on CUDA."""
        return self.loader.folds

    def activate_impl(self):
        self.session = self.loader()
        self.providers_in_use = self.session.get_providers()

    def deactivate_impl(self):
        self.session = None

    def input_names(self):
        return [i.name for i in self.session.get_inputs()]

    def output_names(self):
        return [o.name for o in self.session.get_outputs()]

    def input_types(self) -> dict[str, str]:
        return {i.name: i.type for i in self.session.get_inputs()}

    def infer_impl(self, feed, keep_on_device):
        ort = onnxruntime()
        if not self.on_cuda:  # on the CPU, numpy arrays already are device memory: no binding needed
            arrays = {k: (v.numpy() if isinstance(v, ort.OrtValue) else v) for k, v in feed.items()
                      if k in self.input_names()}
            return dict(zip(self.output_names(), self.session.run(None, arrays, _cpu_run_options(ort))))
        binding = self.session.io_binding()
        device, index = "cuda", device_index(self.loader.device)  # cuda:N: GPU N, as the session's device_id
        for name in self.input_names():
            value = feed[name]
            if not isinstance(value, ort.OrtValue):
                value = ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value), device, index)
            binding.bind_ortvalue_input(name, value)
        for name in self.output_names():
            binding.bind_output(name, device, index)
        self.session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        if keep_on_device:
            return dict(zip(self.output_names(), outputs))
        return {n: v.numpy() for n, v in zip(self.output_names(), outputs)}

    def to_host(self, value):
        return value.numpy() if isinstance(value, onnxruntime().OrtValue) else value


def _cpu_run_options(ort):
    """RunOptions of a CPU run: the arena shrinks back at the end of each run, so that the encoder's,
    transform's and decoder's arenas do not each stay at their peak (one 1080x1920 image: peak RSS
    measured in ``benchmarks/results/suite/amd-epyc-2c/``); ``STYLERT_ORT_ARENA_SHRINK=0``: ONNX Runtime's default."""
    if os.environ.get(SHRINK_ENV, "1") == "0":
        return None
    options = ort.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options
