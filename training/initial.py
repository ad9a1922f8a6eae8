"""The model a training run starts from: a fresh family with the public encoder (frozen), and optionally
the public AdaIN decoder (``--from-pretrained``).

Files are read with ``stylert.models.checkpoints.identify`` and mapped key by key with the same file
kinds the loaders use; anything that does not fit is a CheckpointError listing the keys.
"""

from __future__ import annotations

import os

import torch

from ..core.weights import find_weight
from ..errors import CheckpointError
from ..models.base import StyleModel
from ..models.checkpoints import CheckpointFile, identify, key_listing, match_keys
from ..models.registry import create_model

#: Encoder file kinds -> the encoder layout they hold.
ENCODER_KINDS = {"vgg-normalised": "vgg-normalised", "torchvision-vgg19": "vgg-torchvision"}


def _map(f: CheckpointFile, model: StyleModel, prefix: str, fix: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Map ``f`` onto the model keys under ``prefix`` (the loaders' ``match_keys``); returns (mapped,
    model keys under prefix not provided). Unexpected or mis-shaped keys raise."""
    expected = {k: v.shape for k, v in model.state_dict().items() if k.startswith(prefix)}
    mapped, unexpected, mis_shaped, _ = match_keys(f, model, expected)
    if unexpected or mis_shaped:
        raise CheckpointError(f"does not fit the {prefix.rstrip('.')} of {model.family!r}: "
                              + key_listing(unexpected=unexpected, mis_shaped=mis_shaped), path=f.path, fix=fix)
    return mapped, [k for k in expected if k not in mapped]


def encoder_file(encoder: str | os.PathLike | None = None) -> CheckpointFile:
    """The encoder weights: ``encoder`` if given, else the public ``vgg_normalised.pth`` (STYLERT_WEIGHTS,
    the cache). Must be a VGG encoder file (normalised VGG or torchvision's vgg19)."""
    f = identify(find_weight("adain", "vgg_normalised.pth", encoder))
    if f.kind not in ENCODER_KINDS:
        raise CheckpointError(f"is a {f.kind} file, not a VGG encoder", path=f.path,
                              fix="--encoder takes vgg_normalised.pth or a torchvision vgg19 state dict")
    return f


def initial_model(family: str, *, encoder: str | os.PathLike | None = None, from_pretrained: bool = False,
                  decoder: str | os.PathLike | None = None, seed: int = 0,
                  log=print) -> StyleModel:
    """A fresh ``family`` model (PyTorch's default initialisation, seeded) with the encoder loaded from
    ``encoder`` (default: the public ``vgg_normalised.pth``) and frozen.

    ``from_pretrained``: also start the decoder from the public AdaIN ``decoder.pth`` (or ``decoder``).
    It fits ``adain`` and ``sanet`` whole, ``sanet-multilevel`` except its fuse conv ``rc0`` (which
    starts fresh); ``adain-multilevel``'s decoder has skip inputs of other shapes, which is an error.
    """
    enc = encoder_file(encoder)
    layout = ENCODER_KINDS[enc.kind]
    torch.manual_seed(seed)
    model = create_model(family, {"encoder": layout})
    state = model.state_dict()
    mapped, missing = _map(enc, model, "encoder.",
                           "--encoder takes vgg_normalised.pth or a torchvision vgg19 state dict")
    if missing:
        raise CheckpointError(f"lacks encoder layers {', '.join(missing[:6])} that {family!r} needs", path=enc.path)
    state.update(mapped)
    if from_pretrained:
        if layout != "vgg-normalised":
            raise CheckpointError("the public AdaIN decoder was trained with the normalised VGG encoder",
                                  path=enc.path, fix="drop --from-pretrained or use vgg_normalised.pth as --encoder")
        dec = identify(find_weight("adain", "decoder.pth", decoder))
        if dec.kind != "sequential-decoder":
            raise CheckpointError(f"is a {dec.kind} file, not pytorch-AdaIN's decoder.pth", path=dec.path)
        mapped, fresh = _map(dec, model, "decoder.", f"{family}'s decoder differs from AdaIN's: train it from scratch "
                             "(without --from-pretrained)")
        state.update(mapped)
        convs = sorted({k.split(".")[1] for k in fresh})
        log(f"decoder: {len(mapped)} tensors from {dec.path}" + (f"; {', '.join(convs)} start fresh" if convs else ""))
    model.load_state_dict(state, strict=True)
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    log(f"encoder: {enc.path} ({layout}, frozen)")
    return model


def trainable_parameters(model: StyleModel) -> list[torch.nn.Parameter]:
    """Everything but the encoder: the transform (attention families) and the decoder."""
    return [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
