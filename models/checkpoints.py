"""Checkpoint layouts found in the wild, mapped key by key onto stylert's models.

A *layout* is how a project saved a model: one or more files, each of a *file kind*.

    layout                  family            files (kinds)
    pytorch-adain           adain             vgg_normalised.pth (vgg-normalised) + decoder.pth (sequential-decoder)
    sanet                   sanet             vgg_normalised.pth + decoder_iter_*.pth + transformer_iter_*.pth (sanet-transformer)
    paper-multilevel-adain  adain-multilevel  model.state_dict() (paper-model: vgg_encoder.slice1..4, decoder.rc1..rc9)
    paper-attention         sanet-multilevel  model.state_dict() (paper-model: + slice5, att1, att2, decoder.rc0)
    stylert                 any               stylert's own file: family, config, weights (+ training state)

Every file is read with ``torch.load(weights_only=True)``. Each file kind maps its keys onto a
part of the model (``encoder.``, ``transform.``, ``decoder.``); a key or shape that does not
fit is an error listing the missing, unexpected and mis-shaped keys in the file's own names,
never a silent ``strict=False``. Encoder files may hold layers past the deepest tap a family
uses (``vgg_normalised.pth`` goes to conv5_4): those are ignored, and said so by ``inspect``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import CheckpointError, ModelError
from .base import StyleModel
from .registry import create_model, get_family, make_config

STYLERT_FORMAT = "stylert-checkpoint"
STYLERT_FORMAT_VERSION = 1

IGNORED = "<ignored>"

# pytorch-AdaIN's nn.Sequential decoder: index of each conv -> our RC name.
_SEQ_DECODER = {1: "rc1", 5: "rc2", 8: "rc3", 11: "rc4", 14: "rc5", 18: "rc6", 21: "rc7", 25: "rc8", 28: "rc9"}
_SEQ_DECODER_INV = {v: k for k, v in _SEQ_DECODER.items()}
# The paper's VGGEncoder: slices of torchvision's vgg19().features, original indices kept.
_PAPER_SLICES = {1: range(0, 2), 2: range(2, 7), 3: range(7, 12), 4: range(12, 21), 5: range(21, 30)}


def _fmt_shape(t) -> str:
    return "x".join(str(d) for d in t) if len(t) else "scalar"


# --------------------------------------------------------------------------------------
# File kinds: key mapping in both directions
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FileKind:
    name: str
    description: str
    prefixes: tuple[str, ...]  # model keys this file provides

    def to_model(self, key: str, model: StyleModel) -> str | None:
        """File key -> model key; ``None`` if the key has no place; ``IGNORED`` if deliberately unused."""
        raise NotImplementedError

    def from_model(self, key: str) -> str:
        """Model key -> the key this file kind stores it under."""
        raise NotImplementedError


def _encoder_index(key: str, model: StyleModel, index: int, param: str) -> str:
    return f"encoder.net.{index}.{param}" if index < len(model.encoder.net) else IGNORED


class _VGGNormalised(FileKind):
    def to_model(self, key, model):
        m = re.fullmatch(r"(\d+)\.(weight|bias)", key)
        return _encoder_index(key, model, int(m.group(1)), m.group(2)) if m else None

    def from_model(self, key):
        return key.removeprefix("encoder.net.")


class _TorchvisionVGG19(FileKind):
    def to_model(self, key, model):
        if key.startswith("classifier."):
            return IGNORED
        m = re.fullmatch(r"features\.(\d+)\.(weight|bias)", key)
        return _encoder_index(key, model, int(m.group(1)), m.group(2)) if m else None

    def from_model(self, key):
        return "features." + key.removeprefix("encoder.net.")


class _SequentialDecoder(FileKind):
    def to_model(self, key, model):
        m = re.fullmatch(r"(\d+)\.(weight|bias)", key)
        if not m or int(m.group(1)) not in _SEQ_DECODER:
            return None
        return f"decoder.{_SEQ_DECODER[int(m.group(1))]}.conv.{m.group(2)}"

    def from_model(self, key):
        m = re.fullmatch(r"decoder\.(rc\d)\.conv\.(weight|bias)", key)
        if not m or m.group(1) not in _SEQ_DECODER_INV:
            return key
        return f"{_SEQ_DECODER_INV[m.group(1)]}.{m.group(2)}"


class _Prefixed(FileKind):
    """Keys are the model's own under ``prefix`` (``sanet4_1.f.weight`` -> ``transform.sanet4_1.f.weight``)."""

    def to_model(self, key, model):
        return self.prefixes[0] + key

    def from_model(self, key):
        return key.removeprefix(self.prefixes[0])


