"""VGG19 encoders in the two layouts found in the wild, with taps addressed by name.

- ``vgg-normalised``: the network every public AdaIN/SANet checkpoint uses
  (``vgg_normalised.pth``). A fixed 1x1 conv (RGB->BGR, x255, mean subtraction) first,
  reflection padding, ceil-mode max-pooling. Sequential indices are those of the file:
  conv1_1 is ``net.2``, relu4_1 is ``net.30``.
- ``vgg-torchvision``: ``torchvision.models.vgg19().features`` (the paper's own code):
  ImageNet mean/std normalisation (a fixed, non-persistent buffer), zero padding,
  floor-mode max-pooling. Indices are torchvision's: relu4_1 is ``net.20``.

Input of both: ``image`` [N, 3, H, W] float32 RGB in 0..1. Output: a dict tap -> feature.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ModelError

ENCODER_LAYOUTS = ("vgg-normalised", "vgg-torchvision")
TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
TAP_CHANNELS = {"relu1_1": 64, "relu2_1": 128, "relu3_1": 256, "relu4_1": 512, "relu5_1": 512}
#: Downsampling factor of each tap relative to the image.
TAP_STRIDE = {"relu1_1": 1, "relu2_1": 2, "relu3_1": 4, "relu4_1": 8, "relu5_1": 16}

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# VGG19 convolutions up to conv5_4; "pool" marks a 2x2 max-pool.
_VGG19 = (
    ("conv1_1", 64), ("conv1_2", 64), "pool",
    ("conv2_1", 128), ("conv2_2", 128), "pool",
    ("conv3_1", 256), ("conv3_2", 256), ("conv3_3", 256), ("conv3_4", 256), "pool",
    ("conv4_1", 512), ("conv4_2", 512), ("conv4_3", 512), ("conv4_4", 512), "pool",
    ("conv5_1", 512), ("conv5_2", 512), ("conv5_3", 512), ("conv5_4", 512),
)


def vgg19_layers(layout: str, last_tap: str) -> tuple[list[nn.Module], dict[str, int]]:
    """The layers of ``layout`` up to and including ``last_tap``, and the index of every tap's ReLU."""
    if layout not in ENCODER_LAYOUTS:
        raise ModelError(f"unknown encoder layout {layout!r}", fix=f"use one of {', '.join(ENCODER_LAYOUTS)}")
    if last_tap not in TAPS:
        raise ModelError(f"unknown tap {last_tap!r}", fix=f"use one of {', '.join(TAPS)}")
    normalised = layout == "vgg-normalised"
    layers: list[nn.Module] = [nn.Conv2d(3, 3, (1, 1))] if normalised else []
    taps: dict[str, int] = {}
    in_ch = 3
    for item in _VGG19:
        if item == "pool":
            layers.append(nn.MaxPool2d((2, 2), (2, 2), (0, 0), ceil_mode=normalised))
            continue
        name, out_ch = item
        if normalised:
            layers += [nn.ReflectionPad2d((1, 1, 1, 1)), nn.Conv2d(in_ch, out_ch, (3, 3))]
        else:
            layers.append(nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_ch = out_ch
        relu = "relu" + name[4:]
        if relu in TAPS:
            taps[relu] = len(layers) - 1
            if relu == last_tap:
                break
    return layers, taps


class VGGEncoder(nn.Module):
    """VGG19 up to ``last_tap``; ``forward(image, taps)`` returns the requested taps by name.

    image: [N, 3, H, W] float32 RGB 0..1. Tap ``reluK_1``: [N, C, ceil(H / s), ceil(W / s)]
    (normalised layout) with C and s from ``TAP_CHANNELS`` / ``TAP_STRIDE``.
    """

    def __init__(self, layout: str = "vgg-normalised", last_tap: str = "relu4_1"):
        super().__init__()
        layers, self.tap_index = vgg19_layers(layout, last_tap)
        self.layout = layout
        self.last_tap = last_tap
        self.net = nn.Sequential(*layers)
        if layout == "vgg-torchvision":
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        for p in self.parameters():
            p.requires_grad_(False)

    @property
    def taps(self) -> tuple[str, ...]:
        return tuple(self.tap_index)

    def forward(self, image: torch.Tensor, taps: tuple[str, ...] | list[str] | None = None) -> dict[str, torch.Tensor]:
        wanted = tuple(taps) if taps is not None else self.taps
        unknown = [t for t in wanted if t not in self.tap_index]
        if unknown:
            raise ModelError(f"encoder stops at {self.last_tap}; taps {unknown} are not available")
        stop = max(self.tap_index[t] for t in wanted)
        x = image
        if self.layout == "vgg-torchvision":
            x = (x - self.mean) / self.std
        out: dict[str, torch.Tensor] = {}
        index_to_tap = {i: t for t, i in self.tap_index.items() if t in wanted}
        for i, layer in enumerate(self.net):
            x = layer(x)
            if i in index_to_tap:
                out[index_to_tap[i]] = x
            if i == stop:
                break
        return {t: out[t] for t in wanted}
