"""Trained weights that ship inside the package: converting a training checkpoint, loading a model.

A shipped file holds only what inference needs beyond the public VGG encoder: the ``decoder.*``
and ``transform.*`` tensors of a stylert model, cast to float16, plus one metadata entry
``stylert`` (JSON: format, version, family, config, step, training settings). The frozen encoder
is the public ``vgg_normalised.pth`` (``stylert weights fetch``), loaded beside it. safetensors
files are read without pickle. The registry (files, SHA-256, sources, budgets) is
``stylert.core.shipped``.

``ship_checkpoint`` converts a training checkpoint (``stylert train``'s ``checkpoints/last.pt``)
into such a file and records it in the registry (``stylert weights ship``); ``load_shipped``
builds the model back in float32 (``stylert stylize/export --model FAMILY`` with no
``--checkpoint``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.files import atomic_write, sha256_of
from ..core.shipped import (
    FORMAT,
    MAX_BYTES,
    SHIP_FIX,
    VERSION,
    ShippedModel,
    read_registry,
    shipped_file,
    write_registry,
)
from ..errors import CheckpointError

# --------------------------------------------------------------------------- converting (torch)


def _budget_text(payload: dict, run_dir: Path | None) -> str:
    """``1,234 steps x batch 4 (4,936 pairs), 128 px crops of 256 px images, 1,500 content / 649 style
    images, 2.1 h`` from a training checkpoint (hours from the run's log.csv when it is beside it)."""
    training, data, step = payload["training"], payload.get("data", {}), int(payload["step"])
    text = (f"{step:,} steps x batch {training['batch_size']} ({step * training['batch_size']:,} pairs), "
            f"{training['crop_size']} px crops of {training['image_size']} px images")
    if data.get("content_files") is not None:
        text += f", {data['content_files']:,} content / {data['style_files']:,} style images"
    if training.get("from_pretrained"):
        text += ", warm start from the public AdaIN decoder"
    if int(training.get("identity_every") or 1) > 1:
        text += f", identity losses every {training['identity_every']} steps"
    if training.get("amp"):
        text += ", mixed precision"
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
    from ..core import shipped

    root = Path(root) if root is not None else shipped.SHIPPED_DIR
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
    with atomic_write(path, overwrite=True) as tmp:
        save_file(tensors, str(tmp), metadata={"stylert": json.dumps(meta, sort_keys=True)})
        os.chmod(tmp, 0o644)  # an ordinary readable file (the writer may create it private)
        size = os.path.getsize(tmp)
        if size > MAX_BYTES:
            raise CheckpointError(f"would ship as {size:,} bytes, over the {MAX_BYTES:,}-byte limit",
                                  path=checkpoint, fix="ship a smaller model")
    entry = ShippedModel(family=family, file=path.name, sha256=sha256_of(path), size=path.stat().st_size,
                         source=source, budget=budget)
    entries = read_registry(root)
    entries[family] = entry
    write_registry(root, entries)
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

    from ..core.weights import find_weight
    from .checkpoints import identify, key_listing, match_keys
    from .registry import create_model, make_config

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
