"""A training run: data, model, loop, checkpoints, logs and sample grids in one output folder.

    OUT/checkpoints/step_XXXXXX.pt   stylert checkpoints (family, config, weights + training state)
    OUT/checkpoints/last.pt          the newest one (a hard link): what ``--resume`` continues from
    OUT/log.csv                      one row per iteration (``logs``)
    OUT/loss.png                     the loss curve, redrawn at every checkpoint and at the end
    OUT/samples/step_XXXXXX.png      content | style | output for fixed pairs, every ``sample_every`` steps

A checkpoint holds, besides stylert's model payload: ``step``, ``training`` (the TrainConfig as a
dict), ``optimizer`` and ``scaler`` state dicts, ``rng`` (torch, CUDA, numpy, Python states as
tensors), ``data`` (pairs consumed, file counts and digests of the folders) and ``skipped_files``.
Everything loads with ``torch.load(weights_only=True)``; every file is written atomically.

Resuming restores all of that, so on the CPU the next iterations compute the same losses, bit for
bit, as an uninterrupted run (on CUDA, kernels may not be deterministic).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..core.files import MARKER_NAME, atomic_write, check_output_path, marker_kind, write_marker
from ..core.grid import make_grid
from ..core.images import save_image
from ..errors import CheckpointError, ModelError, OutputError
from ..models.base import StyleModel
from ..models.checkpoints import load_model, read_state, save_checkpoint
from ..models.stylize import resolve_device
from . import rng
from .data import DataConfig, make_dataset, make_loader, preview_pairs
from .initial import initial_model
from .logs import CsvLog, Progress, draw_loss_curve
from .losses import LossWeights, default_loss_weights, family_training
from .step import OptimConfig, TrainStep

#: TrainConfig fields a resumed run may change: the length of the run, the place of the (same) data, how often
#: the identity losses are computed, and
#: mixed precision (so that a run can move between a GPU and a CPU).
RESUMABLE_CHANGES = ("iterations", "content_dir", "style_dir", "amp", "identity_every")
#: Fields that only matter when a run starts (the initial weights): ignored on resume.
START_ONLY = ("encoder", "from_pretrained", "decoder")
OUTPUTS = ("checkpoints", "samples", "log.csv", "loss.png")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides what is computed. Saved in every checkpoint under ``training``."""

    family: str
    content_dir: str
    style_dir: str
    iterations: int = 160_000
    batch_size: int = 8
    image_size: int = 512
    crop_size: int = 256
    lr: float = 1e-4
    lr_decay: float = 5e-5
    grad_clip: float | None = None
    amp: bool = False
    seed: int = 0
    weights: LossWeights | None = None  # None: the family's defaults
    encoder: str | None = None  # None: the public vgg_normalised.pth
    from_pretrained: bool = False
    decoder: str | None = None  # with from_pretrained; None: the public decoder.pth
    identity_every: int = 1  # attention families: the identity losses on every n-th iteration only
    transform_lr_scale: float = 1.0  # the transform's learning rate is lr x this (Adam moves every weight by
    # about lr per step: 1e-4 on 512x512 attention maps and a 3x3x512 merge conv near a scaled identity
    # wrecks a warm start within ten steps)

    def loss_weights(self) -> LossWeights:
        return self.weights or default_loss_weights(self.family)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["weights"] = self.loss_weights().as_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        d = dict(d)
        w = d.pop("weights", None)
        weights = None if w is None else LossWeights(**{**w, "level_weights": tuple(w["level_weights"])})
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(weights=weights, **{k: v for k, v in d.items() if k in known})


@dataclass(frozen=True)
class RunOptions:
    """How a run is carried out and reported; none of it changes the numbers."""

    out_dir: str
    checkpoint_every: int = 10_000
    sample_every: int = 1_000
    samples: int = 4  # pairs in each sample grid
    workers: int = 2
    device: str = "auto"
    resume: bool = False
    overwrite: bool = False
    progress: bool = True
    max_seconds: float | None = None  # stop (with a checkpoint) after the step that passes this many seconds
    channels_last: bool = False  # model and batches in channels-last memory format (TrainStep)
    threads: int = 0  # torch's CPU threads as set by the caller (0: torch's default); recorded only

    def resumable(self) -> dict:
        """The options a ``--resume`` keeps unless given again (saved in every checkpoint as
        ``run_options``): how often to checkpoint and sample, workers, device, memory format, threads."""
        return {k: getattr(self, k) for k in RESUMED_OPTIONS}


