"""Trained weights that ship inside the package: one float16 ``safetensors`` file per family.

    models/shipped/<family>.safetensors   decoder + transform weights (float16), no encoder
    models/shipped/registry.json          per family: file, SHA-256, size, source, training budget

A shipped file holds only what inference needs beyond the public VGG encoder: the ``decoder.*``
and ``transform.*`` tensors of a stylert model, cast to float16, plus one metadata entry
``stylert`` (JSON: format, version, family, config, step, training settings). The frozen encoder
is the public ``vgg_normalised.pth`` (``stylert weights fetch``), loaded beside it. safetensors
files are read without pickle.

Every shipped file is verified (size and SHA-256 against the registry, with the same
``weights.verify_file`` as the public AdaIN pair) before it is read.

``ship_checkpoint`` converts a training checkpoint (``stylert train``'s ``checkpoints/last.pt``)
into such a file and records it in the registry (``stylert weights ship``); ``load_shipped``
builds the model back in float32 (``stylert stylize/export --model FAMILY`` with no
``--checkpoint``).

The registry functions import only the standard library; converting and loading import torch
and safetensors when called.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import CheckpointError, WeightsError
from .weights import FileSpec, verify_file

#: The folder of shipped files (package data, see pyproject's package-data).
SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
REGISTRY_NAME = "registry.json"
FORMAT = "stylert-shipped"
VERSION = 1
#: Each shipped file must stay under this many bytes (float16 decoder + transform: 8-16 MB).
MAX_BYTES = 20_000_000
SHIP_FIX = "convert a training checkpoint with `stylert weights ship CHECKPOINT`"


@dataclass(frozen=True)
class ShippedModel:
    """A registry entry. ``sha256`` (lowercase hex) and ``size`` (bytes) pin the file; ``source`` says
    where the weights come from, ``budget`` what training they had (steps, batch, crops, data, time)."""

    family: str
    file: str
    sha256: str
    size: int
    source: str
    budget: str

    @property
    def spec(self) -> FileSpec:
        return FileSpec(self.sha256, self.size)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _registry_path(root: Path) -> Path:
    return Path(root) / REGISTRY_NAME


def read_registry(root: str | os.PathLike | None = None) -> dict[str, ShippedModel]:
    """family -> ShippedModel from ``root/registry.json`` (default ``SHIPPED_DIR``); no file -> {}."""
    path = _registry_path(Path(root) if root is not None else SHIPPED_DIR)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
        if data.get("format") != f"{FORMAT}-registry" or data.get("version") != VERSION:
            raise ValueError(f"format {data.get('format')!r} version {data.get('version')!r}")
        return {family: ShippedModel(**entry) for family, entry in data["models"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise WeightsError(f"unreadable shipped-weights registry ({err})", path=path,
                           fix=f"restore it from the repository, or {SHIP_FIX} again") from None


def _write_registry(root: Path, entries: dict[str, ShippedModel]) -> Path:
    path = _registry_path(root)
    data = {"format": f"{FORMAT}-registry", "version": VERSION,
            "models": {f: asdict(entries[f]) for f in sorted(entries)}}
    _atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
    return path


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def shipped_families(root: str | os.PathLike | None = None) -> list[str]:
    return sorted(read_registry(root))


def shipped_file(family: str, root: str | os.PathLike | None = None) -> tuple[Path, ShippedModel]:
    """The verified path of ``family``'s shipped file and its entry; unknown family, missing file, or a
    size / SHA-256 mismatch -> WeightsError."""
    root = Path(root) if root is not None else SHIPPED_DIR
    entries = read_registry(root)
    if family not in entries:
        known = ", ".join(sorted(entries)) or "none"
        raise WeightsError(f"no shipped weights for {family!r} (shipped: {known})", path=_registry_path(root),
                           fix=f"pass --checkpoint FILE, or {SHIP_FIX}")
    entry = entries[family]
    path = root / entry.file
    verify_file(path, entry.spec)
    return path, entry


def status(root: str | os.PathLike | None = None) -> list[tuple[ShippedModel, Path, bool | None]]:
    """``(entry, path, ok)`` per shipped family; ok is None when the file is missing."""
    root = Path(root) if root is not None else SHIPPED_DIR
    rows = []
    for family, entry in sorted(read_registry(root).items()):
        path = root / entry.file
        if not path.is_file():
            rows.append((entry, path, None))
            continue
        try:
            verify_file(path, entry.spec)
            ok = True
        except WeightsError:
            ok = False
        rows.append((entry, path, ok))
    return rows


# --------------------------------------------------------------------------- converting (torch)


def _budget_text(payload: dict, run_dir: Path | None) -> str:
    """``1,234 steps x batch 4 (4,936 pairs), 128 px crops of 256 px images, 1,500 content / 649 style
    images, 2.1 h`` from a training checkpoint (hours from the run's log.csv when it is beside it)."""
    training, data, step = payload["training"], payload.get("data", {}), int(payload["step"])
    text = (f"{step:,} steps x batch {training['batch_size']} ({step * training['batch_size']:,} pairs), "
            f"{training['crop_size']} px crops of {training['image_size']} px images")
    if data.get("content_files") is not None:
        text += f", {data['content_files']:,} content / {data['style_files']:,} style images"
    if run_dir is not None and (run_dir / "log.csv").is_file():
        import csv

        with open(run_dir / "log.csv", newline="") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r["step"]) <= step]
        if rows:
            text += f", {float(rows[-1]['elapsed']) / 3600:.2f} h"
    return text


