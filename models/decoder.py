"""The decoder shared by every family: VGG mirrored, as reflection-padded 3x3 convs ``rc0..rc9``.

The plain AdaIN decoder (pytorch-AdaIN's ``decoder.pth``) is ``rc1..rc9`` with nearest x2
upsampling after rc1, rc5 and rc7. Families add to it:

- skip inputs: before a conv, another decoder input is resized (nearest) to the current
  size and concatenated along channels (multi-level AdaIN: relu3_1 before rc2, relu2_1
  before rc5, which runs at 1/4 resolution, so relu2_1 is downsampled: the paper's code
  does exactly that);
- a fuse conv ``rc0`` (512 -> 512) on ``relu4_1 + up2(relu5_1)`` (the paper's attention model).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .vgg import IMAGENET_MEAN, IMAGENET_STD


class RC(nn.Module):
    """ReflectionPad2d(1) + 3x3 conv (+ ReLU). Parameters live under ``conv``."""

    def __init__(self, in_channels: int, out_channels: int, relu: bool = True):
        super().__init__()
        self.pad = nn.ReflectionPad2d((1, 1, 1, 1))
        self.conv = nn.Conv2d(in_channels, out_channels, (3, 3))
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(self.pad(x))
        return F.relu(x) if self.relu else x


@dataclass(frozen=True)
class ConvSpec:
    name: str
    in_channels: int  # channels of the main path (skip channels are added on top)
    out_channels: int
    relu: bool = True
    skip: str | None = None  # decoder input concatenated before this conv
    skip_channels: int = 0
    upsample_after: bool = False


#: pytorch-AdaIN's decoder, conv by conv.
ADAIN_DECODER = (
    ConvSpec("rc1", 512, 256, upsample_after=True),
    ConvSpec("rc2", 256, 256),
    ConvSpec("rc3", 256, 256),
    ConvSpec("rc4", 256, 256),
    ConvSpec("rc5", 256, 128, upsample_after=True),
    ConvSpec("rc6", 128, 128),
    ConvSpec("rc7", 128, 64, upsample_after=True),
    ConvSpec("rc8", 64, 64),
    ConvSpec("rc9", 64, 3, relu=False),
)


class Decoder(nn.Module):
    """Decoder inputs (a dict, names in ``inputs``) -> image [N, 3, 8h, 8w] float32, not clamped.

    ``main``: the input that enters the first conv (``relu4_1`` for every family).
    ``fuse``: if set, ``rc0`` first convolves ``main + up2(inputs[fuse])``.
    ``output_space``: ``"rgb"`` (0..1) or ``"imagenet"`` (the decoder was trained to output
    ImageNet-normalised images, as the paper's torchvision-layout code does; the module then
    denormalises so that its output is RGB 0..1 in every family).
    """

    def __init__(
        self,
        convs: tuple[ConvSpec, ...] = ADAIN_DECODER,
        main: str = "relu4_1",
        fuse: str | None = None,
        fuse_relu: bool = True,
        output_space: str = "rgb",
    ):
        super().__init__()
        self.specs = convs
        self.main = main
        self.fuse = fuse
        self.output_space = output_space
        if fuse is not None:
            self.rc0 = RC(512, 512, relu=fuse_relu)
        for spec in convs:
            self.add_module(spec.name, RC(spec.in_channels + spec.skip_channels, spec.out_channels, spec.relu))
        if output_space == "imagenet":
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        elif output_space != "rgb":
            raise ValueError(f"output_space must be 'rgb' or 'imagenet', not {output_space!r}")

    @property
    def inputs(self) -> tuple[str, ...]:
        names = [self.main]
        if self.fuse:
            names.append(self.fuse)
        names += [s.skip for s in self.specs if s.skip]
        return tuple(names)

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        h = inputs[self.main]
        if self.fuse is not None:
            h = self.rc0(h + F.interpolate(inputs[self.fuse], scale_factor=2.0, mode="nearest"))
        for spec in self.specs:
            if spec.skip is not None:
                skip = F.interpolate(inputs[spec.skip], size=h.shape[-2:], mode="nearest")
                h = torch.cat([h, skip], dim=1)
            h = getattr(self, spec.name)(h)
            if spec.upsample_after:
                h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        if self.output_space == "imagenet":
            h = h * self.std + self.mean
        return h
