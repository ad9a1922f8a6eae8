"""The ``inductor`` backend: AOTInductor packages built by ``stylert build --backend inductor``.

Run: ``torch._inductor.aoti_load_package``. A package does not check its inputs' shapes (unless
``AOTI_RUNTIME_CHECK_INPUTS=1``): a wrong size silently computes a wrong result. So the runner
checks every call's shapes against the manifest's relations and the engine's profiles
(``stylert.runtime.profiles.match_profile``) first, and every output for NaN/Inf after. The
engine is located and checked for staleness (``stylert.runtime.staleness``) before it loads.
"""

from __future__ import annotations

import numpy as np

from ...errors import EngineError, EngineOutputError, nan_fix
from ...export.manifest import GRAPH_NAMES, Manifest
from ..engine_manifest import EngineManifest
from ..profiles import ShapeRange, match_profile, widened
from ..staleness import open_engine
from .base import BaseRunner
from .torchrt import TorchRunner


def _torch():
    from .torchrt import _torch as get

    return get()


class InductorRunner(TorchRunner):
    """One graph's AOTInductor package. ``infer`` takes numpy arrays or torch tensors (float32)."""

    def __init__(self, export: Manifest, engine: EngineManifest, graph: str, device: str):
        super().__init__(f"inductor:{graph}")
        self.export = export
        self.engine = engine
        self.graph = graph
        self.device = device
        self.precision = engine.precision
        self.path = engine.graph_file(graph)
        self.profiles = engine.graph_profiles(graph)
        self._inputs = [t["name"] for t in export.inputs(graph)]
        self._outputs = [t["name"] for t in export.outputs(graph)]
        self.model = None
        self.check_finite = True

    def activate_impl(self):
        torch = _torch()
        try:
            self.model = torch._inductor.aoti_load_package(str(self.path))
        except Exception as err:  # a package that does not load is an engine error, with the rebuild
            raise EngineError(f"AOTInductor cannot load the package: {type(err).__name__}: "
                              f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}", path=self.path,
                              fix=self.engine.rebuild_command(self.export.root)) from err

    def deactivate_impl(self):
        self.model = None
        super().deactivate_impl()

    def _rebuild(self, image_shape) -> str:
        profiles = self.engine.profiles
        if image_shape is not None:
            profiles = [widened(profiles[-1], image_shape)] if len(profiles) == 1 else profiles + [
                ShapeRange(image_shape, image_shape, image_shape)]
        return self.engine.rebuild_command(self.export.root, profiles)

    def infer_impl(self, feed, keep_on_device):
        torch = _torch()
        args = []
        for name in self._inputs:
            value = feed[name]
            t = value if isinstance(value, torch.Tensor) else torch.from_numpy(np.asarray(value))
            if t.dtype != torch.float32:
                raise EngineError(f"{self.graph}: input {name} is {t.dtype}, the engine takes float32")
            args.append(t.to(self.device).contiguous())
        match_profile(self.export, self.graph, {n: tuple(a.shape) for n, a in zip(self._inputs, args)},
                      self.profiles, rebuild=self._rebuild)
        with torch.inference_mode():
            out = self.model(*args)
        out = dict(zip(self._outputs, out if isinstance(out, (tuple, list)) else (out,)))
        if self.check_finite:
            for name, value in out.items():
                if not bool(torch.isfinite(value).all()):
                    raise EngineOutputError(f"the inductor {self.graph} engine ({self.precision}) produced NaN or Inf "
                                            f"in its output {name}", path=self.path,
                                            fix=nan_fix(self.precision))
        if keep_on_device:
            return out
        return {k: v.detach().cpu().numpy() for k, v in out.items()}


def inductor_runners(manifest: Manifest, device: str) -> dict[str, BaseRunner]:
    """The three inductor runners of an export on ``device``; StaleEngineError/MissingEngineError first."""
    engine, _ = open_engine(manifest, "inductor", device)
    return {g: InductorRunner(manifest, engine, g, device) for g in GRAPH_NAMES}


__all__ = ["InductorRunner", "inductor_runners"]