def ship_checkpoint(checkpoint: str | os.PathLike, *, root: str | os.PathLike | None = None,
                    source: str | None = None, budget: str | None = None) -> tuple[Path, ShippedModel]:
    """Convert a stylert training checkpoint into ``root/<family>.safetensors`` (float16 decoder and
    transform tensors; default root ``SHIPPED_DIR``) and record it in ``root/registry.json``.

    ``source`` / ``budget``: the registry's texts (default: derived from the checkpoint's training
    state). Raises CheckpointError if the checkpoint is not a stylert file with training state, a
    weight does not fit float16 (|w| > 65504 or not finite), or the file would exceed ``MAX_BYTES``.
    Returns (path, entry).
    """
    import torch
    from safetensors.torch import save_file

    from .checkpoints import identify

    checkpoint = Path(checkpoint)
    root = Path(root) if root is not None else SHIPPED_DIR
    f = identify(checkpoint)
    if f.kind != "stylert" or "training" not in f.meta or "step" not in f.meta:
        raise CheckpointError(f"is a {f.kind} file, not a stylert training checkpoint", path=checkpoint,
                              fix="pass OUT/checkpoints/last.pt of a `stylert train` run")
    family, config = f.meta["family"], dict(f.meta["config"])
    if config.get("encoder") != "vgg-normalised":
        raise CheckpointError(f"was trained with the {config.get('encoder')!r} encoder; shipped models use the "
                              "public vgg_normalised.pth", path=checkpoint, fix="ship a run trained with it")
    tensors = {}
    for key, value in f.state_dict.items():
        if key.startswith("encoder."):
            continue
        if not key.startswith(("decoder.", "transform.")):
            raise CheckpointError(f"holds an unexpected tensor {key}", path=checkpoint,
                                  fix="pass a checkpoint written by `stylert train`")
        if not bool(torch.isfinite(value).all()) or float(value.abs().max()) > torch.finfo(torch.float16).max:
            raise CheckpointError(f"{key} does not fit float16 (not finite, or above 65504)", path=checkpoint,
                                  fix="ship an earlier checkpoint of the run")
        tensors[key] = value.detach().to(torch.float16).contiguous()
    if not tensors:
        raise CheckpointError("holds no decoder weights", path=checkpoint, fix="pass a `stylert train` checkpoint")
    training = f.meta["training"]
    meta = {"format": FORMAT, "version": VERSION, "family": family, "config": config, "step": int(f.meta["step"]),
            "training": training, "data": {k: v for k, v in f.meta.get("data", {}).items() if "digest" not in k}}
    run_dir = checkpoint.resolve().parent.parent
    budget = budget or _budget_text(f.meta, run_dir)
    source = source or (f"stylert train --model {family}" + (" --from-pretrained" if training.get("from_pretrained")
                        else "") + f" on {Path(training['content_dir']).parent.name} (seed {training['seed']})")
    path = root / f"{family}.safetensors"
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=root)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={"stylert": json.dumps(meta, sort_keys=True)})
        size = os.path.getsize(tmp)
        if size > MAX_BYTES:
            raise CheckpointError(f"would ship as {size:,} bytes, over the {MAX_BYTES:,}-byte limit",
                                  path=checkpoint, fix="ship a smaller model")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    entry = ShippedModel(family=family, file=path.name, sha256=_sha256(path), size=path.stat().st_size,
                         source=source, budget=budget)
    entries = read_registry(root)
    entries[family] = entry
    _write_registry(root, entries)
    return path, entry


