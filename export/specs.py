"""One declarative export spec per model family (in the manner of Optimum's ONNX configs).

A family's spec says, for each of its three graphs, the input and output names, dtypes and
symbolic shapes, how the axes map onto ``torch.export.Dim``s, the tolerances of export-time
validation, and which graph output feeds which graph input (the *routing*). Each family's
descriptor (``models/families/``) names its spec class (``export_spec``, resolved here), so that
the CLI and the tests find every family without a list kept by hand; ``get_export_spec`` fails
for a family without one.

Graphs and names (``TAP`` = an encoder tap such as ``relu4_1``, ``LEVEL`` = a decoder input):

    encoder    image [N,3,H,W] float32 RGB 0..1      -> TAP [N,C,H/s,W/s] for every tap the family
                                                        needs (+ TAP_mean, TAP_std [N,C,1,1]: AdaIN)
    transform  content_TAP, style_KEY, alpha [L]     -> stylized_LEVEL
    decoder    LEVEL (decoder inputs)                -> image [N,3,H,W] float32 (not clamped)

Symbols: ``N`` batch; ``H``, ``W`` the encoder's input size (content images: padded to a
multiple of ``size_multiple``; style images: any size >= ``min_size``); ``Hs``, ``Ws`` the
style image's size where the transform takes style taps; ``X/k`` means ``ceil(X / k)``, exact
for content sizes. Every graph's inputs and outputs are float32, also in the fp16 variant
(float16 weights and activations inside, statistics and softmax in float32).

Style representation: AdaIN families: the per-channel mean and std of each style tap (the
encoder graph computes them: ``TAP_mean``/``TAP_std``; a style is a few KB and styles blend
linearly in it). Attention families: the style taps themselves; styles blend by blending
transform outputs.

Alpha (``alpha`` [L] float32, one value per level of ``model.alpha_levels``, each in 0..1):
AdaIN: ``t = a * AdaIN(c, s) + (1 - a) * c`` per level. Attention families: ``t = a *
T(c, s) + (1 - a) * T(c, c)`` per level (the transform of the content with itself, as the
PyTorch model does): the graph always computes both paths, so alpha stays a graph input.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from ..core.checks import MIN_PSNR_DB, TOLERANCES, Tolerance
from ..models.base import StyleModel
from ..models.family import descriptors, resolve
from ..models.vgg import TAP_CHANNELS, TAP_STRIDE, TAPS
from .errors import ExportError
from .inputs import alpha_values, synthetic_images

PRECISIONS = ("fp32", "fp16", "int8")  # int8: float32 graphs, quantized after export (quantize.py)
GRAPHS = ("encoder", "transform", "decoder")
#: Largest image side the dynamic axes are declared for (TensorRT profiles pick their own).
MAX_SIDE = 16384
MAX_BATCH = 256


@dataclass(frozen=True)
class TensorSpec:
    """A graph input or output: name, dtype and shape (ints fixed, strings symbolic)."""

    name: str
    shape: tuple[int | str, ...]
    dtype: str = "float32"
    doc: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape), "doc": self.doc}


@dataclass(frozen=True)
class Source:
    """Where a graph input comes from: a graph's output on the content or style image, or the runtime."""

    graph: str | None  # None: the runtime provides it
    output: str
    image: str | None = None  # "content" or "style" for encoder outputs

    def to_json(self) -> dict:
        if self.graph is None:
            return {"runtime": self.output}
        out = {"graph": self.graph, "output": self.output}
        if self.image:
            out["image"] = self.image
        return out


@dataclass
class GraphSpec:
    """One graph: names, shapes, tolerances, where each input comes from, and the module
    that computes it (positional float32 tensors in ``inputs`` order -> tuple in ``outputs`` order)."""

    name: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    sources: dict[str, Source]
    tolerance: dict[str, Tolerance]
    dims: dict[str, object] = field(repr=False, default_factory=dict)  # symbol -> torch.export.Dim
    module: nn.Module | None = field(repr=False, default=None)

    @property
    def input_names(self) -> list[str]:
        return [t.name for t in self.inputs]

    @property
    def output_names(self) -> list[str]:
        return [t.name for t in self.outputs]

    def dynamic_shapes(self) -> tuple:
        """``dynamic_shapes`` for ``torch.onnx.export``: the symbolic axes of each input, in order."""
        return tuple({axis: self.dims[sym] for axis, sym in enumerate(t.shape) if isinstance(sym, str)}
                     for t in self.inputs)