class _PaperModel(FileKind):
    def to_model(self, key, model):
        m = re.fullmatch(r"vgg_encoder\.slice(\d)\.(\d+)\.(weight|bias)", key)
        if m:
            n, index = int(m.group(1)), int(m.group(2))
            if n not in _PAPER_SLICES or index not in _PAPER_SLICES[n]:
                return None
            return _encoder_index(key, model, index, m.group(3))
        if key.startswith("decoder."):
            return key
        if key.startswith(("att1.", "att2.")):
            return "transform." + key
        return None

    def from_model(self, key):
        m = re.fullmatch(r"encoder\.net\.(\d+)\.(weight|bias)", key)
        if m:
            index = int(m.group(1))
            n = next(n for n, r in _PAPER_SLICES.items() if index in r)
            return f"vgg_encoder.slice{n}.{index}.{m.group(2)}"
        return key.removeprefix("transform.")


class _Stylert(FileKind):
    def to_model(self, key, model):
        return key

    def from_model(self, key):
        return key


FILE_KINDS: dict[str, FileKind] = {
    k.name: k
    for k in (
        _VGGNormalised("vgg-normalised", "pytorch-AdaIN's vgg_normalised.pth (nn.Sequential keys 0..51)", ("encoder.",)),
        _TorchvisionVGG19("torchvision-vgg19", "torchvision vgg19 state dict (features.N.*)", ("encoder.",)),
        _SequentialDecoder("sequential-decoder", "pytorch-AdaIN / SANet decoder (nn.Sequential keys 1..28)", ("decoder.",)),
        _Prefixed("sanet-transformer", "SANet transformer_iter_*.pth (sanet4_1, sanet5_1, merge_conv)", ("transform.",)),
        _PaperModel("paper-model", "the paper's model.state_dict() (vgg_encoder.sliceN, decoder.rcN, att1/att2)",
                    ("encoder.", "transform.", "decoder.")),
        _Stylert("stylert", "stylert's own checkpoint", ("encoder.", "transform.", "decoder.")),
    )
}


@dataclass(frozen=True)
class Layout:
    name: str
    family: str
    encoder_layout: str
    files: dict[str, str]  # conventional file name -> file kind
    description: str


LAYOUTS: dict[str, Layout] = {
    lay.name: lay
    for lay in (
        Layout("pytorch-adain", "adain", "vgg-normalised",
               {"vgg_normalised.pth": "vgg-normalised", "decoder.pth": "sequential-decoder"},
               "naoto0804/pytorch-AdaIN: vgg_normalised.pth + decoder.pth"),
        Layout("sanet", "sanet", "vgg-normalised",
               {"vgg_normalised.pth": "vgg-normalised", "decoder_iter_500000.pth": "sequential-decoder",
                "transformer_iter_500000.pth": "sanet-transformer"},
               "GlebSBrykin/SANET: vgg_normalised.pth + decoder_iter_*.pth + transformer_iter_*.pth"),
        Layout("paper-multilevel-adain", "adain-multilevel", "vgg-torchvision", {"model.pth": "paper-model"},
               "the paper's multi-level AdaIN model.state_dict()"),
        Layout("paper-attention", "sanet-multilevel", "vgg-torchvision", {"model.pth": "paper-model"},
               "the paper's attention model.state_dict()"),
    )
}


# --------------------------------------------------------------------------------------
# Reading files
# --------------------------------------------------------------------------------------
@dataclass
class CheckpointFile:
    path: Path
    kind: str
    state_dict: dict[str, torch.Tensor]
    meta: dict = field(default_factory=dict)  # stylert files: family, config, training state


