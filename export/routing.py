"""The manifest's routing: which value feeds each graph input, read once and run by ``chain``.

``routing[graph][input] = source``, with ``source`` one of

    {"runtime": "image"}                                    the (padded) content or style image
    {"runtime": "alpha"}                                    the alpha values [L], ordered as alpha.levels
    {"graph": "encoder", "image": "content", "output": T}  encoder output T on the content image
    {"graph": "encoder", "image": "style", "output": T}    encoder output T on the style image
    {"graph": "transform", "output": T}                     transform output T

and ``routing["result"] = {"graph": "decoder", "output": "image"}``. Every reader (the runtime
pipeline, ``stylert compare``, the benchmarks, the GPU measurement scripts, export validation)
takes the routing through ``Routing`` and runs it through ``chain``. No torch here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

#: run(graph, feeds) -> outputs: one graph on a dict name -> array, on any backend.
RunGraph = Callable[[str, dict], dict]


@dataclass(frozen=True)
class Routing:
    """The routing of one export, as typed views.

    ``style_inputs`` / ``content_inputs``: transform input -> encoder output on the style / content
    image (the style code is ``style_inputs``' values); ``alpha_inputs``: transform inputs taking the
    alpha values; ``decoder_inputs``: decoder input -> transform output; ``result``: the decoder
    output that is the image.
    """

    data: Mapping

    @property
    def style_inputs(self) -> dict[str, str]:
        return {n: s["output"] for n, s in self.data["transform"].items()
                if s.get("graph") == "encoder" and s.get("image") == "style"}

    @property
    def content_inputs(self) -> dict[str, str]:
        return {n: s["output"] for n, s in self.data["transform"].items()
                if s.get("graph") == "encoder" and s.get("image") == "content"}

    @property
    def alpha_inputs(self) -> list[str]:
        return [n for n, s in self.data["transform"].items() if s.get("runtime") == "alpha"]

    @property
    def decoder_inputs(self) -> dict[str, str]:
        return {n: s["output"] for n, s in self.data["decoder"].items()}

    @property
    def result(self) -> str:
        return self.data["result"]["output"]

    @property
    def code_outputs(self) -> list[str]:
        """The encoder outputs that make a style code (sorted, each once)."""
        return sorted(set(self.style_inputs.values()))

    @property
    def content_statistics(self) -> dict[str, tuple[str, str]]:
        """Content tap -> (mean output, std output) of the encoder, for each content tap whose
        statistics are style code entries (``TAP_mean``/``TAP_std``: the AdaIN families); empty otherwise.

        The encoder computes these on the content image too: they are the statistics the transform
        normalises that tap with, so a runtime can smooth them over video frames and fold the
        smoothed ones into the style code it feeds (``stylert.runtime.pipeline.fold_content_statistics``)."""
        code = set(self.code_outputs)
        return {tap: (f"{tap}_mean", f"{tap}_std") for tap in self.content_inputs.values()
                if f"{tap}_mean" in code and f"{tap}_std" in code}

    def transform_feeds(self, content_out: Mapping, code: Mapping, alpha) -> dict:
        """Transform inputs from the encoder's content outputs, a style code (encoder output name ->
        value) and the alpha values."""
        feeds = {n: content_out[o] for n, o in self.content_inputs.items()}
        feeds.update({n: code[o] for n, o in self.style_inputs.items()})
        feeds.update({n: alpha for n in self.alpha_inputs})
        return feeds

    def decoder_feeds(self, transform_out: Mapping) -> dict:
        return {n: transform_out[o] for n, o in self.decoder_inputs.items()}


def chain(run: RunGraph, routing: Mapping, content, style, alpha) -> object:
    """Content and style images through the three graphs as ``routing`` says.

    ``run(graph, feeds) -> outputs`` runs one graph (ONNX Runtime, the PyTorch reference, an
    engine); ``content``/``style`` are images [N,3,H,W] padded to the size multiple; ``alpha`` the
    values [L] ordered as ``alpha.levels``. Returns the decoder's ``image`` (not clamped). One style;
    blending several styles is the runtime's.
    """
    runtime = {"alpha": alpha}
    produced: dict[tuple, dict] = {}

    def value(src):
        if "runtime" in src:
            return runtime[src["runtime"]]
        return produced[(src["graph"], src.get("image"))][src["output"]]

    for image_kind, image in (("content", content), ("style", style)):
        produced[("encoder", image_kind)] = run("encoder", {n: image for n in routing["encoder"]})
    for graph in ("transform", "decoder"):
        produced[(graph, None)] = run(graph, {n: value(src) for n, src in routing[graph].items()})
    result = routing["result"]
    return produced[(result["graph"], None)][result["output"]]
