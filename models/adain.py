"""AdaIN (Huang & Belongie 2017) and the paper's multi-level AdaIN (relu2_1..relu4_1).

    AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y)

with mu/sigma per sample and channel over H*W, sigma = sqrt(var_unbiased + eps), exactly as
pytorch-AdaIN's ``calc_mean_std``. Because AdaIN is linear in (mu(y), sigma(y)), a style is
fully described by those statistics (its *style code*, a few KB), and interpolating K styles
equals interpolating their codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .base import ModelConfig, StyleModel, loss_taps_upto, resize_region
from .decoder import ADAIN_DECODER, ConvSpec, Decoder
from .vgg import VGGEncoder


def calc_mean_std(feat: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """[N,C,H,W] -> (mean, std), each [N,C,1,1]; std = sqrt(unbiased var + eps).

    Computed in float32 at least (a float16 model keeps its statistics exact: squared features
    overflow float16) and returned in ``feat``'s dtype; a no-op for float32 inputs.
    """
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1).to(torch.promote_types(feat.dtype, torch.float32))
    std = (flat.var(dim=2) + eps).sqrt().view(n, c, 1, 1)
    mean = flat.mean(dim=2).view(n, c, 1, 1)
    return mean.to(feat.dtype), std.to(feat.dtype)


def masked_mean_std(feat: torch.Tensor, region: torch.Tensor, eps: float = 1e-5) -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``calc_mean_std`` over the positions where ``region`` ([N,1,H,W] in {0,1}) is 1."""
    count = region.sum(dim=(2, 3), keepdim=True)
    mean = (feat * region).sum(dim=(2, 3), keepdim=True) / count.clamp_min(1.0)
    var = (((feat - mean) * region) ** 2).sum(dim=(2, 3), keepdim=True) / (count - 1.0).clamp_min(1.0)
    return mean, (var + eps).sqrt()