def read_state(path: str | os.PathLike) -> dict:
    """``torch.load(path, weights_only=True)`` with errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", path=path, fix="check the path")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises pickle, zip and runtime errors alike: convert, keep the cause
        reason = type(err).__name__
        detail = re.search(r"Unsupported operand \d+|invalid load key[^.]*|PytorchStreamReader failed[^.]*", str(err))
        if detail:
            reason += f": {detail.group(0)}"
        if "Unsupported global" in str(err) or "This file can still be loaded" in str(err):
            raise CheckpointError(
                "holds pickled Python objects, not only tensors; stylert loads state dicts with weights_only=True",
                path=path, fix="save model.state_dict() instead of the model object",
            ) from err
        raise CheckpointError(f"not a readable PyTorch checkpoint ({reason})", path=path,
                              fix="check that the file is complete and is a .pth/.pt state dict") from err


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def identify(path: str | os.PathLike, obj: dict | None = None) -> CheckpointFile:
    """Read ``path`` and tell which file kind it is."""
    path = Path(path)
    obj = read_state(path) if obj is None else obj
    if isinstance(obj, dict) and obj.get("format") == STYLERT_FORMAT:
        version = obj.get("version")
        if not isinstance(version, int) or version > STYLERT_FORMAT_VERSION:
            raise CheckpointError(f"stylert checkpoint format version {version!r} is newer than this stylert "
                                  f"reads ({STYLERT_FORMAT_VERSION})", path=path, fix="upgrade stylert")
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        return CheckpointFile(path, "stylert", obj["state_dict"], meta)
    if isinstance(obj, dict) and not _is_state_dict(obj):
        for wrapper in ("state_dict", "model"):  # common wrappers around a state dict
            if _is_state_dict(obj.get(wrapper)):
                obj = obj[wrapper]
                break
    if not _is_state_dict(obj):
        raise CheckpointError("is not a state dict (a dict of tensors) nor a stylert checkpoint", path=path,
                              fix="pass the files listed by `stylert inspect --layouts`")
    keys = list(obj)
    if any(k.startswith("vgg_encoder.") for k in keys):
        kind = "paper-model"
    elif any(k.startswith(("sanet4_1.", "sanet5_1.", "merge_conv.")) for k in keys):
        kind = "sanet-transformer"
    elif any(k.startswith("features.") for k in keys):
        kind = "torchvision-vgg19"
    elif all(re.fullmatch(r"\d+\.(weight|bias)", k) for k in keys):
        first = obj.get("0.weight")
        kind = "vgg-normalised" if first is not None and tuple(first.shape) == (3, 3, 1, 1) else "sequential-decoder"
    else:
        raise CheckpointError(
            f"unrecognised key layout (first keys: {', '.join(keys[:4])})", path=path,
            fix="known layouts: " + "; ".join(lay.description for lay in LAYOUTS.values()) + "; stylert's own",
        )
    return CheckpointFile(path, kind, obj)


def _family_of(files: list[CheckpointFile]) -> str:
    kinds = {f.kind for f in files}
    for f in files:
        if f.kind == "stylert":
            return f.meta["family"]
        if f.kind == "paper-model":
            attention = any(k.startswith(("att1.", "att2.", "decoder.rc0.")) for k in f.state_dict)
            return "sanet-multilevel" if attention else "adain-multilevel"
    return "sanet" if "sanet-transformer" in kinds else "adain"


def _layout_name(family: str, files: list[CheckpointFile]) -> str:
    if any(f.kind == "stylert" for f in files):
        return "stylert"
    return next(lay.name for lay in LAYOUTS.values() if lay.family == family)


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------
def match_keys(f: CheckpointFile, model: StyleModel, expected: dict[str, torch.Size]):
    """Map every key of ``f`` onto the model keys in ``expected`` (by its file kind).
    Returns (mapped, unexpected file keys, mis-shaped descriptions, model keys of the mis-shaped)."""
    kind = FILE_KINDS[f.kind]
    mapped: dict[str, torch.Tensor] = {}
    unexpected, mis_shaped, mis_shaped_targets = [], [], set()
    for key, tensor in f.state_dict.items():
        target = kind.to_model(key, model)
        if target == IGNORED:
            continue
        if target is None or target not in expected:
            unexpected.append(key)
        elif tuple(tensor.shape) != tuple(expected[target]):
            mis_shaped.append(f"{key} (file {_fmt_shape(tensor.shape)}, expected {_fmt_shape(expected[target])})")
            mis_shaped_targets.add(target)
        else:
            mapped[target] = tensor
    return mapped, unexpected, mis_shaped, mis_shaped_targets


def key_listing(**groups: list[str]) -> str:
    """``missing keys: a, b, ...; unexpected keys: ...`` (at most 8 shown per group, empty groups left out)."""
    parts = []
    for name, items in groups.items():
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items)} in all)" if len(items) > 8 else "")
            parts.append(f"{name.replace('_', ' ')} keys: {shown}")
    return "; ".join(parts)


def _map_file(f: CheckpointFile, model: StyleModel, layout: str, expected: dict[str, torch.Size]):
    """Map ``f`` onto the model keys under its prefixes; raise listing every mismatch."""
    kind = FILE_KINDS[f.kind]
    mapped, unexpected, mis_shaped, mis_shaped_targets = match_keys(f, model, expected)
    missing = [
        kind.from_model(k)
        for k in expected
        if k.startswith(kind.prefixes) and k not in mapped and k not in mis_shaped_targets
    ]
    if missing or unexpected or mis_shaped:
        raise CheckpointError(
            f"does not fit layout {layout!r} as a {f.kind} file ({kind.description}) of family "
            f"{model.family!r}: " + key_listing(missing=missing, unexpected=unexpected, mis_shaped=mis_shaped),
            path=f.path, fix="pass the checkpoint files of that layout, or the right --model family",
        )
    return mapped


def load_model(paths, family: str | None = None, *, public_encoder=None) -> StyleModel:
    """Build a model from checkpoint files of any known layout.

    paths: one or more files (the order does not matter; each file's kind is recognised by
    its keys). family: the expected family (None: inferred from the files).
    public_encoder: path of ``vgg_normalised.pth`` used when the files hold no encoder
    (pytorch-AdaIN / SANet decoders); None looks it up (``stylert.core.weights``).
    """
    files = [identify(p) for p in paths]
    if not files:
        raise ModelError("no checkpoint files given")
    inferred = _family_of(files)
    if family is not None and family != inferred:
        get_family(family)  # unknown family -> its own error
        # A SANet decoder alone looks like an AdaIN one: accept it, the missing parts are reported below.
        sequential_parts = {"vgg-normalised", "torchvision-vgg19", "sequential-decoder"}
        if not (family == "sanet" and {f.kind for f in files} <= sequential_parts):
            raise CheckpointError(f"holds a model of family {inferred!r}, not {family!r}", path=files[0].path,
                                  fix=f"use --model {inferred}, or the checkpoint of a {family} model")
        inferred = family
    family = inferred
    layout = _layout_name(family, files)
    stylert_file = next((f for f in files if f.kind == "stylert"), None)
    if stylert_file is not None:
        if len(files) > 1:
            raise CheckpointError("a stylert checkpoint holds the whole model; pass it alone", path=stylert_file.path)
        config = make_config(family, stylert_file.meta.get("config"))
    else:
        kinds = {f.kind for f in files}
        encoder_layout = "vgg-torchvision" if kinds & {"paper-model", "torchvision-vgg19"} else "vgg-normalised"
        config = make_config(family, {"encoder": encoder_layout})
    model = create_model(family, config)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    seen: dict[str, Path] = {}
    state: dict[str, torch.Tensor] = {}
    if stylert_file is None and not {f.kind for f in files} & {"vgg-normalised", "torchvision-vgg19", "paper-model"}:
        # pytorch-AdaIN / SANet decoders go with the public encoder: check the given files first.
        for f in files:
            _map_file(f, model, layout, expected)
        from ..core.weights import find_weight

        files.append(identify(find_weight("adain", "vgg_normalised.pth", public_encoder)))
    for f in files:
        for key, tensor in _map_file(f, model, layout, expected).items():
            if key in seen:
                raise CheckpointError(f"provides {key} a second time (also in {seen[key]})", path=f.path,
                                      fix="pass each part of the model once")
            seen[key] = f.path
            state[key] = tensor
    missing = [k for k in expected if k not in state]
    if missing:
        parts = sorted({k.split(".")[0] for k in missing})
        hint = {"encoder": "vgg_normalised.pth", "decoder": "the decoder file", "transform": "the transformer file"}
        raise CheckpointError(
            f"the {layout!r} layout of {family!r} needs its {', '.join(parts)} weights, which no given file holds",
            path=files[0].path, fix="also pass " + ", ".join(hint[p] for p in parts),
        )
    model.load_state_dict(state, strict=True)
    model.eval()
    model.checkpoint_info = {"layout": layout, "files": {str(f.path): f.kind for f in files}}
    return model


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def save_checkpoint(model: StyleModel, path: str | os.PathLike, **extra) -> Path:
    """Write stylert's own checkpoint atomically: family, config, weights and ``extra``
    (training state: optimizer, step, RNG...)."""
    path = Path(path)
    payload = {
        "format": STYLERT_FORMAT,
        "version": STYLERT_FORMAT_VERSION,
        "family": model.family,
        "config": model.config_dict(),
        "state_dict": model.state_dict(),
        **extra,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def layout_state_dicts(model: StyleModel, layout: str) -> dict[str, dict[str, torch.Tensor]]:
    """The model's weights as the files of a layout in the wild: {file name: state dict}."""
    if layout not in LAYOUTS:
        raise ModelError(f"unknown layout {layout!r}", fix=f"use one of {', '.join(LAYOUTS)}")
    lay = LAYOUTS[layout]
    if lay.family != model.family:
        raise ModelError(f"layout {layout!r} holds {lay.family!r} models, not {model.family!r}")
    state = model.state_dict()
    out = {}
    for filename, kind_name in lay.files.items():
        kind = FILE_KINDS[kind_name]
        out[filename] = {kind.from_model(k): v.clone() for k, v in state.items() if k.startswith(kind.prefixes)}
    return out
