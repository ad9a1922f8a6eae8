"""The model a training run starts from: a fresh family with the public encoder (frozen), and optionally
the public AdaIN decoder (``--from-pretrained``, every family; see ``initial_model``).

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
from ..models.family import descriptors
from ..models.registry import create_model, get_family

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


def _skip_convs(model: StyleModel) -> dict[str, int]:
    """Decoder convs that concatenate a skip input -> their main-path input channels."""
    return {s.name: s.in_channels for s in model.decoder.specs if s.skip is not None}


def _identity_conv(conv: torch.nn.Conv2d) -> torch.Tensor:
    """A [C,C,kh,kw] weight that passes its input through: 1 at the centre tap of channel c -> c."""
    out_c, in_c, kh, kw = conv.weight.shape
    w = torch.zeros_like(conv.weight)
    w[torch.arange(out_c), torch.arange(in_c), kh // 2, kw // 2] = 1.0
    return w


def _decoder_from(dec: CheckpointFile, model: StyleModel, family: str) -> tuple[dict[str, torch.Tensor], list[str]]:
    """The public AdaIN decoder mapped onto ``model``'s decoder: (state entries, notes for the log).

    Convs with a skip input (adain-multilevel's rc2, rc5) take the public weight on their main-path
    input channels ([:, :C_main]) and zero on the skip channels, so that their output ignores the
    skip input and the model's output equals AdaIN's. Convs the file lacks (rc0) start fresh here.
    """
    skips = _skip_convs(model)
    expected = {}
    for k, v in model.state_dict().items():
        if not k.startswith("decoder."):
            continue
        conv = k.split(".")[1]
        shape = v.shape
        if conv in skips and k.endswith(".weight"):
            shape = torch.Size((shape[0], skips[conv], *shape[2:]))
        expected[k] = shape
    mapped, unexpected, mis_shaped, _ = match_keys(dec, model, expected)
    if unexpected or mis_shaped:
        raise CheckpointError(f"does not fit the decoder of {family!r}: "
                              + key_listing(unexpected=unexpected, mis_shaped=mis_shaped), path=dec.path,
                              fix=f"{family}'s decoder differs from AdaIN's: train it from scratch (without "
                                  "--from-pretrained)")
    state = model.state_dict()
    notes = [f"decoder: {len(mapped)} tensors from {dec.path}"]
    for conv, main in skips.items():
        key = f"decoder.{conv}.conv.weight"
        if key in mapped:
            w = torch.zeros_like(state[key])
            w[:, :main] = mapped[key]
            mapped[key] = w
            notes.append(f"{conv}: main-path input channels 0..{main - 1} from the file, skip input channels "
                         f"{main}..{w.shape[1] - 1} zero")
    fresh = sorted({k.split(".")[1] for k in expected if k not in mapped})
    if fresh:
        notes.append(f"{', '.join(fresh)} not in the file")
    return mapped, notes


def initial_model(family: str, *, encoder: str | os.PathLike | None = None, from_pretrained: bool = False,
                  decoder: str | os.PathLike | None = None, seed: int = 0,
                  log=print) -> StyleModel:
    """A fresh ``family`` model (PyTorch's default initialisation, seeded) with the encoder loaded from
    ``encoder`` (default: the public ``vgg_normalised.pth``) and frozen.

    ``from_pretrained``: warm-start from the public AdaIN ``decoder.pth`` (or ``decoder``), every family:

    - ``adain``, ``sanet``: the decoder whole;
    - ``adain-multilevel``: built with ``rc4_channels=256`` (AdaIN's widths on the main path); every conv
      from the file, with the skip-input channels of rc2 (relu3_1) and rc5 (relu2_1) zero: at step 0 its
      output equals AdaIN's with the same encoder and decoder;
    - ``sanet``, ``sanet-multilevel``: the decoder whole, and the attention modules and merge / fuse
      conv from ``attention_warm_start`` (step 0 stylizes: the attended relu4_1 style features reach
      the decoder, with the content residual scaled down).

    What a family changes for the warm start is its descriptor's ``training`` (``pretrained_config``,
    ``attention_modules``). Every warm-started part is reported through ``log``.
    """
    enc = encoder_file(encoder)
    layout = ENCODER_KINDS[enc.kind]
    torch.manual_seed(seed)
    training = get_family(family).training  # unknown family -> its own error
    pretrained_config = dict(training.pretrained_config) if training is not None and from_pretrained else {}
    config = {"encoder": layout, **pretrained_config}
    model = create_model(family, config)
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
        mapped, notes = _decoder_from(dec, model, family)
        state.update(mapped)
        if pretrained_config:
            notes.append(f"config {pretrained_config} (the public decoder's widths)")
        if family in attention_modules():
            model.load_state_dict(state, strict=True)
            notes += attention_warm_start(model)
            state = model.state_dict()
        for note in notes:
            log(note)
    model.load_state_dict(state, strict=True)
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    log(f"encoder: {enc.path} ({layout}, frozen)")
    return model


def attention_modules() -> dict[str, tuple[str, str, str]]:
    """Attention families -> (relu4_1 module, relu5_1 module, the conv that merges / fuses their outputs),
    from each family's descriptor (``training.attention_modules``)."""
    return {name: d.training.attention_modules for name, d in descriptors().items()
            if d.training is not None and d.training.attention_modules is not None}


#: The warm start's defaults, chosen on training pairs (benchmarks/results/warm_start_grid/amd-epyc-2c/warm_start_grid.md).
WARM_GAIN = 16.0
WARM_TEMPERATURE = 0.02


def attention_warm_start(model: StyleModel, gain: float = WARM_GAIN, temperature: float = WARM_TEMPERATURE,
                         means: dict[str, torch.Tensor] | None = None) -> list[str]:
    """Set ``model``'s attention modules (``sanet``, ``sanet-multilevel``) so that, with the public AdaIN
    decoder, the untrained model is a working attention stylizer. In place; returns notes for the log.

    With A_l = Fs_l softmax(norm(Fc_l)^T norm(Fs_l) * temperature)^T (the style's own relu_l features,
    attended; ``norm`` the attention's mean-variance normalisation):

        f = g = sqrt(temperature) I, h = I                        (both modules)
        out_conv4 = gain I, bias -mu4;  out_conv5 = 0, bias -mu5
        merge conv (sanet) / fuse conv rc0 (sanet-multilevel) = I / gain at the centre tap, bias 0

    so the decoder reads  A_4 + (Fc_4 - mu4 + up2(Fc_5 - mu5)) / gain : the attended relu4_1 style
    features, which the AdaIN decoder was trained to invert (it decodes relu4_1-like inputs with the
    style's statistics), plus the attention's residual content features, centred and scaled down.
    ``mu4``, ``mu5`` [512] are the per-channel means of the encoder's relu4_1 and relu5_1 on photographs
    (``stylert.training.content_means``; ``means`` overrides them). The residual ``+ F_c`` of the
    architecture (Park & Lee 2019, eq. 3) cannot be removed, only scaled by the merge conv, and its
    relu5_1 part lives in another channel space than relu4_1: hence out_conv5 = 0 and the large
    ``gain``. ``gain`` and ``temperature`` default to the values chosen on training pairs.
    Raises ModelError for a family without attention modules.
    """
    from ..errors import ModelError
    from .content_means import stored

    modules = attention_modules()
    names = modules.get(model.family)
    if names is None:
        raise ModelError(f"{model.family!r} has no attention modules to warm-start",
                         fix=f"use one of {', '.join(modules)}")
    if gain <= 0 or temperature <= 0:
        raise ModelError(f"warm start gain {gain} and temperature {temperature} must be > 0")
    mu = means if means is not None else stored()
    att4, att5, merge = (model.get_submodule(n) for n in names)
    scale = temperature ** 0.5
    with torch.no_grad():
        for att in (att4, att5):
            eye = torch.eye(att.f.weight.shape[0], dtype=att.f.weight.dtype)[:, :, None, None]
            for conv, w in ((att.f, scale), (att.g, scale), (att.h, 1.0)):
                conv.weight.copy_(eye * w)
                conv.bias.zero_()
        att4.out_conv.weight.copy_(torch.eye(512)[:, :, None, None] * gain)
        att4.out_conv.bias.copy_(-mu["relu4_1"])
        att5.out_conv.weight.zero_()
        att5.out_conv.bias.copy_(-mu["relu5_1"])
        merge.weight.copy_(_identity_conv(merge) / gain)
        merge.bias.zero_()
    return [f"{names[0]}, {names[1]}: f = g = sqrt({temperature:g}) I, h = I; out_conv {gain:g} I at relu4_1, "
            f"0 at relu5_1, biases minus the encoder's mean content features",
            f"{names[2]}: identity / {gain:g} at the centre tap"]


def trainable_parameters(model: StyleModel) -> list[torch.nn.Parameter]:
    """Everything but the encoder: the transform (attention families) and the decoder."""
    return [p for name, p in model.named_parameters() if not name.startswith("encoder.")]