def adain(
    content: torch.Tensor,
    style_mean: torch.Tensor,
    style_std: torch.Tensor,
    eps: float = 1e-5,
    region: torch.Tensor | None = None,
    content_stats: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """content [N,C,H,W], style mean/std [N or 1,C,1,1] -> [N,C,H,W].

    ``content_stats``: (mean, std) [N,C,1,1] to normalise the content with instead of its own
    (video: the statistics smoothed over frames, ``stylert.core.temporal``)."""
    size = content.size()
    if content_stats is not None:
        c_mean, c_std = content_stats
    elif region is None:
        c_mean, c_std = calc_mean_std(content, eps)
    else:
        c_mean, c_std = masked_mean_std(content, resize_region(region, content), eps)
    normalized = (content - c_mean.expand(size)) / c_std.expand(size)
    return normalized * style_std.expand(size) + style_mean.expand(size)


class AdaINTransform(nn.Module):
    """AdaIN at each level of ``levels`` followed by the alpha blend with the content taps.

    content: {level: [N,C,h,w]}; code: {level_mean, level_std: [N or 1,C,1,1]};
    alpha: {level: float or 0-d tensor} -> {level: [N,C,h,w]}; content_stats: None or
    {level: (mean, std) [N,C,1,1]} replacing the content's own statistics.
    """

    def __init__(self, levels: tuple[str, ...], eps: float = 1e-5):
        super().__init__()
        self.levels = levels
        self.eps = eps

    def forward(self, content, code, alpha, region=None, content_stats=None):
        out = {}
        for level in self.levels:
            c = content[level]
            stats = None if content_stats is None else content_stats[level]
            t = adain(c, code[f"{level}_mean"], code[f"{level}_std"], self.eps, region, stats)
            a = alpha[level]
            out[level] = t * a + c * (1 - a)
        return out


class _AdaINFamily(StyleModel):
    codes_blend_linearly = True

    def style_code(self, style_feats):
        code = {}
        for level in self.style_taps:
            mean, std = calc_mean_std(style_feats[level], self.config.eps)
            code[f"{level}_mean"], code[f"{level}_std"] = mean, std
        return code

    def content_statistics(self, content) -> dict:
        """{level: (mean, std) [N,C,1,1]}: the statistics AdaIN normalises each content level with."""
        return {level: calc_mean_std(content[level], self.config.eps) for level in self.alpha_levels}

    def transfer(self, content, code, alpha=1.0, region=None, content_stats=None):
        return self.transform(content, code, self.alphas(alpha), region, content_stats)


class AdaINModel(_AdaINFamily):
    family = "adain"
    content_taps = style_taps = alpha_levels = ("relu4_1",)
    loss_taps = loss_taps_upto("relu4_1")
    size_multiple = 8


def _output_space(encoder_layout: str) -> str:
    # Decoders paired with the torchvision layout output ImageNet-normalised images.
    return "imagenet" if encoder_layout == "vgg-torchvision" else "rgb"


def build_adain(config: ModelConfig) -> AdaINModel:
    return AdaINModel(
        config,
        VGGEncoder(config.encoder, "relu4_1"),
        AdaINTransform(AdaINModel.content_taps, config.eps),
        Decoder(ADAIN_DECODER, output_space=_output_space(config.encoder)),
    )


#: The paper's multi-level decoder: AdaIN'd relu3_1 joins before rc2 (256+256), relu2_1
#: (resized, nearest, to rc5's 1/4 resolution) before rc5 (128+128).
MULTILEVEL_DECODER = (
    ConvSpec("rc1", 512, 256, upsample_after=True),
    ConvSpec("rc2", 256, 256, skip="relu3_1", skip_channels=256),
    ConvSpec("rc3", 256, 256),
    ConvSpec("rc4", 256, 128),
    ConvSpec("rc5", 128, 128, skip="relu2_1", skip_channels=128, upsample_after=True),
    ConvSpec("rc6", 128, 128),
    ConvSpec("rc7", 128, 64, upsample_after=True),
    ConvSpec("rc8", 64, 64),
    ConvSpec("rc9", 64, 3, relu=False),
)


def multilevel_decoder(rc4_channels: int = 128) -> tuple[ConvSpec, ...]:
    """The multi-level decoder with ``rc4_channels`` between rc4 and rc5: 128 is the paper's
    (``MULTILEVEL_DECODER``); 256 keeps the AdaIN decoder's widths on the main path (rc4 256 -> 256,
    rc5 256+128 -> 128), so that the public AdaIN decoder fits it conv for conv (``--from-pretrained``)."""
    if rc4_channels not in (128, 256):
        raise ValueError(f"rc4_channels must be 128 (the paper's) or 256 (AdaIN's), not {rc4_channels!r}")
    return tuple(
        ConvSpec(s.name, rc4_channels, s.out_channels, s.relu, s.skip, s.skip_channels, s.upsample_after)
        if s.name == "rc5" else
        ConvSpec(s.name, s.in_channels, rc4_channels, s.relu, s.skip, s.skip_channels, s.upsample_after)
        if s.name == "rc4" else s
        for s in MULTILEVEL_DECODER
    )


@dataclass(frozen=True)
class MultiLevelAdaINConfig(ModelConfig):
    """rc4_channels: output channels of rc4 (= main-path input channels of rc5): 128 in the paper's
    decoder, 256 in the AdaIN-width variant that ``stylert train --from-pretrained`` starts from the
    public AdaIN decoder (``multilevel_decoder``)."""

    rc4_channels: int = 128


class MultiLevelAdaINModel(_AdaINFamily):
    family = "adain-multilevel"
    content_taps = style_taps = alpha_levels = ("relu2_1", "relu3_1", "relu4_1")
    loss_taps = loss_taps_upto("relu4_1")
    size_multiple = 8


def build_adain_multilevel(config: MultiLevelAdaINConfig) -> MultiLevelAdaINModel:
    return MultiLevelAdaINModel(
        config,
        VGGEncoder(config.encoder, "relu4_1"),
        AdaINTransform(MultiLevelAdaINModel.content_taps, config.eps),
        Decoder(multilevel_decoder(config.rc4_channels), output_space=_output_space(config.encoder)),
    )
