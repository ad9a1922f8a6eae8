"""The training losses of the four families, as the paper and the reference implementations define them.

Notation: ``phi_i`` is the frozen encoder at tap ``i``; ``g`` the decoder; ``c``, ``s`` the content
and style images [N,3,H,W] RGB 0..1; MSE is ``F.mse_loss`` with mean reduction (``nn.MSELoss()``);
``mu``/``sigma`` are ``calc_mean_std`` (per sample and channel, sigma = sqrt(unbiased var + 1e-5)).

    style loss (all families)   L_s = sum_{i in model.loss_taps} MSE(mu(phi_i(out)), mu(phi_i(s)))
                                                                + MSE(sigma(phi_i(out)), sigma(phi_i(s)))
    adain                       t = AdaIN(phi_4(c), phi_4(s)) (alpha 1), out = g(t)
                                L_c = MSE(phi_relu4_1(out), t)                   (pytorch-AdaIN net.py)
                                L = w_c L_c + w_s L_s, w_s = 10 (lambda)
    adain-multilevel            t_i = AdaIN(phi_i(c), phi_i(s)) for i in relu2_1, relu3_1, relu4_1, out = g(t)
                                L_c = sum_i w_i MSE(phi_i(out), t_i)             (paper eq. 5, per-level w_i)
                                L = w_c L_c + w_s L_s, w_s = 10
    sanet, sanet-multilevel     out = g(T(c, s)), norm = mean_variance_norm      (GlebSBrykin/SANET train.py)
                                L_c = MSE(norm(phi_4(out)), norm(phi_4(c))) + MSE(norm(phi_5(out)), norm(phi_5(c)))
                                L_id1 = MSE(I_cc, c) + MSE(I_ss, s), I_cc = g(T(c, c)), I_ss = g(T(s, s))
                                L_id2 = sum_{i=relu1_1..relu5_1} MSE(phi_i(I_cc), phi_i(c)) + MSE(phi_i(I_ss), phi_i(s))
                                L = w_c L_c + w_s L_s + w_id1 L_id1 + w_id2 L_id2, weights 1, 3, 50, 1

Targets (``t``, the features of ``c`` and ``s``) are computed without gradient: the encoder is frozen
and the targets are constants, as the references assert (``target.requires_grad is False``).

Mixed precision: the encoder and decoder run under ``torch.autocast`` when ``amp`` is a dtype
(float16 on CUDA, bfloat16 on CPUs with bfloat16 instructions: ``stylert.training.precision``); every
feature is cast to float32 before the transform (AdaIN statistics, attention softmax) and before
the losses, so that means, variances and the softmax are always computed in float32.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.profiler import record_function

from ..errors import ModelError
from ..models.adain import calc_mean_std
from ..models.attention import mean_variance_norm
from ..models.base import StyleModel
from ..models.family import TrainingDefaults, descriptors, resolve


def trained_families() -> list[str]:
    """The families whose descriptor says how to train them, sorted."""
    return [name for name, d in descriptors().items() if d.training is not None]


def family_training(family: str) -> TrainingDefaults:
    """``family``'s training description (its descriptor's ``training``: loss function, components in
    the order they are logged, default weights); ModelError for a family without one."""
    descriptor = descriptors().get(family)
    if descriptor is None or descriptor.training is None:
        raise ModelError(f"no training losses for family {family!r}", fix=f"use one of {', '.join(trained_families())}")
    return descriptor.training


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss components. ``level_weights``: one per level of the multi-level content loss
    (relu2_1, relu3_1, relu4_1), used by ``adain-multilevel`` only."""

    content: float = 1.0
    style: float = 10.0
    identity_pixel: float = 50.0
    identity_feature: float = 1.0
    level_weights: tuple[float, ...] = (1.0, 1.0, 1.0)

    def as_dict(self) -> dict:
        return {"content": self.content, "style": self.style, "identity_pixel": self.identity_pixel,
                "identity_feature": self.identity_feature, "level_weights": list(self.level_weights)}