# --------------------------------------------------------------------------- loading (torch)


def read_shipped(path: str | os.PathLike) -> tuple[dict, dict]:
    """(metadata dict, {model key: float16 tensor}) of a shipped file, read without pickle."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as fh:
            raw = (fh.metadata() or {}).get("stylert")
            tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    except (SafetensorError, OSError) as err:
        raise CheckpointError(f"not a readable safetensors file ({err})", path=path,
                              fix=f"restore it, or {SHIP_FIX} again") from None
    try:
        meta = json.loads(raw)
        if meta.get("format") != FORMAT or meta.get("version") != VERSION:
            raise ValueError("format")
    except (TypeError, ValueError, AttributeError):
        raise CheckpointError(f"has no {FORMAT} v{VERSION} metadata", path=path, fix=SHIP_FIX) from None
    return meta, tensors


def load_shipped(family: str, *, root: str | os.PathLike | None = None, public_encoder=None):
    """The shipped ``family`` model in float32 (eval mode): the verified shipped file for the decoder and
    transform, the public ``vgg_normalised.pth`` (``public_encoder`` or the weights lookup) for the encoder."""
    import torch

    from .checkpoints import identify, key_listing, match_keys
    from .registry import create_model, make_config
    from .weights import find_weight

    path, entry = shipped_file(family, root)
    meta, tensors = read_shipped(path)
    if meta["family"] != family:
        raise CheckpointError(f"holds a {meta['family']} model, not {family}", path=path, fix=SHIP_FIX)
    model = create_model(family, make_config(family, meta["config"]))
    state = model.state_dict()
    enc = identify(find_weight("adain", "vgg_normalised.pth", public_encoder))
    expected = {k: v.shape for k, v in state.items() if k.startswith("encoder.")}
    mapped, unexpected, mis_shaped, _ = match_keys(enc, model, expected)
    missing = [k for k in expected if k not in mapped]
    if enc.kind != "vgg-normalised" or unexpected or mis_shaped or missing:
        raise CheckpointError("is not the public normalised VGG encoder the shipped models need"
                              + (": " + key_listing(missing=missing, unexpected=unexpected, mis_shaped=mis_shaped)
                                 if enc.kind == "vgg-normalised" else f" (a {enc.kind} file)"),
                              path=enc.path, fix="run `stylert weights fetch`")
    wanted = {k for k in state if not k.startswith("encoder.")}
    if set(tensors) != wanted or any(tuple(tensors[k].shape) != tuple(state[k].shape) for k in wanted):
        bad = sorted(set(tensors) ^ wanted) or sorted(k for k in wanted if tensors[k].shape != state[k].shape)
        raise CheckpointError(f"does not fit {family}: {', '.join(bad[:6])}", path=path, fix=SHIP_FIX)
    state.update(mapped)
    state.update({k: v.to(torch.float32) for k, v in tensors.items()})
    model.load_state_dict(state, strict=True)
    model.eval()
    model.checkpoint_info = {"layout": "stylert-shipped", "files": {str(path): "shipped", str(enc.path): enc.kind},
                             "step": meta["step"], "sha256": entry.sha256}
    return model
