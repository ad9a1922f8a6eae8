"""Image quality metrics of a stylization: VGG content, style and Gram losses, SSIM and PSNR.

Images are numpy float32 [H, W, 3] RGB in 0..1 (``stylert.runtime.images.load_image``), each
at its own size: nothing is resized here. ``phi_l`` is the public normalised VGG19 of
pytorch-AdaIN (``vgg_normalised.pth``, input RGB 0..1, scaled x255 and BGR inside its first
1x1 conv) at tap ``l``: a feature [1, C, ceil(H/s), ceil(W/s)] float32 with
C = 64, 128, 256, 512, 512 and s = 1, 2, 4, 8, 16 for relu1_1 .. relu5_1. The losses are
in units of squared activations of that network (no further normalisation), so they compare
between models and settings on the same images, not with numbers from other encoders.

    content_loss[l]    mean over all elements of (phi_l(o) - phi_l(c))^2, l in relu2_1, relu3_1, relu4_1
    style_loss         sum over l in relu1_1..relu4_1 of mean_C((mu_l(o) - mu_l(s))^2) + mean_C((sigma_l(o) - sigma_l(s))^2)
                       mu, sigma per channel over H*W, sigma = sqrt(unbiased variance + 1e-5):
                       pytorch-AdaIN's ``calc_style_loss`` (net.py) summed as in its training loss
    style_loss_relu5_1 the same term at relu5_1 alone
    gram_loss          sum over l in relu1_1..relu5_1 of mean((G_l(o) - G_l(s))^2), G = F F^T / (C H W),
                       F = phi_l reshaped to [C, H*W] (Gatys et al. 2016, normalised by the element count)
    ssim               structural similarity of grey(o) to grey(c): scikit-image's
                       ``structural_similarity`` with its default 7x7 uniform window and data_range 1,
                       grey = ``skimage.color.rgb2gray`` (ITU-R 709 luma); 1 = identical, unitless
    psnr               10 log10(1 / MSE) in dB over RGB 0..1 against a reference output (another
                       backend or precision of the same model); inf when identical

``o`` is the stylized image, ``c`` the content, ``s`` the style. Content and stylized must have
the same size; the style may have any size (its statistics and Gram matrices are normalised).
The features and losses are computed in float32, as pytorch-AdaIN computes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.checks import psnr as core_psnr
from ..core.files import sha256_of
from ..errors import CheckpointError, ImageError, MissingDependencyError, StylertError
from ..models.adain import calc_mean_std
from ..models.vgg import TAPS, VGGEncoder

CONTENT_TAPS = ("relu2_1", "relu3_1", "relu4_1")
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
GRAM_TAPS = TAPS  # relu1_1 .. relu5_1
#: Keys of ``score``'s result, in the order reports show them.
METRIC_NAMES = ("content_loss", "style_loss", "style_loss_relu5_1", "gram_loss", "ssim", "psnr")
INSTALL_EVALUATE = "pip install 'stylert[evaluate]'"


def optional_import(module: str, package: str, purpose: str):
    """Import an optional package: MissingDependencyError naming the install command when it is absent,
    a one-line StylertError with the cause when it is installed but broken."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        if err.name == module.split(".")[0]:
            raise MissingDependencyError(package, INSTALL_EVALUATE, purpose) from None
        broken = err
    except ImportError as err:
        broken = err
    raise StylertError(f"{package} is installed but does not import ({type(broken).__name__}: {broken})",
                       fix=f"reinstall it: pip install --force-reinstall {package}") from broken


def _skimage_metrics():
    color = optional_import("skimage.color", "scikit-image", "SSIM")
    metrics = optional_import("skimage.metrics", "scikit-image", "SSIM")
    return color.rgb2gray, metrics.structural_similarity




# --------------------------------------------------------------------------- the VGG