def default_loss_weights(family: str) -> LossWeights:
    """The references' defaults, the style weight from the family's descriptor: pytorch-AdaIN (style 10)
    for the AdaIN families, SANet (style 3, identity 50 and 1) for the attention families."""
    return LossWeights(style=family_training(family).style_weight)


@dataclass
class LossResult:
    """total: the weighted sum (0-d tensor with grad); parts: the unweighted components (0-d tensors);
    output: the stylized batch [N,3,H,W] (decoder output, not clamped)."""

    total: torch.Tensor
    parts: dict[str, torch.Tensor] = field(default_factory=dict)
    output: torch.Tensor | None = None


# --------------------------------------------------------------------------- primitives


def mse(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error over every element (``nn.MSELoss()``); shapes must match."""
    if input.shape != target.shape:
        raise ModelError(f"loss between tensors of different shapes {tuple(input.shape)} and {tuple(target.shape)}")
    return F.mse_loss(input, target)


def mean_std_loss(input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE(mu(input), mu(target)) + MSE(sigma(input), sigma(target)) (pytorch-AdaIN ``calc_style_loss``)."""
    in_mean, in_std = calc_mean_std(input)
    tg_mean, tg_std = calc_mean_std(target)
    return mse(in_mean, tg_mean) + mse(in_std, tg_std)


def style_loss(out_feats: dict[str, torch.Tensor], style_feats: dict[str, torch.Tensor], taps) -> torch.Tensor:
    """Sum over ``taps`` of ``mean_std_loss``."""
    return sum(mean_std_loss(out_feats[t], style_feats[t]) for t in taps)


class _Parts:
    """The model's three parts with the precision policy: encoder and decoder under autocast when
    ``amp``; the transform and everything returned in float32."""

    def __init__(self, model: StyleModel, amp: bool | torch.dtype):
        self.model = model
        self.device_type = next(model.parameters()).device.type
        # True (the historical meaning): float16, the CUDA choice; a dtype: that dtype.
        self.dtype = torch.float16 if amp is True else (amp or None)

    def _autocast(self, enabled: bool):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype, enabled=enabled)

    def encode(self, image: torch.Tensor, taps) -> dict[str, torch.Tensor]:
        with self._autocast(True):
            feats = self.model.encoder(image, tuple(taps))
        return {k: v.float() for k, v in feats.items()}

    def decode(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        with self._autocast(True):
            out = self.model.decode(inputs)
        return out.float()

    def transfer(self, content: dict[str, torch.Tensor],
                 style_feats: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        with self._autocast(False):
            code = self.model.style_code(style_feats)
            return self.model.transfer(content, code, 1.0)


def _taps(model: StyleModel) -> tuple[str, ...]:
    """Loss taps plus the content/style taps, in encoder order."""
    wanted = set(model.loss_taps) | set(model.content_taps) | set(model.style_taps)
    return tuple(t for t in model.encoder.taps if t in wanted)


# --------------------------------------------------------------------------- families


def adain_losses(model: StyleModel, content: torch.Tensor, style: torch.Tensor, weights: LossWeights,
                 amp: bool | torch.dtype = False) -> LossResult:
    """``adain`` and ``adain-multilevel``: content loss against the AdaIN outputs at every content tap
    (relu4_1 only for ``adain``; relu2_1..relu4_1 weighted by ``level_weights`` for the multi-level
    model), style loss on mean/std at ``model.loss_taps``."""
    parts = _Parts(model, amp)
    levels = model.content_taps
    if len(levels) > 1 and len(weights.level_weights) != len(levels):
        raise ModelError(f"{model.family}: {len(weights.level_weights)} level weights given, the content loss "
                         f"has {len(levels)} levels ({', '.join(levels)})")
    level_w = weights.level_weights if len(levels) > 1 else (1.0,)
    taps = _taps(model)
    with torch.no_grad():
        c_feats = parts.encode(content, model.content_taps)
        s_feats = parts.encode(style, taps)
        t = parts.transfer(c_feats, {k: s_feats[k] for k in model.style_taps})
    out = parts.decode(t)
    o_feats = parts.encode(out, taps)
    loss_c = sum(w * mse(o_feats[lvl], t[lvl]) for w, lvl in zip(level_w, levels))
    loss_s = style_loss(o_feats, s_feats, model.loss_taps)
    total = weights.content * loss_c + weights.style * loss_s
    return LossResult(total, {"content": loss_c, "style": loss_s}, out)


def attention_losses(model: StyleModel, content: torch.Tensor, style: torch.Tensor, weights: LossWeights,
                     amp: bool | torch.dtype = False, identity: bool = True) -> LossResult:
    """``sanet`` and ``sanet-multilevel``: normalised content loss at relu4_1 and relu5_1, style loss at
    relu1_1..relu5_1, and Park & Lee's identity losses (pixel and feature). ``identity`` False leaves the
    identity losses out of this batch (their decoder and encoder passes are two thirds of the work;
    ``TrainConfig.identity_every``): ``parts`` then lacks them."""
    parts = _Parts(model, amp)
    taps = _taps(model)
    with torch.no_grad(), record_function("targets"):
        c_feats = parts.encode(content, taps)
        s_feats = parts.encode(style, taps)
    ct = {k: c_feats[k] for k in model.content_taps}
    st = {k: s_feats[k] for k in model.style_taps}
    with record_function("stylize"):
        out = parts.decode(parts.transfer(ct, st))
    with record_function("output_features"):
        o_feats = parts.encode(out, taps)
        loss_c = sum(mse(mean_variance_norm(o_feats[k]), mean_variance_norm(c_feats[k]))
                     for k in ("relu4_1", "relu5_1"))
        loss_s = style_loss(o_feats, s_feats, model.loss_taps)
    total = weights.content * loss_c + weights.style * loss_s
    result = {"content": loss_c, "style": loss_s}
    if identity:
        with record_function("identity"):
            i_cc = parts.decode(parts.transfer(ct, {k: c_feats[k] for k in model.style_taps}))
            i_ss = parts.decode(parts.transfer({k: s_feats[k] for k in model.content_taps}, st))
            loss_id1 = mse(i_cc, content) + mse(i_ss, style)
            f_cc = parts.encode(i_cc, model.loss_taps)
            f_ss = parts.encode(i_ss, model.loss_taps)
            loss_id2 = sum(mse(f_cc[k], c_feats[k]) + mse(f_ss[k], s_feats[k]) for k in model.loss_taps)
        total = total + weights.identity_pixel * loss_id1 + weights.identity_feature * loss_id2
        result.update(identity_pixel=loss_id1, identity_feature=loss_id2)
    return LossResult(total, result, out)


def compute_losses(model: StyleModel, content: torch.Tensor, style: torch.Tensor, weights: LossWeights | None = None,
                   amp: bool | torch.dtype = False, identity: bool = True) -> LossResult:
    """The family's training loss of one batch. content, style: [N,3,H,W] float32 RGB 0..1, H and W
    multiples of ``model.size_multiple`` (so that every tap of the output has the target's size).
    ``identity``: attention families only, whether this batch computes the identity losses."""
    fn = resolve(family_training(model.family).losses)
    for name, x in (("content", content), ("style", style)):
        h, w = x.shape[-2:]
        if h % model.size_multiple or w % model.size_multiple:
            raise ModelError(f"{model.family}: {name} batch is {h}x{w}; training needs multiples of "
                             f"{model.size_multiple}",
                             fix=f"use a --crop-size that is a multiple of {model.size_multiple}")
    kwargs = {} if identity else {"identity": False}
    return fn(model, content, style, weights or default_loss_weights(model.family), amp, **kwargs)
