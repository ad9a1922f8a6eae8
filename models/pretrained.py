"""The models stylert can run without a checkpoint: the one loader of the public AdaIN pair.

``load_reference_model`` is what ``--model``/``--checkpoint`` mean on every command (stylize,
export, evaluate, benchmarks): the given checkpoint files of any known layout, or else the
public pytorch-AdaIN weights ``vgg_normalised.pth`` + ``decoder.pth`` found by
``stylert.core.weights.find_weight`` (``STYLERT_WEIGHTS``, then the cache of
``stylert weights fetch``).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.weights import PUBLIC_WEIGHTS, find_weight
from ..errors import ModelError
from .base import StyleModel
from .checkpoints import load_model
from .family import DEFAULT_FAMILY
from .registry import get_family

#: The public pytorch-AdaIN pair, in the order ``load_model`` takes it.
PUBLIC_ADAIN = ("vgg_normalised.pth", "decoder.pth")


def public_adain_files() -> tuple[Path, Path]:
    """Paths of the public encoder and decoder; ``WeightsError`` (with the fetch command) if absent."""
    return tuple(find_weight("adain", name) for name in PUBLIC_ADAIN)  # type: ignore[return-value]


def load_public_adain(files: tuple[str | os.PathLike, str | os.PathLike] | None = None) -> StyleModel:
    """The public AdaIN model (float32, CPU, eval mode), from ``files`` or the located pair."""
    return load_model(list(files or public_adain_files()), "adain")


def load_reference_model(family: str | None, checkpoints: tuple[str, ...] = ()) -> StyleModel:
    """The model named by ``--model``/``--checkpoint``: the checkpoint files if given, else the
    family's public weights (its descriptor's ``public_weights``: the AdaIN pair for ``adain``, which
    ``family`` None means), else the weights shipped with stylert (``stylert.core.shipped``, loaded by
    ``stylert.models.trained``). ModelError for a family with none of these."""
    if checkpoints:
        return load_model(checkpoints, family)
    descriptor = get_family(family or DEFAULT_FAMILY)
    if descriptor.public_weights is not None:
        names = PUBLIC_WEIGHTS[descriptor.public_weights].files
        return load_model([find_weight(descriptor.public_weights, name) for name in names], descriptor.name)
    if descriptor.shipped() is not None:
        from .trained import load_shipped

        return load_shipped(descriptor.name)
    raise ModelError(f"{family} has no public or shipped weights",
                     fix="pass --checkpoint FILE (train one with stylert train)")