class MetricEncoder:
    """The public normalised VGG19 up to relu5_1, loaded from ``vgg_normalised.pth``.

    ``features(image)``: image [H, W, 3] float32 RGB 0..1 (or a tensor [1, 3, H, W]) ->
    {tap: [1, C, h, w] float32} for relu1_1 .. relu5_1.
    """

    def __init__(self, vgg_path: str | os.PathLike | None = None, device: str = "cpu"):
        from ..core.weights import find_weight
        from ..models.checkpoints import identify

        path = Path(vgg_path) if vgg_path is not None else find_weight("adain", "vgg_normalised.pth")
        checkpoint = identify(path)
        if checkpoint.kind != "vgg-normalised":
            raise CheckpointError(f"is a {checkpoint.kind} file, not the normalised VGG (vgg_normalised.pth)",
                                  path=path, fix="pass pytorch-AdaIN's vgg_normalised.pth")
        encoder = VGGEncoder("vgg-normalised", "relu5_1")
        expected = encoder.state_dict()
        state = {}
        for key in expected:  # net.<i>.<param> <- <i>.<param>; the file goes on to conv5_4 (ignored)
            tensor = checkpoint.state_dict.get(key.removeprefix("net."))
            if tensor is None or tuple(tensor.shape) != tuple(expected[key].shape):
                found = "missing" if tensor is None else "x".join(map(str, tensor.shape))
                raise CheckpointError(
                    f"key {key.removeprefix('net.')} is {found}, expected "
                    f"{'x'.join(map(str, expected[key].shape))}: the metrics need the VGG up to relu5_1",
                    path=path, fix="pass the complete vgg_normalised.pth (stylert weights fetch)")
            state[key] = tensor
        encoder.load_state_dict(state, strict=True)
        self.device = torch.device(device)
        self.encoder = encoder.to(self.device).eval()
        self.path = path
        self._sha256: str | None = None

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            self._sha256 = sha256_of(self.path)
        return self._sha256

    @torch.inference_mode()
    def features(self, image, taps=GRAM_TAPS) -> dict[str, torch.Tensor]:
        """Images with a side under ``MIN_SIDE`` (whose relu5_1 map could not take VGG's reflection pad)
        are reflect-padded to it (``stylert.core.images.pad_to``, edge copies for a 1-pixel side), as the
        runtime pads a small style image before its encoder (``style_padded_size``): the maps are those
        of the padded image, so that every size stylize takes is scored, and statistics of a 1-pixel map
        (an undefined variance) never occur."""
        if isinstance(image, np.ndarray):
            _check_image(image, "image")
            image = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))[None]
        h, w = image.shape[-2:]
        if min(h, w) >= MIN_SIDE:
            return self.encoder(image.to(self.device, torch.float32), tuple(taps))
        from ..core.images import pad_to

        padded = np.stack([pad_to(x.permute(1, 2, 0).cpu().numpy(), (max(h, MIN_SIDE), max(w, MIN_SIDE)))[0]
                           for x in image])
        return self.encoder(torch.from_numpy(padded.transpose(0, 3, 1, 2).copy()).to(self.device, torch.float32),
                            tuple(taps))


#: The smallest side the VGG takes as it is (relu5_1, at stride 16, needs 2 pixels for its reflection
#: pad); smaller images are padded to it (``MetricEncoder.features``).
MIN_SIDE = 32


def _check_image(image: np.ndarray, name: str) -> None:
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"{name} must be an [H, W, 3] RGB array, got shape {image.shape}")


# --------------------------------------------------------------------------- VGG losses


def content_loss(out_feats: dict, content_feats: dict, taps=CONTENT_TAPS) -> dict[str, float]:
    """{tap: mean((phi(o) - phi(c))^2)} over all N*C*h*w elements; features [N, C, h, w] of the same shape."""
    losses = {}
    for tap in taps:
        o, c = out_feats[tap], content_feats[tap]
        if o.shape != c.shape:
            raise ImageError(f"{tap} features differ in shape ({tuple(o.shape)} vs {tuple(c.shape)}): "
                             "the stylized image and the content must have the same size")
        losses[tap] = float(torch.mean((o - c) ** 2))
    return losses


@dataclass
class StyleTargets:
    """What the style losses need of an image, per tap: mean and sigma [N, C, 1, 1], Gram [N, C, C]."""

    mean: dict[str, torch.Tensor]
    std: dict[str, torch.Tensor]
    gram: dict[str, torch.Tensor]

    @classmethod
    def of(cls, feats: dict) -> "StyleTargets":
        mean, std, gram = {}, {}, {}
        for tap in GRAM_TAPS:
            mean[tap], std[tap] = calc_mean_std(feats[tap])
            gram[tap] = gram_matrix(feats[tap])
        return cls(mean, std, gram)


def gram_matrix(feat: torch.Tensor) -> torch.Tensor:
    """[N, C, H, W] -> [N, C, C]: F F^T / (C H W) with F = feat reshaped to [N, C, H*W]."""
    n, c, h, w = feat.shape
    f = feat.reshape(n, c, h * w)
    return torch.bmm(f, f.transpose(1, 2)) / (c * h * w)