#: RunOptions fields saved in checkpoints and reused by ``stylert train --resume`` when not given again.
RESUMED_OPTIONS = ("checkpoint_every", "sample_every", "samples", "workers", "device", "channels_last", "threads")


@dataclass
class TrainResult:
    step: int
    out_dir: Path
    last_checkpoint: Path | None
    last_losses: dict[str, float] = field(default_factory=dict)
    skipped_files: list[str] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- the output folder


def last_checkpoint_path(out_dir: str | os.PathLike) -> Path:
    return Path(out_dir) / "checkpoints" / "last.pt"


def prepare_out_dir(options: RunOptions) -> Path:
    """Refuse a non-empty folder unless resuming or ``overwrite`` (which removes only training outputs)."""
    out = Path(options.out_dir)
    if out.exists() and not out.is_dir():
        raise OutputError("exists and is not a folder", path=out, fix="choose another --out")
    if options.resume:
        if not last_checkpoint_path(out).is_file():
            raise OutputError("has no checkpoints/last.pt to resume from", path=out,
                              fix="check --out, or start a new run without --resume")
        return out
    check_output_path(out, "--out")
    if out.exists() and any(out.iterdir()):
        if not options.overwrite:
            raise OutputError("is not empty", path=out, fix="--resume to continue that run, --overwrite to start "
                              "again (removes its checkpoints, samples and logs), or another --out")
        if marker_kind(out) != "training-run" and not last_checkpoint_path(out).is_file():
            raise OutputError("is not a stylert training run: --overwrite replaces only what stylert wrote", path=out,
                              fix="give --out a new or empty folder (the files are left alone)")
        for name in OUTPUTS:
            target = out / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    out.mkdir(parents=True, exist_ok=True)
    write_marker(out, "training-run")
    return out


def _remove_unfinished(out: Path, existed: bool, since: float) -> None:
    """After a new run failed or was interrupted before its first checkpoint: remove what it wrote
    (its log, loss curve, samples and marker; the folder too if the run made it), so that the next run
    is not refused as "not empty" and nothing half-done stays behind. A run with a checkpoint keeps
    everything (``--resume`` continues it)."""
    last = last_checkpoint_path(out)
    if last.is_file() and last.stat().st_mtime >= since:
        return
    for name in (*OUTPUTS, MARKER_NAME):
        target = out / name
        try:
            if target.exists() and target.stat().st_mtime >= since:
                shutil.rmtree(target) if target.is_dir() else target.unlink()
        except OSError:
            pass
    if not existed:
        try:
            out.rmdir()
        except OSError:
            pass


def resume_config(saved: dict, given: TrainConfig | None, explicit: set[str] | None = None) -> TrainConfig:
    """The config of a resumed run: the saved one, with the ``RESUMABLE_CHANGES`` in ``explicit`` (the
    names the user set; default: all) taken from ``given``. Any other explicit field that differs from the
    saved value is an error (``START_ONLY`` fields are ignored). Data folders are checked by digest later."""
    base = TrainConfig.from_dict(saved)
    if given is None:
        return base
    explicit = set(explicit if explicit is not None else (f.name for f in dataclasses.fields(TrainConfig)))
    conflicts = []
    for f in dataclasses.fields(TrainConfig):
        if f.name not in explicit or f.name in RESUMABLE_CHANGES + START_ONLY:
            continue
        mine, theirs = getattr(given, f.name), getattr(base, f.name)
        if f.name == "weights":
            mine, theirs = given.loss_weights(), base.loss_weights()
        if mine != theirs:
            conflicts.append(f"{f.name} {theirs!r} (given {mine!r})")
    if conflicts:
        raise ModelError("a resumed run continues the saved run; the checkpoint has " + "; ".join(conflicts),
                         fix="drop those options, or start a new run")
    keep = {k: getattr(given, k) for k in RESUMABLE_CHANGES if k in explicit}
    return dataclasses.replace(base, **keep)


def _link_atomic(src: Path, dst: Path) -> None:
    """Make ``dst`` the same file as ``src`` (a hard link; a copy where links are not possible), atomically."""
    with atomic_write(dst, overwrite=True) as tmp:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)


# --------------------------------------------------------------------------- samples


