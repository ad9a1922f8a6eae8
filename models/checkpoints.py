"""Checkpoint layouts found in the wild, mapped key by key onto stylert's models.

A *layout* is how a project saved a model: one or more files, each of a *file kind*.

    layout                  family            files (kinds)
    pytorch-adain           adain             vgg_normalised.pth (vgg-normalised) + decoder.pth (sequential-decoder)
    sanet                   sanet             vgg_normalised.pth + decoder_iter_*.pth + transformer_iter_*.pth (sanet-transformer)
    paper-multilevel-adain  adain-multilevel  model.state_dict() (paper-model: vgg_encoder.slice1..4, decoder.rc1..rc9)
    paper-attention         sanet-multilevel  model.state_dict() (paper-model: + slice5, att1, att2, decoder.rc0)
    stylert                 any               stylert's own file: family, config, weights (+ training state)

Both are registered data: a ``FileKind`` says how to recognise a file (``detect``) and how its keys
map onto the model (``to_model``/``from_model``); a ``Layout`` (``stylert.models.family``) names its
family, its files, whether it goes with the public encoder, and how to tell it from the others
(``kind``/``markers``). Adding a layout is one entry in its family's descriptor
(``models/families/``; ``LAYOUTS`` reads them all), and a ``FileKind`` here if its files are new.
Files saved by other code are unwrapped first (``{"state_dict": ...}``, ``{"model": ...}``,
``{"net": ...}``) and a prefix every key shares (``module.`` of ``nn.DataParallel``, ``_orig_mod.``
of ``torch.compile``, ``model.``, ``net.``, ``features.``) is taken off when the keys are not recognised with it.

Every file is read with ``torch.load(weights_only=True)``. Each file kind maps its keys onto a
part of the model (``encoder.``, ``transform.``, ``decoder.``); a key or shape that does not
fit is an error listing the missing, unexpected and mis-shaped keys in the file's own names,
never a silent ``strict=False``. Encoder files may hold layers past the deepest tap a family
uses (``vgg_normalised.pth`` goes to conv5_4): those are ignored, and said so by ``inspect``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.files import atomic_write
from ..errors import CheckpointError, ModelError
from .base import StyleModel
from .family import Layout, all_layouts
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
_INDEXED = re.compile(r"\d+\.(weight|bias)")


def _shape_of(state: dict, key: str) -> tuple[int, ...] | None:
    t = state.get(key)
    return tuple(t.shape) if isinstance(t, torch.Tensor) else None


@dataclass(frozen=True)
class FileKind:
    name: str
    description: str
    prefixes: tuple[str, ...]  # model keys this file provides

    def detect(self, state: dict[str, torch.Tensor]) -> bool:
        """Whether a state dict is a file of this kind (its keys, and a first shape where keys are ambiguous)."""
        raise NotImplementedError

    def to_model(self, key: str, model: StyleModel) -> str | None:
        """File key -> model key; ``None`` if the key has no place; ``IGNORED`` if deliberately unused."""
        raise NotImplementedError

    def from_model(self, key: str) -> str:
        """Model key -> the key this file kind stores it under."""
        raise NotImplementedError


def _encoder_index(key: str, model: StyleModel, index: int, param: str) -> str:
    return f"encoder.net.{index}.{param}" if index < len(model.encoder.net) else IGNORED


class _VGGNormalised(FileKind):
    def detect(self, state):  # nn.Sequential keys; the first conv is the 1x1 RGB normalisation
        return all(_INDEXED.fullmatch(k) for k in state) and _shape_of(state, "0.weight") == (3, 3, 1, 1)

    def to_model(self, key, model):
        m = re.fullmatch(r"(\d+)\.(weight|bias)", key)
        return _encoder_index(key, model, int(m.group(1)), m.group(2)) if m else None

    def from_model(self, key):
        return key.removeprefix("encoder.net.")


class _TorchvisionVGG19(FileKind):
    def detect(self, state):  # features.N.* (and classifier.*), the first conv 3 -> 64
        return _shape_of(state, "features.0.weight") == (64, 3, 3, 3) and all(
            re.fullmatch(r"features\.\d+\.(weight|bias)", k) or k.startswith("classifier.") for k in state)

    def to_model(self, key, model):
        if key.startswith("classifier."):
            return IGNORED
        m = re.fullmatch(r"features\.(\d+)\.(weight|bias)", key)
        return _encoder_index(key, model, int(m.group(1)), m.group(2)) if m else None

    def from_model(self, key):
        return "features." + key.removeprefix("encoder.net.")


class _SequentialDecoder(FileKind):
    def detect(self, state):  # nn.Sequential keys whose first conv is not the encoder's 1x1 (keys checked later)
        return all(_INDEXED.fullmatch(k) for k in state) and _shape_of(state, "0.weight") != (3, 3, 1, 1)

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
    """Keys are the model's own under ``prefix`` (``sanet4_1.f.weight`` -> ``transform.sanet4_1.f.weight``);
    recognised by the key prefixes in ``markers``."""

    def __init__(self, name, description, prefixes, markers: tuple[str, ...]):
        super().__init__(name, description, prefixes)
        object.__setattr__(self, "markers", markers)

    def detect(self, state):
        return any(k.startswith(self.markers) for k in state)

    def to_model(self, key, model):
        return self.prefixes[0] + key

    def from_model(self, key):
        return key.removeprefix(self.prefixes[0])


class _PaperModel(FileKind):
    def detect(self, state):
        return any(k.startswith("vgg_encoder.") for k in state)

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
    def detect(self, state):  # recognised by its "format" field, never by keys
        return False

    def to_model(self, key, model):
        return key

    def from_model(self, key):
        return key


#: Every file kind, in the order ``identify`` tries them.
FILE_KINDS: dict[str, FileKind] = {
    k.name: k
    for k in (
        _PaperModel("paper-model", "the paper's model.state_dict() (vgg_encoder.sliceN, decoder.rcN, att1/att2)",
                    ("encoder.", "transform.", "decoder.")),
        _Prefixed("sanet-transformer", "SANet transformer_iter_*.pth (sanet4_1, sanet5_1, merge_conv)", ("transform.",),
                  markers=("sanet4_1.", "sanet5_1.", "merge_conv.")),
        _TorchvisionVGG19("torchvision-vgg19", "torchvision vgg19 state dict (features.N.*)", ("encoder.",)),
        _VGGNormalised("vgg-normalised", "pytorch-AdaIN's vgg_normalised.pth (nn.Sequential keys 0..51)", ("encoder.",)),
        _SequentialDecoder("sequential-decoder", "pytorch-AdaIN / SANet decoder (nn.Sequential keys 1..28)", ("decoder.",)),
        _Stylert("stylert", "stylert's own checkpoint", ("encoder.", "transform.", "decoder.")),
    )
}
#: File kinds that hold an encoder.
ENCODER_KINDS = {name for name, k in FILE_KINDS.items() if k.prefixes == ("encoder.",)}
#: Dictionaries other code wraps a state dict in, and key prefixes it adds, tried in this order.
WRAPPERS = ("state_dict", "model", "net", "network", "params")
WRAPPER_PREFIXES = ("module.", "_orig_mod.", "model.", "net.", "features.")


class _Layouts(Mapping):
    """name -> ``Layout`` of every registered family, read from the family registry on each use
    (``stylert.models.family.all_layouts``: most specific first, the order ``layout_of`` tries)."""

    def __getitem__(self, name: str) -> Layout:
        return all_layouts()[name]

    def __iter__(self):
        return iter(all_layouts())

    def __len__(self) -> int:
        return len(all_layouts())


#: Every layout in the wild: each family's descriptor (``models/families/``) lists its own.
LAYOUTS: Mapping[str, Layout] = _Layouts()


def layouts_of(family: str) -> list[str]:
    """The layouts in the wild that hold ``family`` (stylert's own holds every family)."""
    return [name for name, lay in LAYOUTS.items() if lay.family == family]


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
    """``torch.load(path, weights_only=True)`` with errors that name the file; a ``.safetensors``
    file (for example the float16 copies of ``benchmarks/gpu_tree.py weights``) is read with
    safetensors (no pickle), its tensors in their stored dtype."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("no such checkpoint file", path=path, fix="check the path")
    if path.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(path))
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"not a readable safetensors file ({err})", path=path,
                                  fix="check that the file is complete") from None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
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
    if isinstance(payload, dict) and payload.get("format") == STYLERT_FORMAT and CHECKSUM_KEY in payload:
        found = payload_checksum(payload)
        if found != payload[CHECKSUM_KEY]:
            raise CheckpointError(
                "its contents do not match the SHA-256 recorded when it was saved (damaged on disk or edited): "
                "loading it would continue from corrupt weights or optimizer state", path=path,
                fix="resume from an earlier checkpoints/step_*.pt (copy it over checkpoints/last.pt), or start again")
    return payload


#: The key of stylert checkpoints that holds ``payload_checksum`` of the rest, verified by ``read_state``.
CHECKSUM_KEY = "sha256"


def payload_checksum(payload: dict) -> str:
    """SHA-256 over everything in a checkpoint but its ``CHECKSUM_KEY``: every tensor's name, dtype, shape
    and bytes, and every other value's repr, in a fixed order (dict keys sorted). A checkpoint's zip
    records CRC-32s that ``torch.load`` does not check; this catches any change to what it loads."""
    import hashlib

    digest = hashlib.sha256()

    def walk(value, where: str) -> None:
        if isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            digest.update(f"{where}:{t.dtype}:{tuple(t.shape)}:".encode())
            if t.numel():
                digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=repr):
                if not (where == "" and key == CHECKSUM_KEY):
                    walk(value[key], f"{where}/{key!r}")
        elif isinstance(value, (list, tuple)):
            digest.update(f"{where}:{type(value).__name__}:{len(value)}".encode())
            for i, item in enumerate(value):
                walk(item, f"{where}[{i}]")
        else:
            digest.update(f"{where}={value!r};".encode())

    walk(payload, "")
    return digest.hexdigest()


def _is_state_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _detect(state: dict) -> str | None:
    return next((name for name, kind in FILE_KINDS.items() if kind.detect(state)), None)


def _common_prefix(keys) -> str | None:
    return next((p for p in WRAPPER_PREFIXES if all(k.startswith(p) for k in keys)), None)


def _dotted_prefix(keys) -> str:
    """The dotted prefix every key shares (``"decoder."`` of ``decoder.1.weight``, ``decoder.5.bias``), or ""."""
    parts = [k.split(".")[:-1] for k in keys]
    shared = []
    for segments in zip(*parts):
        if len(set(segments)) != 1 or segments[0].isdigit():
            break
        shared.append(segments[0])
    return "".join(s + "." for s in shared)


def identify(path: str | os.PathLike, obj: dict | None = None) -> CheckpointFile:
    """Read ``path`` and tell which file kind it is (``FILE_KINDS``), unwrapping a state dict saved
    inside a dictionary (``WRAPPERS``) and taking off prefixes every key shares (``WRAPPER_PREFIXES``)
    until the keys are recognised. CheckpointError names the file, what was found and the layouts."""
    path = Path(path)
    obj = read_state(path) if obj is None else obj
    if isinstance(obj, dict) and obj.get("format") == STYLERT_FORMAT:
        version = obj.get("version")
        if not isinstance(version, int) or version > STYLERT_FORMAT_VERSION:
            raise CheckpointError(f"stylert checkpoint format version {version!r} is newer than this stylert "
                                  f"reads ({STYLERT_FORMAT_VERSION})", path=path, fix="upgrade stylert")
        meta = {k: v for k, v in obj.items() if k != "state_dict"}
        return CheckpointFile(path, "stylert", obj["state_dict"], meta)
    wrapper = None
    if isinstance(obj, dict) and not _is_state_dict(obj):
        wrapper = next((w for w in WRAPPERS if _is_state_dict(obj.get(w))), None)
        if wrapper is not None:
            obj = obj[wrapper]
    if not _is_state_dict(obj):
        found = f"a dict with keys {', '.join(map(str, list(obj)[:5]))}" if isinstance(obj, dict) else type(obj).__name__
        raise CheckpointError(f"is not a state dict (a dict of tensors) nor a stylert checkpoint: found {found}",
                              path=path, fix="pass the files listed by `stylert inspect` (layouts)")
    state, stripped = obj, []
    kind = _detect(state)
    while kind is None and (prefix := _common_prefix(state)) is not None:
        state = {k[len(prefix):]: v for k, v in state.items()}
        stripped.append(prefix)
        kind = _detect(state)
    if kind is None:
        keys = list(obj)
        where = (f" inside {wrapper!r}" if wrapper else "") + (
            f", prefix {''.join(stripped)!r} taken off" if stripped else "")
        shared = _dotted_prefix(state)
        found = f"; every key starts with {shared!r}, a prefix stylert does not know" if shared else ""
        fix = ("known layouts: " + "; ".join(lay.description for lay in LAYOUTS.values()) + "; stylert's own")
        if shared:
            fix = (f"save the state dict without the {shared!r} prefix (or that part of the model alone); "
                   f"prefixes taken off: {', '.join(WRAPPER_PREFIXES)}; " + fix)
        raise CheckpointError(
            f"unrecognised key layout{where} (first keys: {', '.join(keys[:4])}){found}", path=path, fix=fix,
        )
    meta = {"unwrapped": wrapper, "prefix": "".join(stripped)} if wrapper or stripped else {}
    return CheckpointFile(path, kind, state, meta)


def layout_of(files: list[CheckpointFile], family: str | None = None) -> Layout | None:
    """The layout these files are (None for stylert's own). With ``family``: that family's layout
    that accepts them, or None."""
    if any(f.kind == "stylert" for f in files):
        return None
    if family is not None:
        return next((lay for lay in LAYOUTS.values() if lay.family == family and lay.accepts(files)), None)
    return next(lay for lay in LAYOUTS.values() if lay.tells(files))


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
    stylert_file = next((f for f in files if f.kind == "stylert"), None)
    lay = layout_of(files)
    inferred = stylert_file.meta["family"] if stylert_file is not None else lay.family
    if family is not None and family != inferred:
        get_family(family)  # unknown family -> its own error
        # Files that are part of that family's layout (a SANet decoder alone looks like AdaIN's):
        # accept them; the missing parts are reported below.
        lay = None if stylert_file is not None else layout_of(files, family)
        if lay is None:
            raise CheckpointError(f"holds a model of family {inferred!r}, not {family!r}", path=files[0].path,
                                  fix=f"use --model {inferred}, or the checkpoint of a {family} model")
        inferred = family
    family = inferred
    layout = "stylert" if lay is None else lay.name
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
    if lay is not None and lay.public_encoder and not any("encoder." in FILE_KINDS[f.kind].prefixes for f in files):
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
    model.checkpoint_info = {"layout": layout, "files": {str(f.path): f.kind for f in files},
                             "unwrapped": {str(f.path): f.meta for f in files if f.meta and f.kind != "stylert"}}
    return model


# --------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------
def save_checkpoint(model: StyleModel, path: str | os.PathLike, **extra) -> Path:
    """Write stylert's own checkpoint atomically: family, config, weights and ``extra``
    (training state: optimizer, step, RNG...), with the SHA-256 of all of it (``payload_checksum``),
    which ``read_state`` verifies."""
    path = Path(path)
    payload = {
        "format": STYLERT_FORMAT,
        "version": STYLERT_FORMAT_VERSION,
        "family": model.family,
        "config": model.config_dict(),
        "state_dict": model.state_dict(),
        **extra,
    }
    payload[CHECKSUM_KEY] = payload_checksum(payload)
    with atomic_write(path, overwrite=True) as tmp:
        torch.save(payload, tmp)
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