def style_loss(out: StyleTargets, style: StyleTargets, taps=STYLE_TAPS) -> float:
    """sum over taps of mean((mu_o - mu_s)^2) + mean((sigma_o - sigma_s)^2) (pytorch-AdaIN's calc_style_loss)."""
    total = 0.0
    for tap in taps:
        total += float(torch.mean((out.mean[tap] - style.mean[tap]) ** 2))
        total += float(torch.mean((out.std[tap] - style.std[tap]) ** 2))
    return total


def gram_loss(out: StyleTargets, style: StyleTargets, taps=GRAM_TAPS) -> float:
    """sum over taps of mean((G_o - G_s)^2), G = ``gram_matrix``."""
    return sum(float(torch.mean((out.gram[tap] - style.gram[tap]) ** 2)) for tap in taps)


# --------------------------------------------------------------------------- pixel metrics


def _same_size(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape[:2] != b.shape[:2]:
        raise ImageError(f"{what}: sizes differ ({a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]})")


def ssim(stylized: np.ndarray, content: np.ndarray) -> float:
    """Structural similarity of the grey stylized image to the grey content, both [H, W, 3] in 0..1.

    scikit-image's ``structural_similarity`` (7x7 uniform window, or the largest odd one a side under
    7 pixels holds; under 3 pixels the same formula on the whole image's statistics; K1 0.01, K2 0.03),
    data_range 1,
    on ``rgb2gray`` (0.2125 R + 0.7154 G + 0.0721 B) of images clipped to 0..1.
    """
    rgb2gray, structural_similarity = _skimage_metrics()
    _same_size(stylized, content, "ssim")
    a = rgb2gray(np.clip(stylized, 0.0, 1.0).astype(np.float64))
    b = rgb2gray(np.clip(content, 0.0, 1.0).astype(np.float64))
    side = min(a.shape)
    if side < 3:  # no window fits: the SSIM formula on the whole image's statistics (Wang et al. 2004, eq. 13)
        c1, c2 = 0.01 ** 2, 0.03 ** 2
        ma, mb = a.mean(), b.mean()
        va, vb, cov = a.var(), b.var(), ((a - ma) * (b - mb)).mean()
        return float((2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2)))
    window = min(7, side - (1 - side % 2))  # the largest odd window the image holds
    return float(structural_similarity(a, b, data_range=1.0, win_size=window))


def psnr(image: np.ndarray, reference: np.ndarray) -> float:
    """10 log10(1 / MSE) in dB over all RGB values (0..1) of two same-size images; inf when identical."""
    _same_size(image, reference, "psnr")
    return core_psnr(image, reference)  # the one PSNR (stylert.core.checks.psnr), peak 1


# --------------------------------------------------------------------------- everything at once


def score_features(out_feats: dict, stylized: np.ndarray, content_feats: dict, content: np.ndarray,
                   style: StyleTargets, reference: np.ndarray | None = None) -> dict:
    """The metrics of one stylization from precomputed content features and style targets."""
    _same_size(stylized, content, "the stylized image and the content")
    out = StyleTargets.of(out_feats)
    return {
        "content_loss": content_loss(out_feats, content_feats),
        "style_loss": style_loss(out, style),
        "style_loss_relu5_1": style_loss(out, style, ("relu5_1",)),
        "gram_loss": gram_loss(out, style),
        "ssim": ssim(stylized, content),
        "psnr": None if reference is None else psnr(stylized, reference),
    }


def score(encoder: MetricEncoder, content: np.ndarray, style: np.ndarray, stylized: np.ndarray,
          reference: np.ndarray | None = None) -> dict:
    """All metrics of one result: ``{"content_loss": {tap: x}, "style_loss": x, "style_loss_relu5_1": x,
    "gram_loss": x, "ssim": x, "psnr": x or None}``. Images [H, W, 3] float32 0..1; ``content``,
    ``stylized`` and ``reference`` of the same size."""
    for name, image in (("content", content), ("style", style), ("stylized", stylized)):
        _check_image(image, name)
    _same_size(stylized, content, "the stylized image and the content")
    if reference is not None:
        _same_size(reference, stylized, "the reference and the stylized image")
    return score_features(encoder.features(stylized), stylized, encoder.features(content, CONTENT_TAPS), content,
                          StyleTargets.of(encoder.features(style)), reference)


def json_number(value):
    """A metric value for strict JSON: floats as they are, inf (identical images' PSNR) as ``"inf"``."""
    if isinstance(value, dict):
        return {k: json_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_number(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return "inf" if value > 0 else ("-inf" if value < 0 else "nan")
    return value