def stylize_batch(model: StyleModel, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """[N,3,S,S] pairs -> stylized [N,3,S,S] clamped to 0..1 (alpha 1, float32, no grad)."""
    with torch.no_grad():
        out = model.decode(model.transfer(model.encode(content), model.encode_style(style), 1.0))
    return out.clamp(0, 1)


def write_sample_grid(model: StyleModel, preview: dict, step: int, path: Path) -> None:
    device = next(model.parameters()).device
    out = stylize_batch(model, preview["content"].to(device), preview["style"].to(device)).cpu()
    images, labels = [], []
    for i in range(out.shape[0]):
        for name, t in (("content", preview["content"][i]), ("style", preview["style"][i]), (f"step {step}", out[i])):
            images.append(t.numpy().transpose(1, 2, 0))
            labels.append(name)
    grid = make_grid(images, labels, columns=3, height=min(256, preview["content"].shape[-1]))
    save_image(grid, path, overwrite=True)


# --------------------------------------------------------------------------- the run


def _check_data(saved: dict, info: dict) -> None:
    for which in ("content", "style"):
        if saved.get(f"{which}_digest") != info[f"{which}_digest"]:
            raise ModelError(
                f"the {which} folder changed since the checkpoint ({saved.get(f'{which}_files')} files then, "
                f"{info[f'{which}_files']} now): the resumed run would not see the same data",
                fix=f"resume with the original --{which} folder, or start a new run")


def train(config: TrainConfig, options: RunOptions, log=print) -> TrainResult:
    """Run (or resume) training as ``config`` says, writing into ``options.out_dir``.

    With ``options.resume`` the state comes from ``OUT/checkpoints/last.pt`` and ``config`` must be the
    saved one except for ``RESUMABLE_CHANGES`` (use ``resume_config``). A new run that fails or is
    interrupted before its first checkpoint removes what it wrote (``_remove_unfinished``)."""
    since = time.time() - 1.0  # mtimes: a second of file-system granularity
    existed = Path(options.out_dir).exists()
    out = prepare_out_dir(options)
    try:
        return _train(config, options, log, out)
    except BaseException:
        if not options.resume:
            _remove_unfinished(out, existed, since)
        raise


def _train(config: TrainConfig, options: RunOptions, log, out: Path) -> TrainResult:
    if config.iterations < 0 or config.batch_size < 1:
        raise ModelError("--iterations must be at least 0 and --batch-size at least 1")
    if options.checkpoint_every < 1 or options.sample_every < 1:
        raise ModelError("--checkpoint-every and --sample-every must be at least 1")
    device = resolve_device(options.device)
    dataset, data_info = make_dataset(DataConfig(config.content_dir, config.style_dir, config.image_size,
                                                 config.crop_size, config.seed))
    skipped: dict[str, str] = {}

    if options.resume:
        ckpt = last_checkpoint_path(out)
        payload = read_state(ckpt)
        if "training" not in payload or "step" not in payload:
            raise CheckpointError("is a stylert checkpoint without training state", path=ckpt,
                                  fix="resume from a checkpoint written by `stylert train`")
        resume_config(payload["training"], config, {f.name for f in dataclasses.fields(TrainConfig)})
        _check_data(payload["data"], data_info)
        model = load_model([ckpt], payload["family"])
        step = int(payload["step"])
        skipped = dict.fromkeys(payload.get("skipped_files", []), "earlier")
        log(f"resuming {model.family} from {ckpt} at step {step}")
    else:
        rng.seed_everything(config.seed)
        model = initial_model(config.family, encoder=config.encoder, from_pretrained=config.from_pretrained,
                              decoder=config.decoder, seed=config.seed, log=log)
        step = 0
    multiple = model.size_multiple
    if config.crop_size % multiple:
        nearest = max(multiple, config.crop_size // multiple * multiple)
        raise ModelError(f"{model.family} needs crops that are a multiple of {multiple}, not {config.crop_size}",
                         fix=f"--crop-size {nearest}")
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    trainer = TrainStep(model, config.loss_weights(), OptimConfig(config.lr, config.lr_decay, config.grad_clip,
                                                                  config.amp, config.identity_every,
                                                                  config.transform_lr_scale),
                        channels_last=options.channels_last)
    if options.resume:
        trainer.load_state_dict(payload)
        for notice in rng.restore(payload["rng"]):
            log(f"notice: {notice}")
        del payload

    components = family_training(model.family).components
    csv_log = CsvLog(out / "log.csv", components, keep_upto=step if options.resume else None)
    elapsed0 = csv_log.elapsed
    log(f"{model.family}: {len(dataset.content)} content and {len(dataset.style)} style images, "
        f"batch {config.batch_size}, crops {config.crop_size} of short side {config.image_size}, "
        f"{sum(p.numel() for p in trainer.params):,} trainable parameters, device {device}"
        + (f", {trainer.precision.reason}" if config.amp else ""))
    last_ckpt = last_checkpoint_path(out) if options.resume else None
    result = TrainResult(step, out, last_ckpt)
    weights = config.loss_weights()

    def checkpoint() -> Path:
        path = out / "checkpoints" / f"step_{step:06d}.pt"
        csv_log.flush()
        save_checkpoint(
            model, path, step=step, training=config.to_dict(), **trainer.state_dict(), rng=rng.capture(),
            data={"position": step * config.batch_size, **data_info}, skipped_files=sorted(skipped),
            run_options=options.resumable(),
        )
        _link_atomic(path, last_checkpoint_path(out))
        draw_loss_curve(csv_log.rows, ("loss",) + components, out / "loss.png",
                        title=f"{model.family}: loss (weights {_weights_text(model.family, weights)}), step {step}")
        return path

    if step >= config.iterations:
        if step == 0 and not options.resume:  # --iterations 0: the initial model (e.g. the warm start) as it is
            result.last_checkpoint = checkpoint()
            if options.samples > 0:
                write_sample_grid(model, preview_pairs(dataset, options.samples), 0,
                                  out / "samples" / "step_000000.png")
            log(f"--iterations 0: saved the initial model, untrained, as step 0 ({result.last_checkpoint})")
        else:
            log(f"already at step {step} >= --iterations {config.iterations}; nothing to do")
        csv_log.close()
        return result

    preview = preview_pairs(dataset, options.samples) if options.samples > 0 else None
    progress = Progress(config.iterations, step, enabled=options.progress)

    def note(text: str) -> None:  # a message line that does not collide with the progress line
        progress.clear()
        log(text)

    loader = make_loader(dataset, config.batch_size, start=step * config.batch_size, workers=options.workers,
                         pin_memory=device.type == "cuda")
    started = time.perf_counter()
    tick = started

    batches = iter(loader)
    try:
        while step < config.iterations:
            batch = next(batches)
            for path, reason in batch["skipped"]:
                if path not in skipped:
                    skipped[path] = reason
                    note(f"warning: skipped unreadable file {path}: {reason}")
            values = trainer.step(step, batch["content"], batch["style"])
            step += 1
            now = time.perf_counter()
            row = {"step": step, **{k: values[k] for k in ("lr", "loss", *components, "grad_norm")},
                   "seconds": now - tick, "elapsed": elapsed0 + now - started, "skipped_files": len(skipped)}
            tick = now
            csv_log.append(row)
            result.last_losses = {k: values[k] for k in ("loss", *components)}
            progress.update(step, result.last_losses)
            out_of_time = options.max_seconds is not None and now - started >= options.max_seconds
            if step % options.checkpoint_every == 0 or step == config.iterations or out_of_time:
                result.last_checkpoint = checkpoint()
            if preview is not None and (step % options.sample_every == 0 or step == config.iterations or out_of_time):
                write_sample_grid(model, preview, step, out / "samples" / f"step_{step:06d}.png")
            if out_of_time:
                note(f"time limit of {options.max_seconds:g} s reached at step {step}; continue with --resume")
                break
    except KeyboardInterrupt:
        saved = result.last_checkpoint or "none yet"
        note(f"interrupted at step {step} (last checkpoint: {saved}); continue with --resume" if result.last_checkpoint
             else f"interrupted at step {step}, before the first checkpoint: nothing kept; run again")
        raise
    finally:
        csv_log.close()
        del batches, loader
    result.step = step
    result.skipped_files = sorted(skipped)
    result.seconds = time.perf_counter() - started
    if skipped:
        log(f"skipped {len(skipped)} unreadable file(s): " + ", ".join(sorted(skipped)[:5])
            + (" ..." if len(skipped) > 5 else ""))
    return result


def _weights_text(family: str, w: LossWeights) -> str:
    training = family_training(family)
    parts = [f"content {w.content:g}", f"style {w.style:g}"]
    if training.identity:
        parts += [f"identity {w.identity_pixel:g}/{w.identity_feature:g}"]
    if training.level_weights:
        parts += ["levels " + ",".join(f"{x:g}" for x in w.level_weights)]
    return ", ".join(parts)
