"""The interface every model family implements: three parts addressed by name.

    encoder   (model.encode):   image [N,3,H,W] RGB 0..1          -> {tap: feature}
    transform (model.transfer): content taps + style code + alpha -> {decoder input: feature}
    decoder   (model.decode):   {decoder input: feature}          -> image [N,3,H,W] (not clamped)

The submodules are ``encoder``, ``transform`` and ``decoder``; state-dict keys start with those.

These are the three graphs that ``stylert.export`` writes; the names of taps, style-code
entries and decoder inputs are the graph's input/output names.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..core.stylize import alpha_values
from ..errors import ModelError
from .decoder import Decoder
from .vgg import TAPS, VGGEncoder


@dataclass(frozen=True)
class ModelConfig:
    """What a family's model is built from (saved in stylert checkpoints as a dict).

    encoder: ``vgg-normalised`` (the public pytorch-AdaIN / SANet checkpoints) or ``vgg-torchvision``
    (the paper's checkpoints); eps: the variance epsilon of the AdaIN statistics (pytorch-AdaIN: 1e-5).
    """

    encoder: str = "vgg-normalised"
    eps: float = 1e-5


class StyleModel(nn.Module):
    """Base class of the families. Subclasses set the class attributes and implement
    ``style_code`` and ``transfer``.

    family:        registry name
    content_taps:  encoder taps of the content image the transform reads
    style_taps:    encoder taps of the style image the style code is made of
    loss_taps:     taps of the style loss (training)
    alpha_levels:  the levels that take their own alpha (one alpha for all when a single level)
    size_multiple: height and width must be multiples of this (the runtime pads)
    codes_blend_linearly: interpolating style codes equals interpolating transform outputs
    """

    family: str = ""
    content_taps: tuple[str, ...] = ()
    style_taps: tuple[str, ...] = ()
    loss_taps: tuple[str, ...] = ()
    alpha_levels: tuple[str, ...] = ()
    size_multiple: int = 8

    @property
    def min_size(self) -> int:
        """The smallest height and width the model takes (pixels): at twice the size multiple the
        deepest features are 2 x 2, the least a reflection pad of 1 accepts. Smaller inputs are padded."""
        return 2 * self.size_multiple
    codes_blend_linearly: bool = False

    def __init__(self, config, encoder: VGGEncoder, transform: nn.Module, decoder: Decoder):
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.transform = transform
        self.decoder = decoder

    # -- the three parts -------------------------------------------------------------
    def encode(self, image: torch.Tensor, taps: tuple[str, ...] | None = None) -> dict[str, torch.Tensor]:
        """image [N,3,H,W] float32 RGB 0..1 -> {tap: [N,C,h,w]} (content taps by default)."""
        return self.encoder(image, taps if taps is not None else self.content_taps)

    def style_code(self, style_feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Encoder taps of a style image -> what the transform needs of it."""
        raise NotImplementedError

    def transfer(
        self,
        content: dict[str, torch.Tensor],
        code: dict[str, torch.Tensor],
        alpha: float | dict[str, float] = 1.0,
        region: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Content taps + style code + alpha -> decoder inputs.

        ``region`` ([N,1,H,W] in {0,1}, any resolution): compute content statistics over this
        region only (spatial control); families without content statistics ignore it.
        """
        raise NotImplementedError

    def decode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Decoder inputs -> image [N,3,H,W] float32 (RGB, nominally 0..1, not clamped)."""
        return self.decoder(inputs)

    # -- helpers shared by the families ----------------------------------------------
    @property
    def decoder_inputs(self) -> tuple[str, ...]:
        return self.decoder.inputs

    def encode_style(self, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """style image [N,3,H,W] -> style code."""
        return self.style_code(self.encoder(style, self.style_taps))

    def blend_codes(self, codes: list[dict[str, torch.Tensor]], weights: list[float]) -> dict[str, torch.Tensor]:
        """Weighted sum of style codes (weights sum to 1). Only where ``codes_blend_linearly``."""
        if not self.codes_blend_linearly:
            raise ModelError(f"{self.family}: style codes do not blend linearly; blend transform outputs")
        return {k: sum(w * c[k] for w, c in zip(weights, codes)) for k in codes[0]}

    def alphas(self, alpha: float | dict[str, float] | list[float] | tuple[float, ...]) -> dict[str, float]:
        """Normalise ``alpha`` to one value per level in ``alpha_levels``, each in [0, 1]."""
        if isinstance(alpha, dict):
            missing = [lvl for lvl in self.alpha_levels if lvl not in alpha]
            extra = [k for k in alpha if k not in self.alpha_levels]
            if missing or extra:
                raise ModelError(f"{self.family}: alpha needs levels {list(self.alpha_levels)}, got {list(alpha)}")
            alpha = [alpha[lvl] for lvl in self.alpha_levels]
        return dict(zip(self.alpha_levels, alpha_values(alpha, self.alpha_levels, self.family)))

    def config_dict(self) -> dict:
        return dataclasses.asdict(self.config)

    def describe(self) -> dict:
        """Family, encoder layout, parameter counts and names, for ``stylert inspect``."""
        def count(m: nn.Module) -> int:
            return sum(p.numel() for p in m.parameters())

        return {
            "family": self.family,
            "config": self.config_dict(),
            "encoder_layout": self.encoder.layout,
            "parameters": {
                "encoder": count(self.encoder),
                "transform": count(self.transform),
                "decoder": count(self.decoder),
                "total": count(self),
            },
            "content_taps": list(self.content_taps),
            "style_taps": list(self.style_taps),
            "loss_taps": list(self.loss_taps),
            "decoder_inputs": list(self.decoder_inputs),
            "alpha_levels": list(self.alpha_levels),
            "size_multiple": self.size_multiple,
        }


def resize_region(region: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A [N,1,H,W] region mask resized (nearest) to ``like``'s spatial size."""
    if region.shape[-2:] == like.shape[-2:]:
        return region
    return F.interpolate(region, size=like.shape[-2:], mode="nearest")


def loss_taps_upto(last: str) -> tuple[str, ...]:
    return TAPS[: TAPS.index(last) + 1]
