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

Video (AdaIN families): ``stylize(..., temporal=state)`` smooths the content statistics over
frames (``stylert.core.temporal.StatisticsEMA``). The encoder already outputs each tap's mean
and std on the content; since AdaIN is affine in the style statistics, normalising the content
with smoothed statistics (m, s) instead of its own (mu, sigma) equals feeding the unchanged
transform graph the style code ``std' = std * sigma / s``, ``mean' = mean + std * (mu - m) / s``
(``fold_content_statistics``; the manifest's ``style.content_statistics``). No other graph is
needed, and exports made before this work as they are. ``stream(frames, styles)`` runs a
sequence of frames (a camera, a network, a decoder) with the style encoded once, decoding in a
thread ahead of inference, in bounded memory; ``stream(..., temporal_blend=W)`` blends each
output frame with the previous one warped by the input's optical flow
(``stylert.core.temporal.FlowBlend``, every family), or with ``temporal_blend_space="feature"``
the decoder's inputs with the previous frame's, between the transform and the decoder graphs
(``FeatureBlend``, through ``stylize(..., decoder_hook=)``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from ..core.images import crop_to, pad_to
from ..core.stylize import StylizeOptions, alpha_values, check_options
from ..core.temporal import StatisticsEMA
from ..errors import ModelError, nan_fix
from ..export.manifest import Manifest, load_manifest
from .backends import BaseRunner, make_runners
from .codes import StyleCode, blend

#: ``stylize(..., decoder_hook=)``: (decoder inputs name -> float32 [N, C, h, w], padded (H', W')) -> the inputs to decode.
DecoderHook = Callable[[dict, tuple], dict]


def resolve_device(backend: str, device: str, notice=None) -> str:
    """``auto`` -> cuda where the backend really runs there, else cpu (said through ``notice``, except
    for CPU-only backends); an explicit ``cuda`` the backend cannot honour is a ModelError
    (``stylert.core.providers.choose_device``; the backend's CUDA check: ``registry.Backend.has_cuda``)."""
    from ..core.providers import choose_device
    from .backends.registry import get

    spec = get(backend)
    if "cuda" not in spec.devices:
        if device == "auto":
            return "cpu"
        return choose_device(device, lambda: False, f"the {backend} backend", notice)
    has_cuda = spec.has_cuda or (lambda: True)
    return choose_device(device, has_cuda, f"the {backend} backend", notice)


class Pipeline:
    """Runs an export directory. Use as a context manager (activates and deactivates the runners)."""

    def __init__(self, manifest: Manifest, runners: dict[str, BaseRunner], backend: str, device: str,
                 choice: str | None = None):
        self.manifest = manifest
        self.runners = runners
        self.backend = backend
        self.device = device
        #: ``--backend auto``: the one line saying what was chosen and why (None for a named backend)
        self.choice = choice
        self.timings: dict[str, float] = {}  # seconds of the last call per graph (host wall clock)
        self.route = manifest.route

    @classmethod
    def open(cls, export_dir: str | os.PathLike, backend: str = "onnxruntime", device: str = "auto",
             notice=None, ort_fold: bool | None = None, cuda_graphs: bool = False,
             precision: str | None = None) -> "Pipeline":
        """``backend``: a name of ``BACKENDS``, or ``auto`` (``stylert.runtime.backends.auto.choose``: the
        fastest backend and precision that passes its floors here, said in ``choice``). ``precision``:
        the inference precision of backends that choose one (openvino: auto, bf16, f32)."""
        manifest = load_manifest(export_dir)
        choice = None
        if backend == "auto":
            from .backends.auto import choose

            picked = choose(manifest, device, notice)
            backend, device, choice = picked.backend, picked.device, picked.line
            precision = precision or picked.precision
        device = resolve_device(backend, device, notice)
        return cls(manifest, make_runners(manifest, backend, device, ort_fold, cuda_graphs, precision), backend,
                   device, choice)

    @property
    def precision(self) -> str:
        """What the graphs really run in: the runners' own (openvino: bf16/fp32/int8), else the export's."""
        return getattr(self.runners["encoder"], "precision", self.manifest.precision)

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
        return self.manifest.encoder_sha256

    @property
    def alpha_levels(self) -> list[str]:
        return self.manifest.alpha_levels

    @property
    def codes_blend_linearly(self) -> bool:
        return self.manifest.codes_blend_linearly

    @property
    def smooths_statistics(self) -> bool:
        """Whether temporal smoothing acts: the encoder outputs the content statistics (AdaIN families)."""
        return bool(self.route.content_statistics)

    def alpha_array(self, alpha) -> np.ndarray:
        """A float or one value per level (``alpha.levels``) -> float32 [L], each in [0, 1]
        (``stylert.core.stylize.alpha_values``)."""
        return np.asarray(alpha_values(alpha, self.alpha_levels, self.family), dtype=np.float32)

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
        image = pad_to(image, self.manifest.style_size(*image.shape[:2]))[0]
        self.timings = {}
        out = self._run("encoder", {"image": _nchw(image[None])})
        arrays = {o: self._host("encoder", out[o]).astype(np.float32) for o in self.route.code_outputs}
        return StyleCode(arrays, self.family, self.encoder_sha256, source)

    def stylize(self, contents: np.ndarray, codes: list[StyleCode], *, alpha=1.0,
                weights: list[float] | None = None, mask: np.ndarray | None = None,
                temporal: StatisticsEMA | None = None, decoder_hook: DecoderHook | None = None) -> np.ndarray:
        """contents [H,W,3] or [N,H,W,3] (one size) + style codes -> stylized, same shape, clamped 0..1.

        ``temporal``: the smoothing state of the video the frames belong to ([N,...]: N consecutive
        frames, oldest first); None, or a family without content statistics: frames independent.
        ``decoder_hook(inputs, padded)``: called between the transform and the decoder with the
        decoder's inputs (name -> float32 [N, C, h, w] on the host) and the padded image size (H', W');
        the decoder runs on what it returns (``FeatureBlend.update_batch``: feature-space blending)."""
        single = contents.ndim == 3
        batch = contents[None] if single else contents
        n, h, w = batch.shape[:3]
        smoothing = temporal.strength if temporal is not None else 0.0
        options = check_options(StylizeOptions(alpha=alpha, weights=weights, mask=mask, temporal_smoothing=smoothing),
                                len(codes), self.alpha_levels, (h, w), self.family)
        for code in codes:
            code.check_for(self.family, self.encoder_sha256)
        weights, mask = options.weights, options.mask
        alpha_arr = np.asarray(options.alpha, dtype=np.float32)
        size = self.manifest.padded_size(h, w)
        padded = np.stack([pad_to(img, size)[0] for img in batch])
        self.timings = {}
        enc = self._run("encoder", {"image": _nchw(padded)})
        refold = None
        if smoothing > 0 and self.smooths_statistics:
            pairs = self.route.content_statistics
            own = {tap: (self._host("encoder", enc[m]).astype(np.float32), self._host("encoder", enc[s]).astype(np.float32))
                   for tap, (m, s) in pairs.items()}
            smoothed = temporal.update(own)

            def refold(arrays):
                return fold_content_statistics(arrays, pairs, own, smoothed)

        def transform(code: StyleCode, keep: bool) -> dict:
            arrays = code.arrays if refold is None else refold(code.arrays)
            arrays = {o: np.ascontiguousarray(np.repeat(a, n, axis=0) if a.shape[0] != n else a)
                      for o, a in arrays.items()}
            return self._run("transform", self.route.transform_feeds(enc, arrays, alpha_arr), keep)

        if mask is not None:
            fg = pad_to(mask.astype(np.float32)[..., None], size)[0][..., 0]
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
        feeds = self.route.decoder_feeds(t)
        if decoder_hook is not None:
            feeds = decoder_hook({k: np.asarray(self._host("transform", v), dtype=np.float32)
                                  for k, v in feeds.items()}, size)
        out = self.decode(feeds, (h, w))
        return out[0] if single else out

    def decode(self, feeds: dict, hw: tuple[int, int]) -> np.ndarray:
        """The decoder on its inputs (name -> [N, C, h, w], as ``route.decoder_feeds`` names them) -> images
        float32 [N, H, W, 3] clamped to 0..1 and cropped to hw = (H, W) (the size before padding)."""
        dec = self._run("decoder", feeds)
        image = self._host("decoder", dec[self.route.result])
        image = np.clip(image, 0.0, 1.0).transpose(0, 2, 3, 1)
        out = np.stack([crop_to(img, hw) for img in image]).astype(np.float32)
        if not np.isfinite(out).all():
            raise ModelError(f"the {self.backend} backend produced NaN or Inf (decoder output)",
                             fix=nan_fix(self.manifest.precision, "`stylert build EXPORT_DIR --force`"
                                         if self.backend in ("tensorrt", "inductor") else "`stylert export --overwrite`"))
        return out

    def _to_host_dict(self, graph: str, values: dict) -> dict:
        return {k: self._host(graph, v) for k, v in values.items()}

    def stream(self, frames: Iterable[np.ndarray], styles: list, *, alpha=1.0, weights: list[float] | None = None,
               temporal_smoothing: float = 0.0, temporal_blend: float = 0.0, temporal_blend_space: str | None = None,
               batch_size: int = 8, prefetch: int = 2,
               progress: Callable[[int], None] | None = None) -> Iterator[np.ndarray]:
        """Stylize a sequence of frames, in order, as they come (a camera, a network, a decoder).

        ``frames``: any iterable of [H, W, 3] RGB frames, uint8 or float 0..1; ``styles``: style
        images [H, W, 3] float 0..1 or ``StyleCode``s, encoded once before the first frame. Yields
        one stylized frame per input frame, uint8 for uint8 input, float32 0..1 otherwise. Frames are
        pulled in a thread, ``prefetch`` batches of up to ``batch_size`` ahead of inference (bounded
        memory for any length); a change of frame size starts a new batch and a new shot.
        ``temporal_smoothing``: as ``StylizeOptions`` (a no-op for the attention families).
        ``temporal_blend``: the weight W in [0, 0.95] of flow-guided blending of each output frame
        with the previous one (``stylert.core.temporal.FlowBlend``, every family; 0 = off); a cut
        found by the statistics (with smoothing on) or by the flow, or a change of size, restarts it.
        ``temporal_blend_space``: ``image`` (the output frames) or ``feature`` (the decoder's inputs,
        blended between the transform and the decoder: ``stylert.core.temporal.FeatureBlend``); None:
        ``DEFAULT_BLEND_SPACE``. ``progress(n)``: frames done so far, after each batch.
        """
        from ..core.images import to_uint8
        from ..core.temporal import DEFAULT_BLEND_SPACE, FeatureBlend, make_blender
        from .stream import Prefetcher

        codes = [s if isinstance(s, StyleCode) else self.encode_style(np.asarray(s, np.float32)) for s in styles]
        options = check_options(StylizeOptions(alpha=alpha, weights=weights, temporal_smoothing=temporal_smoothing),
                                len(codes), self.alpha_levels, None, self.family)
        for code in codes:
            code.check_for(self.family, self.encoder_sha256)
        strength = options.temporal_smoothing
        temporal = StatisticsEMA(strength) if strength > 0 and self.smooths_statistics else None
        # a bad weight or space, or a missing OpenCV, stops here, before the first frame
        blender = make_blender(temporal_blend, temporal_blend_space or DEFAULT_BLEND_SPACE)
        source = Prefetcher(frames, batch_size, prefetch)
        done, shape = 0, None
        try:
            for batch, was_uint8 in source:
                if temporal is not None and shape is not None and batch.shape[1:] != shape:
                    temporal.reset()
                shape = batch.shape[1:]
                first = temporal.frames if temporal is not None else 0

                def cuts(first=first):  # the statistics cuts in this batch (known once its statistics are)
                    return {c - first for c in temporal.cuts if c >= first} if temporal is not None else set()

                hook = None
                if isinstance(blender, FeatureBlend):
                    def hook(inputs, padded, batch=batch, cuts=cuts):
                        return blender.update_batch([to_uint8(x) for x in batch], inputs, padded, cuts())
                out = self.stylize(batch, codes, alpha=options.alpha, weights=options.weights, temporal=temporal,
                                   decoder_hook=hook)
                if blender is not None and hook is None:
                    found = cuts()
                    out = [blender.update(to_uint8(x), y, cut=i in found) for i, (x, y) in enumerate(zip(batch, out))]
                done += len(out)
                if progress is not None:
                    progress(done)
                for frame in out:
                    yield to_uint8(frame) if was_uint8 else frame
        finally:
            source.close()


def fold_content_statistics(code: dict, pairs: dict, own: dict, smoothed: dict) -> dict:
    """A style code (encoder output -> array [1 or N, C, 1, 1]) rewritten so that the transform, which
    normalises each content tap with its own statistics ``own[tap] = (mu, sigma)``, computes AdaIN
    with ``smoothed[tap] = (m, s)`` instead:

        sigma_s * (c - m) / s + mu_s = (sigma_s * sigma / s) * (c - mu) / sigma + (mu_s + sigma_s * (mu - m) / s)

    ``pairs``: tap -> (mean output, std output). Where ``(m, s) == (mu, sigma)`` the code comes back
    bit for bit (ratio 1, difference 0)."""
    out = dict(code)
    for tap, (mean_name, std_name) in pairs.items():
        mu, sigma = own[tap]
        m, s = smoothed[tap]
        style_mean, style_std = code[mean_name], code[std_name]
        out[std_name] = (style_std * (sigma / s)).astype(np.float32)
        out[mean_name] = (style_mean + style_std * ((mu - m) / s)).astype(np.float32)
    return out


def _nchw(batch: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def _resize_nearest(mask: np.ndarray, hw) -> np.ndarray:
    """[H, W] -> [1, 1, h, w] by nearest neighbour, as torch's ``interpolate(mode="nearest")``."""
    H, W = mask.shape
    h, w = int(hw[0]), int(hw[1])
    rows = np.minimum((np.arange(h) * (H / h)).astype(np.int64), H - 1)
    cols = np.minimum((np.arange(w) * (W / w)).astype(np.int64), W - 1)
    return mask[rows][:, cols][None, None].astype(np.float32)
