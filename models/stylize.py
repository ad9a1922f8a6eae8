"""Reference stylization in PyTorch: the ground truth every exported backend is compared with.

Images are numpy arrays [H, W, 3] float32 RGB 0..1 (``stylert.core.images``). The steps
follow pytorch-AdaIN's ``test.py`` (and the original Torch AdaIN for masks), so that with the
public weights and the same pre-sized inputs the output is the reference's, pixel for pixel:

    content -> reflect-pad to the family's size multiple -> encode -> transfer (style code,
    alpha per level, interpolation weights, region masks) -> decode -> crop back

Colour preservation (``preserve_color``): ``"match"`` matches the style image's colour
statistics to the content's before encoding (the reference's ``coral``); ``"luminance"``
stylizes the luminance only and keeps the content's chrominance (Gatys et al. 2017).
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.budget import Footprint
from ..core.images import crop_to, pad_to, pad_to_multiple, style_padded_size
from ..core.providers import choose_device
from ..core.stylize import StylizeOptions, Stylizer
from .base import StyleModel, resize_region


def resolve_device(device: str = "auto", notice=None) -> torch.device:
    """``auto`` -> cuda when torch sees a GPU, else cpu (said through ``notice``); an explicit
    ``cuda`` without one is a ModelError (``stylert.core.providers.choose_device``)."""
    return torch.device(choose_device(device, torch.cuda.is_available, "torch (the PyTorch reference)", notice))


def _to_tensor(image: np.ndarray, device) -> torch.Tensor:
    """[H, W, 3] float32 -> [1, 3, H, W] contiguous, as torchvision's ToTensor lays it out."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def _to_image(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].detach().float().cpu().numpy().transpose(1, 2, 0)


class ReferenceStylizer(Stylizer):
    """Stylizes numpy images with a ``StyleModel``; style codes of style images are cached."""

    def __init__(self, model: StyleModel, device: str | torch.device = "cpu", notice=None):
        super().__init__()
        self.device = resolve_device(device, notice) if isinstance(device, str) else device
        self.model = model.to(self.device).eval()
        self.family = model.family
        self.alpha_levels = tuple(model.alpha_levels)
        self.footprint = Footprint.of(model.size_multiple, model.min_size, model.content_taps,
                                      attention=not model.codes_blend_linearly)
        self.smooths_statistics = bool(model.codes_blend_linearly)  # AdaIN families: content statistics

    def _pad(self, image: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
        return pad_to_multiple(image, self.model.size_multiple, self.model.min_size)

    @torch.inference_mode()
    def encode(self, style: np.ndarray) -> dict[str, torch.Tensor]:
        """Style image [H, W, 3] -> the model's style code."""
        model = self.model
        style = pad_to(style, style_padded_size(*style.shape[:2], model.size_multiple, model.min_size))[0]
        return self.model.encode_style(_to_tensor(style, self.device))

    @torch.inference_mode()
    def apply(self, content: np.ndarray, codes, options: StylizeOptions, temporal=None,
              decoder_hook=None) -> np.ndarray:
        """content [H, W, 3] + style codes -> stylized [H, W, 3] float32 (not clamped)."""
        padded, hw = self._pad(content)
        out = self._run(_to_tensor(padded, self.device), codes, options, hw, temporal, decoder_hook)
        return crop_to(_to_image(out), hw)

    def _run(self, content: torch.Tensor, codes, options: StylizeOptions, hw, temporal=None,
             decoder_hook=None) -> torch.Tensor:
        """``options`` as ``check_options`` returns them: alpha per level, normalised weights.
        ``temporal`` (AdaIN families): the video's ``StatisticsEMA``; AdaIN then normalises the
        content with the smoothed statistics in place of the frame's own. ``decoder_hook``: as the
        runtime's (``Pipeline.stylize``): the decoder's inputs as numpy float32, rewritten before decoding."""
        t = self._transfer(content, codes, options, temporal)
        if decoder_hook is not None:
            host = decoder_hook({k: v.detach().float().cpu().numpy() for k, v in t.items()}, tuple(content.shape[-2:]))
            t = {k: torch.from_numpy(np.ascontiguousarray(v)).to(content.device, t[k].dtype) for k, v in host.items()}
        return self.model.decode(t)

    def _transfer(self, content: torch.Tensor, codes, options: StylizeOptions, temporal=None) -> dict:
        """The decoder's inputs of ``_run``."""
        model = self.model
        alpha = model.alphas(tuple(options.alpha))
        feats = model.encode(content)
        if temporal is not None:
            own = model.content_statistics(feats)
            smoothed = temporal.update({lv: (m.float().cpu().numpy(), s.float().cpu().numpy())
                                        for lv, (m, s) in own.items()})
            stats = {lv: (torch.from_numpy(m).to(content.device, feats[lv].dtype),
                          torch.from_numpy(s).to(content.device, feats[lv].dtype)) for lv, (m, s) in smoothed.items()}
            codes = [model.blend_codes(codes, list(options.weights))] if len(codes) > 1 else codes
            return model.transfer(feats, codes[0], alpha, content_stats=stats)
        if options.mask is not None:
            fg = pad_to_multiple(options.mask[..., None], model.size_multiple, model.min_size)[0][..., 0]
            fg = torch.from_numpy(np.ascontiguousarray(fg))[None, None].to(content.device)
            regions = [fg, 1.0 - fg]
            parts = [model.transfer(feats, code, alpha, region=r) for code, r in zip(codes, regions)]
            t = {k: sum(resize_region(r, p[k]) * p[k] for r, p in zip(regions, parts)) for k in parts[0]}
        elif len(codes) == 1:
            t = model.transfer(feats, codes[0], alpha)
        elif model.codes_blend_linearly:
            t = model.transfer(feats, model.blend_codes(codes, list(options.weights)), alpha)
        else:
            parts = [model.transfer(feats, code, alpha) for code in codes]
            t = {k: sum(w * p[k] for w, p in zip(options.weights, parts)) for k in parts[0]}
        return t