# --------------------------------------------------------------------------------------
# Modules with named, float32 boundaries around the model's parts
# --------------------------------------------------------------------------------------
class _GraphModule(nn.Module):
    """Positional float32 tensors -> tuple of float32 tensors; ``dtype`` inside (fp16 variant)."""

    def __init__(self, model: StyleModel, input_names, output_names, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.input_names = list(input_names)
        self.output_names = list(output_names)
        self.dtype = dtype

    def forward(self, *tensors):
        feeds = {n: t.to(self.dtype) for n, t in zip(self.input_names, tensors)}
        out = self.compute(feeds)
        return tuple(out[n].to(torch.float32) for n in self.output_names)

    def compute(self, feeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class EncoderGraph(_GraphModule):
    """image -> the family's taps (+ the style code entries that are not taps)."""

    def __init__(self, model, taps, output_names, dtype):
        super().__init__(model, ["image"], output_names, dtype)
        self.taps = tuple(taps)

    def compute(self, feeds):
        feats = self.model.encoder(feeds["image"], self.taps)
        return {**feats, **self.model.style_code(feats)}


class AdaINTransformGraph(_GraphModule):
    """content_TAP, style_TAP_mean/std, alpha [L] -> stylized_LEVEL (AdaIN + alpha blend)."""

    def compute(self, feeds):
        m = self.model
        content = {t: feeds[f"content_{t}"] for t in m.content_taps}
        code = {k[len("style_"):]: v for k, v in feeds.items() if k.startswith("style_")}
        alpha = {lvl: feeds["alpha"][i] for i, lvl in enumerate(m.alpha_levels)}
        return {f"stylized_{k}": v for k, v in m.transform(content, code, alpha).items()}


class AttentionTransformGraph(_GraphModule):
    """content_TAP, style_TAP, alpha [L] -> stylized_LEVEL, blending with the transform of the
    content with itself (``_AttentionFamily.transfer``); both paths are always computed."""

    def compute(self, feeds):
        m = self.model
        content = {t: feeds[f"content_{t}"] for t in m.content_taps}
        style = {t: feeds[f"style_{t}"] for t in m.style_taps}
        stylized = m._outputs(content, style)
        identity = m._outputs(content, {t: content[t] for t in m.style_taps})
        alpha = {lvl: feeds["alpha"][i] for i, lvl in enumerate(m.alpha_levels)}
        return {f"stylized_{k}": stylized[k] * alpha[k] + identity[k] * (1 - alpha[k]) for k in stylized}


class DecoderGraph(_GraphModule):
    def compute(self, feeds):
        return {"image": self.model.decode(feeds)}


# --------------------------------------------------------------------------------------
# Family specs: each family's descriptor names its spec class (``export_spec``)
# --------------------------------------------------------------------------------------
def list_export_specs() -> list[str]:
    """The families whose descriptor names an export spec, sorted."""
    return [name for name, d in descriptors().items() if d.export_spec is not None]


def get_export_spec(model: StyleModel) -> FamilyExportSpec:
    """The export spec of ``model``'s family (its descriptor's ``export_spec``), bound to the model."""
    descriptor = descriptors().get(model.family)
    if descriptor is None or descriptor.export_spec is None:
        raise ExportError(f"no export spec for model family {model.family!r}",
                          fix=f"families with one: {', '.join(list_export_specs())}")
    return resolve(descriptor.export_spec)(model)


def _sym(base: str, stride: int) -> str:
    return base if stride == 1 else f"{base}/{stride}"


class FamilyExportSpec:
    """Base of the per-family specs: builds the three ``GraphSpec``s of a model.

    Class constants (overridden per family, like Optimum's ``DEFAULT_ONNX_OPSET`` and
    ``ATOL_FOR_VALIDATION``): ``DEFAULT_OPSET``, ``TOLERANCES[precision][graph]``,
    ``MIN_PSNR[precision]`` (end to end, dB, vs PyTorch fp32), ``DUMMY_CONTENT``/``DUMMY_STYLE``.
    """

    DEFAULT_OPSET = 18  # with IR version 8: read by ONNX Runtime 1.31 and TensorRT 10
    TOLERANCES = TOLERANCES
    MIN_PSNR = MIN_PSNR_DB
    #: Dummy inputs the graphs are traced with (batch, H, W): every symbolic axis gets a distinct
    #: size > 1 (torch.export specialises sizes 0 and 1), the style another size than the content.
    DUMMY_CONTENT = (2, 64, 96)
    DUMMY_STYLE = (2, 80, 112)
    transform_graph_cls: type[_GraphModule] = _GraphModule
    style_representation = ""

    def __init__(self, model: StyleModel):
        self.model = model
        self.family = model.family
        self.taps = tuple(t for t in TAPS if t in set(model.content_taps) | set(model.style_taps))
        self.min_size = 2 * model.size_multiple

    # -- what the subclasses say -------------------------------------------------------
    def style_code_specs(self) -> tuple[TensorSpec, ...]:
        """The style code entries as the encoder outputs them (shapes in ``Hs``/``Ws`` where spatial)."""
        raise NotImplementedError

    def style_doc(self) -> dict:
        raise NotImplementedError

    def alpha_doc(self) -> str:
        raise NotImplementedError

    def dummy_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(content [N,3,H,W], style [N,3,Hs,Ws], alpha [L]) that the graphs' dummy inputs are made from:
        the exporter routes them through the PyTorch graphs, so each graph is traced on realistic values."""
        return (synthetic_images(*self.DUMMY_CONTENT, seed=101), synthetic_images(*self.DUMMY_STYLE, seed=102),
                alpha_values(len(self.model.alpha_levels)))

    # -- symbolic axes ---------------------------------------------------------------
    def _dims(self) -> dict[str, object]:
        """Symbol -> ``torch.export.Dim``: content taps are tied to the deepest content tap
        (``H/4 = 2 * H/8``), which holds for content padded to ``size_multiple``; style taps
        (``Hs/s``) are independent, since style images have any size."""
        Dim = torch.export.Dim
        dims: dict[str, object] = {"N": Dim("N", min=1, max=MAX_BATCH)}
        for axis in ("H", "W"):
            dims[axis] = Dim(axis, min=self.min_size, max=MAX_SIDE)
            deepest = max(TAP_STRIDE[t] for t in self.model.content_taps)
            base = Dim(f"{axis}_{deepest}", min=2, max=MAX_SIDE // deepest)
            for tap in self.model.content_taps:
                s = TAP_STRIDE[tap]
                dims[f"{axis}/{s}"] = base if s == deepest else (deepest // s) * base
            for tap in self.model.style_taps:
                s = TAP_STRIDE[tap]
                dims[f"{axis}s/{s}"] = Dim(f"{axis}s_{s}", min=2, max=MAX_SIDE // s)
        return dims

    def _tap_spec(self, tap: str, name: str | None = None, prefix: str = "", doc: str = "") -> TensorSpec:
        s = TAP_STRIDE[tap]
        return TensorSpec(name or tap, ("N", TAP_CHANNELS[tap], _sym(prefix + "H", s), _sym(prefix + "W", s)), doc=doc)

    # -- the graphs ------------------------------------------------------------------
    def graphs(self, precision: str = "fp32") -> dict[str, GraphSpec]:
        """encoder, transform, decoder: specs with their modules (a float16 copy of the model for fp16)."""
        if precision not in PRECISIONS:
            raise ExportError(f"unknown precision {precision!r}", fix=f"use one of {', '.join(PRECISIONS)}")
        model = self.model.eval()
        dtype = torch.float32
        if precision == "fp16":
            model, dtype = copy.deepcopy(model).half().eval(), torch.float16
        tol = self.TOLERANCES[precision]
        dims = self._dims()
        m = self.model

        code = self.style_code_specs()
        enc_outputs = tuple(self._tap_spec(t, doc="encoder tap") for t in self.taps) + tuple(
            c for c in code if c.name not in self.taps)
        encoder = GraphSpec(
            "encoder",
            (TensorSpec("image", ("N", 3, "H", "W"), doc="RGB 0..1; preprocessing is inside the graph"),),
            enc_outputs,
            {"image": Source(None, "image")},
            {o.name: tol["encoder"] for o in enc_outputs},
            dims,
        )
        encoder.module = EncoderGraph(model, self.taps, encoder.output_names, dtype)

        content_in = tuple(self._tap_spec(t, f"content_{t}", doc=f"encoder {t} of the content") for t in m.content_taps)
        style_in = tuple(TensorSpec(f"style_{c.name}", tuple(
            s.replace("H", "Hs").replace("W", "Ws") if isinstance(s, str) and s != "N" else s for s in c.shape),
            doc=f"encoder {c.name} of the style") for c in code)
        alpha_in = TensorSpec("alpha", (len(m.alpha_levels),),
                              doc=f"one value per level ({', '.join(m.alpha_levels)}), each in 0..1")
        t_outputs = tuple(self._tap_spec(lvl, f"stylized_{lvl}", doc=f"decoder input {lvl}") for lvl in m.decoder_inputs)
        sources = {f"content_{t}": Source("encoder", t, "content") for t in m.content_taps}
        sources.update({f"style_{c.name}": Source("encoder", c.name, "style") for c in code})
        sources["alpha"] = Source(None, "alpha")
        transform = GraphSpec(
            "transform", content_in + style_in + (alpha_in,), t_outputs, sources,
            {o.name: tol["transform"] for o in t_outputs}, dims,
        )
        transform.module = self.transform_graph_cls(model, transform.input_names, transform.output_names, dtype)

        dec_in = tuple(self._tap_spec(lvl, doc=f"from transform stylized_{lvl}") for lvl in m.decoder_inputs)
        image_out = TensorSpec("image", ("N", 3, "H", "W"), doc="RGB, nominally 0..1, not clamped")
        decoder = GraphSpec(
            "decoder", dec_in, (image_out,),
            {lvl: Source("transform", f"stylized_{lvl}") for lvl in m.decoder_inputs},
            {"image": tol["decoder"]}, dims,
        )
        decoder.module = DecoderGraph(model, decoder.input_names, decoder.output_names, dtype)
        return {"encoder": encoder, "transform": transform, "decoder": decoder}


class AdaINExportSpec(FamilyExportSpec):
    transform_graph_cls = AdaINTransformGraph
    style_representation = "statistics"

    def style_code_specs(self):
        out = []
        for tap in self.model.style_taps:
            for stat in ("mean", "std"):
                out.append(TensorSpec(f"{tap}_{stat}", ("N", TAP_CHANNELS[tap], 1, 1),
                                      doc=f"per-channel {stat} of {tap} over H*W (float32"
                                          + (", unbiased variance + eps, square root)" if stat == "std" else ")")))
        return tuple(out)

    def style_doc(self):
        return {
            "representation": "statistics",
            "description": "per-channel mean and std of each style tap, computed by the encoder graph "
                           "(outputs TAP_mean, TAP_std) on the style image; cache them per style",
            "eps": self.model.config.eps,
            "blend": "linear in the code: interpolating K styles = feeding the weighted sum of their "
                     "TAP_mean/TAP_std (weights summing to 1)",
            "content_statistics": "the encoder outputs TAP_mean/TAP_std on the content image too: the statistics "
                                  "the transform normalises content_TAP with. To normalise with other content "
                                  "statistics (m, s) (video: smoothed over frames), feed style_TAP_std * TAP_std / s "
                                  "and style_TAP_mean + style_TAP_std * (TAP_mean - m) / s (AdaIN is affine in "
                                  "the style statistics)",
        }

    def alpha_doc(self):
        return "per level: stylized = a * AdaIN(content, style) + (1 - a) * content"


class AttentionExportSpec(FamilyExportSpec):
    transform_graph_cls = AttentionTransformGraph
    style_representation = "taps"

    def style_code_specs(self):
        return tuple(self._tap_spec(t, doc="encoder tap (the style code of attention families)")
                     for t in self.model.style_taps)

    def style_doc(self):
        return {
            "representation": "taps",
            "description": "the style image's encoder taps themselves (encoder outputs " + ", ".join(
                self.model.style_taps) + "); the style image may have any size >= min_size",
            "eps": self.model.config.eps,
            "blend": "not linear in the code: run the transform once per style and blend its "
                     "outputs (weights summing to 1) before the decoder",
        }

    def alpha_doc(self):
        return ("per level: stylized = a * T(content, style) + (1 - a) * T(content, content); the graph "
                "always computes both paths (the identity path costs one more attention pass)")
