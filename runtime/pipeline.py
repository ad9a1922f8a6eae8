"""The runtime pipeline: an export directory's three graphs, routed by its manifest alone.

    image(s) -> pad (reflect) to the size multiple -> encoder -> transform (style code(s),
    alpha per level, interpolation weights, region masks) -> decoder -> clamp -> crop back

No model code and no torch are imported here: the ONNX Runtime path starts in a tenth of a
second. Images are numpy float32 [H, W, 3] or [N, H, W, 3] RGB 0..1.

Several styles: where the manifest says the style code blends linearly (AdaIN statistics),
codes are blended and the transform runs once; otherwise (attention) the transform runs per
style and its outputs are blended. A mask assigns styles to regions by blending the transform
outputs per region (nearest-resized to each output's size). For AdaIN this uses the content's
global statistics, where the PyTorch reference's masked mode uses per-region statistics.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import ImageError, ModelError
from ..export.manifest import Manifest, load_manifest
from .backends.base import BaseRunner
from .codes import StyleCode, blend
from .images import crop_to, pad_to_multiple

BACKENDS = ("onnxruntime", "torch", "tensorrt", "inductor")
GRAPHS = ("encoder", "transform", "decoder")


def make_runners(manifest: Manifest, backend: str, device: str, ort_fold: bool | None = None,
                 cuda_graphs: bool = False) -> dict[str, BaseRunner]:
    """One runner per graph for ``backend`` on ``device`` ("cpu" or "cuda"). ``ort_fold``: keep
    ONNX Runtime's blocked CPU layout across pads (default on; see ``backends/nchwc.py``).
    ``cuda_graphs``: capture and replay CUDA graphs (torch and tensorrt backends on CUDA)."""
    if backend == "onnxruntime":
        from .backends.onnxrt import OnnxrtRunner, SessionFromOnnx

        return {g: OnnxrtRunner(SessionFromOnnx(manifest.graph_path(g), device, fold_layout=ort_fold), g)
                for g in GRAPHS}
    if backend == "torch":
        from .backends.torchrt import TorchProgramRunner

        return {g: TorchProgramRunner(manifest, g, device, cuda_graphs=cuda_graphs) for g in GRAPHS}
    if backend == "tensorrt":
        from ..engines.runner import tensorrt_runners

        return tensorrt_runners(manifest, device, cuda_graphs=cuda_graphs)
    if backend == "inductor":
        from ..engines.inductor import inductor_runners

        return inductor_runners(manifest, device)
    raise ModelError(f"unknown backend {backend!r}", fix=f"use one of {', '.join(BACKENDS)}")


def resolve_device(backend: str, device: str, notice=None) -> str:
    """``auto`` -> cuda where the backend really runs there, else cpu; ``cuda`` that cannot load -> notice + cpu."""
    if backend == "onnxruntime":
        from .backends.onnxrt import cuda_provider_loads

        has_cuda = device != "cpu" and cuda_provider_loads()
    elif backend in ("torch", "inductor"):
        from .backends.torchrt import cuda_available

        has_cuda = device != "cpu" and cuda_available()
    else:  # tensorrt: CUDA only; its runners say what is missing (package, GPU, engine)
        has_cuda = True
    if device == "cuda" and not has_cuda:
        if notice:
            notice(f"{backend}: CUDA does not load on this machine (no GPU or no CUDA libraries); running on CPU")
        return "cpu"
    if device == "auto":
        return "cuda" if has_cuda else "cpu"
    return device


class Pipeline:
    """Runs an export directory. Use as a context manager (activates and deactivates the runners)."""

    def __init__(self, manifest: Manifest, runners: dict[str, BaseRunner], backend: str, device: str):
        self.manifest = manifest
        self.runners = runners
        self.backend = backend
        self.device = device
        self.timings: dict[str, float] = {}  # seconds of the last call per graph (host wall clock)
        routing = manifest.routing
        self._code_inputs = {name: src["output"] for name, src in routing["transform"].items()
                             if src.get("graph") == "encoder" and src.get("image") == "style"}
        self._content_inputs = {name: src["output"] for name, src in routing["transform"].items()
                                if src.get("graph") == "encoder" and src.get("image") == "content"}
        self._alpha_inputs = [n for n, src in routing["transform"].items() if src.get("runtime") == "alpha"]
        self._decoder_inputs = {name: src["output"] for name, src in routing["decoder"].items()}

    @classmethod
    def open(cls, export_dir: str | os.PathLike, backend: str = "onnxruntime", device: str = "auto",
             notice=None, ort_fold: bool | None = None, cuda_graphs: bool = False) -> "Pipeline":
        manifest = load_manifest(export_dir)
        device = resolve_device(backend, device, notice)
        return cls(manifest, make_runners(manifest, backend, device, ort_fold, cuda_graphs), backend, device)

    # -- lifecycle ---------------------------------------------------------------------
    def activate(self) -> "Pipeline":
        for r in self.runners.values():
            r.activate()
        return self

    def deactivate(self) -> None:
        for r in self.runners.values():
            r.deactivate()

    def __enter__(self):
        return self.activate()

    def __exit__(self, *exc):
        self.deactivate()

    # -- facts from the manifest -------------------------------------------------------
    @property
    def family(self) -> str:
        return self.manifest.family

    @property
    def encoder_sha256(self) -> str:
        return self.manifest.data["graphs"]["encoder"]["sha256"]

    @property
    def alpha_levels(self) -> list[str]:
        return self.manifest.alpha_levels

    @property
    def codes_blend_linearly(self) -> bool:
        return self.manifest.data["style"]["representation"] == "statistics"

    def alpha_array(self, alpha) -> np.ndarray:
        """A float or one value per level (``alpha.levels``) -> float32 [L], each in [0, 1]."""
        values = np.atleast_1d(np.asarray(alpha, dtype=np.float32))
        levels = self.alpha_levels
        if values.size == 1:
            values = np.repeat(values, len(levels))
        if values.size != len(levels):
            raise ModelError(f"{self.family} takes 1 or {len(levels)} alpha values ({', '.join(levels)}), "
                             f"got {values.size}")
        if ((values < 0) | (values > 1)).any():
            raise ModelError(f"alpha must be in [0, 1], got {values.tolist()}")
        return values.astype(np.float32)

    # -- running -------------------------------------------------------------------------
    def _run(self, graph: str, feeds: dict, keep: bool = True) -> dict:
        runner = self.runners[graph]
        start = time.perf_counter()
        out = runner.infer(feeds, keep_on_device=keep)
        self.timings[graph] = self.timings.get(graph, 0.0) + time.perf_counter() - start
        return out

    def _host(self, graph: str, value) -> np.ndarray:
        return self.runners[graph].to_host(value)

    def encode_style(self, image: np.ndarray, source: str = "") -> StyleCode:
        """Style image [H, W, 3] float32 0..1 -> its code (any size at least the minimum)."""
        h, w = image.shape[:2]
        min_size = int(self.manifest.data["min_size"])
        if min(h, w) < min_size:
            image = pad_to_multiple(image, max(min_size, self.manifest.size_multiple))[0]
        self.timings = {}
        out = self._run("encoder", {"image": _nchw(image[None])})
        arrays = {o: self._host("encoder", out[o]).astype(np.float32) for o in set(self._code_inputs.values())}
        return StyleCode(arrays, self.family, self.encoder_sha256, source)

    def stylize(self, contents: np.ndarray, codes: list[StyleCode], *, alpha=1.0,
                weights: list[float] | None = None, mask: np.ndarray | None = None) -> np.ndarray:
        """contents [H,W,3] or [N,H,W,3] (one size) + style codes -> stylized, same shape, clamped 0..1."""
        single = contents.ndim == 3
        batch = contents[None] if single else contents
        if not codes:
            raise ModelError("at least one style is needed")
        for code in codes:
            code.check_for(self.family, self.encoder_sha256)
        weights = _normalized(weights, len(codes))
        alpha_arr = self.alpha_array(alpha)
        n, h, w = batch.shape[:3]
        m = self.manifest.size_multiple
        padded = np.stack([pad_to_multiple(img, m)[0] for img in batch])
        self.timings = {}
        enc = self._run("encoder", {"image": _nchw(padded)})

        def transform(code: StyleCode, keep: bool) -> dict:
            feeds = {name: enc[out] for name, out in self._content_inputs.items()}
            for name, out in self._code_inputs.items():
                arr = code.arrays[out]
                feeds[name] = np.ascontiguousarray(np.repeat(arr, n, axis=0) if arr.shape[0] != n else arr)
            for name in self._alpha_inputs:
                feeds[name] = alpha_arr
            return self._run("transform", feeds, keep)

        if mask is not None:
            if len(codes) != 2 or len(weights) != 2 and weights != [1.0]:
                raise ModelError("a mask takes exactly two styles (white: first, black: second)")
            if mask.shape != (h, w):
                raise ImageError(f"mask is {mask.shape[1]}x{mask.shape[0]}, the content is {w}x{h}",
                                 fix="use a mask of the content's size (it is resized with the content)")
            fg = pad_to_multiple(mask.astype(np.float32)[..., None], m)[0][..., 0]
            parts = [self._to_host_dict("transform", transform(c, False)) for c in codes]
            t = {k: sum(_resize_nearest(r, parts[0][k].shape[-2:]) * p[k] for r, p in zip((fg, 1.0 - fg), parts))
                 for k in parts[0]}
        elif len(codes) == 1:
            t = transform(codes[0], True)
        elif self.codes_blend_linearly:
            t = transform(blend(codes, weights), True)
        else:
            parts = [self._to_host_dict("transform", transform(c, False)) for c in codes]
            t = {k: sum(np.float32(wt) * p[k] for wt, p in zip(weights, parts)) for k in parts[0]}
        dec = self._run("decoder", {name: t[out] for name, out in self._decoder_inputs.items()})
        result = self.manifest.routing["result"]
        image = self._host("decoder", dec[result["output"]])
        image = np.clip(image, 0.0, 1.0).transpose(0, 2, 3, 1)
        out = np.stack([crop_to(img, (h, w)) for img in image]).astype(np.float32)
        if not np.isfinite(out).all():
            raise ModelError(f"the {self.backend} backend produced NaN or Inf (decoder output)",
                             fix="run `stylert compare DIR` to find the graph; fp16 exports may overflow")
        return out[0] if single else out

    def _to_host_dict(self, graph: str, values: dict) -> dict:
        return {k: self._host(graph, v) for k, v in values.items()}


def _nchw(batch: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def _normalized(weights, k: int) -> list[float]:
    if weights is None:
        return [1.0 / k] * k if k > 1 else [1.0]
    weights = [float(x) for x in weights]
    if len(weights) != k:
        raise ModelError(f"{k} styles but {len(weights)} interpolation weights")
    if any(x < 0 for x in weights) or sum(weights) <= 0:
        raise ModelError(f"interpolation weights must be >= 0 with a positive sum, got {weights}")
    return [x / sum(weights) for x in weights]


def _resize_nearest(mask: np.ndarray, hw) -> np.ndarray:
    """[H, W] -> [1, 1, h, w] by nearest neighbour, as torch's ``interpolate(mode="nearest")``."""
    H, W = mask.shape
    h, w = int(hw[0]), int(hw[1])
    rows = np.minimum((np.arange(h) * (H / h)).astype(np.int64), H - 1)
    cols = np.minimum((np.arange(w) * (W / w)).astype(np.int64), W - 1)
    return mask[rows][:, cols][None, None].astype(np.float32)
