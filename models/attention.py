"""Style attention (SANet, Park & Lee 2019) and the paper's multi-level attention model.

    O = out_conv( h(F_s) softmax( f(norm(F_c))^T g(norm(F_s)) )^T ) + F_c

``norm`` is channel-wise mean-variance normalisation (same eps as AdaIN). The style code
of these families is the style's encoder taps themselves (relu4_1 and relu5_1).

- ``sanet``: attention at relu4_1 and relu5_1, ``merge_conv(pad(O4 + up2(O5)))`` in the
  transform, the plain AdaIN decoder after it (GlebSBrykin/SANET's ``Transform``).
- ``sanet-multilevel``: the paper's model: attention ``att1`` (relu4_1) and ``att2``
  (relu5_1) are separate decoder inputs; the decoder's ``rc0`` fuses ``O4 + up2(O5)``.

Alpha blends with the transform of the content with itself (SANet's ``Fccc``), which is
what the identity losses train to reconstruct the content.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .adain import calc_mean_std
from .base import ModelConfig, StyleModel, loss_taps_upto
from .decoder import ADAIN_DECODER, Decoder
from .vgg import VGGEncoder


def mean_variance_norm(feat: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    mean, std = calc_mean_std(feat, eps)
    return (feat - mean.expand(feat.size())) / std.expand(feat.size())


class StyleAttention(nn.Module):
    """content [N,C,h,w], style [N or 1,C,hs,ws] -> [N,C,h,w]. Parameters f, g, h, out_conv (1x1)."""

    def __init__(self, channels: int = 512, eps: float = 1e-5):
        super().__init__()
        self.f = nn.Conv2d(channels, channels, (1, 1))
        self.g = nn.Conv2d(channels, channels, (1, 1))
        self.h = nn.Conv2d(channels, channels, (1, 1))
        self.out_conv = nn.Conv2d(channels, channels, (1, 1))
        self.eps = eps

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        if style.shape[0] != content.shape[0]:
            style = style.expand(content.shape[0], -1, -1, -1)
        f = self.f(mean_variance_norm(content, self.eps))
        g = self.g(mean_variance_norm(style, self.eps))
        h = self.h(style)
        b, c, hc, wc = f.shape
        f = f.view(b, c, hc * wc).permute(0, 2, 1)  # [N, hw_c, C]
        g = g.reshape(b, c, -1)  # [N, C, hw_s]
        # Logits and softmax in float32 at least (no-op for float32 models; float16 ones would overflow).
        wide = torch.promote_types(f.dtype, torch.float32)
        attn = torch.softmax(torch.bmm(f.to(wide), g.to(wide)), dim=-1)  # [N, hw_c, hw_s]
        # Weights under float32's smallest normal number (1.2e-38) are flushed to zero. A peaked
        # softmax leaves millions of subnormals, and x86 CPUs take a microcode assist on each
        # one: the next matmul ran about 100x slower (SANet at 512x512 in ONNX Runtime: 15.1 s
        # before, 2.1 s after, benchmarks/results/*/suite.md then and now).
        # Their share of the output is below 1e-30: no output changes at float32 precision.
        attn = attn.masked_fill(attn < torch.finfo(wide).tiny, 0.0).to(f.dtype)
        o = torch.bmm(h.reshape(b, c, -1), attn.permute(0, 2, 1)).view(b, c, hc, wc)
        return self.out_conv(o) + content


class SANetTransform(nn.Module):
    """{relu4_1, relu5_1} of content and style -> merged [N,512,h4,w4]."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.sanet4_1 = StyleAttention(512, eps)
        self.sanet5_1 = StyleAttention(512, eps)
        self.merge_conv_pad = nn.ReflectionPad2d((1, 1, 1, 1))
        self.merge_conv = nn.Conv2d(512, 512, (3, 3))

    def forward(self, content, style):
        o4 = self.sanet4_1(content["relu4_1"], style["relu4_1"])
        o5 = self.sanet5_1(content["relu5_1"], style["relu5_1"])
        return self.merge_conv(self.merge_conv_pad(o4 + F.interpolate(o5, scale_factor=2.0, mode="nearest")))


class AttentionPairTransform(nn.Module):
    """The paper's attention transform: ``att1`` at relu4_1, ``att2`` at relu5_1, kept apart."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.att1 = StyleAttention(512, eps)
        self.att2 = StyleAttention(512, eps)

    def forward(self, content, style):
        return {
            "relu4_1": self.att1(content["relu4_1"], style["relu4_1"]),
            "relu5_1": self.att2(content["relu5_1"], style["relu5_1"]),
        }


class _AttentionFamily(StyleModel):
    content_taps = style_taps = ("relu4_1", "relu5_1")
    loss_taps = loss_taps_upto("relu5_1")
    size_multiple = 16
    codes_blend_linearly = False

    def style_code(self, style_feats):
        return {tap: style_feats[tap] for tap in self.style_taps}

    def _outputs(self, content, style) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def transfer(self, content, code, alpha=1.0, region=None):
        # ``region`` is accepted for the common interface: attention has no content statistics.
        alphas = self.alphas(alpha)
        out = self._outputs(content, code)
        if any(a < 1.0 for a in alphas.values()):
            identity = self._outputs(content, {tap: content[tap] for tap in self.style_taps})
            out = {k: out[k] * alphas[k] + identity[k] * (1 - alphas[k]) for k in out}
        return out


class SANetModel(_AttentionFamily):
    family = "sanet"
    alpha_levels = ("relu4_1",)

    def _outputs(self, content, style):
        return {"relu4_1": self.transform(content, style)}


def build_sanet(config: ModelConfig) -> SANetModel:
    return SANetModel(
        config,
        VGGEncoder(config.encoder, "relu5_1"),
        SANetTransform(config.eps),
        Decoder(ADAIN_DECODER, output_space="imagenet" if config.encoder == "vgg-torchvision" else "rgb"),
    )


@dataclass(frozen=True)
class MultiLevelSANetConfig(ModelConfig):
    """fuse_relu: whether the decoder's fuse conv rc0 is followed by a ReLU (RC's default)."""

    fuse_relu: bool = True


class MultiLevelSANetModel(_AttentionFamily):
    family = "sanet-multilevel"
    alpha_levels = ("relu4_1", "relu5_1")

    def _outputs(self, content, style):
        return self.transform(content, style)


def build_sanet_multilevel(config: MultiLevelSANetConfig) -> MultiLevelSANetModel:
    return MultiLevelSANetModel(
        config,
        VGGEncoder(config.encoder, "relu5_1"),
        AttentionPairTransform(config.eps),
        Decoder(
            ADAIN_DECODER,
            fuse="relu5_1",
            fuse_relu=config.fuse_relu,
            output_space="imagenet" if config.encoder == "vgg-torchvision" else "rgb",
        ),
    )
