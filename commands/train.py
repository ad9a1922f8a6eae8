"""``stylert train``: train a model family with the paper's losses (``stylert.training``)."""

from __future__ import annotations

import os

import click

from .choices import FamilyChoice
from .numbers import Number, parse_numbers

#: CLI parameter -> TrainConfig field (the loss weights are gathered into ``weights``).
CONFIG_PARAMS = {
    "family": "family", "content": "content_dir", "style": "style_dir", "iterations": "iterations",
    "batch_size": "batch_size", "image_size": "image_size", "crop_size": "crop_size", "lr": "lr",
    "lr_decay": "lr_decay", "grad_clip": "grad_clip", "amp": "amp", "seed": "seed", "encoder": "encoder",
    "from_pretrained": "from_pretrained", "identity_every": "identity_every", "decoder": "decoder",
    "transform_lr_scale": "transform_lr_scale",
}
#: CLI parameter -> LossWeights field.
WEIGHT_PARAMS = {"content_weight": "content", "style_weight": "style", "identity_pixel_weight": "identity_pixel",
                 "identity_feature_weight": "identity_feature", "level_weights": "level_weights"}


def _level_weights(ctx, param, value):
    return parse_numbers(value, "--level-weights", _three_non_negative)


def _three_non_negative(weights):
    from ..errors import ModelError

    if len(weights) != 3:
        raise ModelError(f"{len(weights)} numbers: one weight per level relu2_1, relu3_1, relu4_1 (3 numbers)",
                         fix="e.g. --level-weights 1,1,1")
    if min(weights) < 0:
        raise ModelError(f"weights must be >= 0, got {list(weights)}", fix="e.g. --level-weights 1,1,1")


def _default_workers() -> int:
    return min(4, os.cpu_count() or 1)


@click.command("train")
@click.option("--model", "family", type=FamilyChoice(), default=None,
              help="Model family to train (required unless --resume).")
@click.option("--content", type=click.Path(file_okay=False), default=None,
              help="Folder of content images (searched recursively; jpg, png, webp).")
@click.option("--style", type=click.Path(file_okay=False), default=None, help="Folder of style images (recursive).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True,
              help="Output folder: checkpoints/, samples/, log.csv, loss.png.")
@click.option("--iterations", type=click.IntRange(min=0), default=160_000, show_default=True,
              help="Total iterations (a resumed run may raise it). 0 saves the initial model untrained (step 0).")
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--image-size", type=click.IntRange(min=1), default=512, show_default=True,
              help="Short side of every image after resizing, before the crop.")
@click.option("--crop-size", type=click.IntRange(min=16), default=256, show_default=True,
              help="Side of the random square crop (a multiple of 8; of 16 for the attention families).")
@click.option("--lr", type=Number(min=0, min_open=True), default=1e-4, show_default=True,
              help="Adam learning rate at iteration 0.")
@click.option("--lr-decay", type=Number(min=0), default=5e-5, show_default=True,
              help="lr(i) = lr / (1 + lr_decay * i), as the reference code.")
@click.option("--content-weight", type=Number(min=0), default=1.0, show_default=True, help="Weight of the content loss.")
@click.option("--style-weight", type=Number(min=0), default=None,
              help="Weight of the style loss (lambda)  [default: 10 for the AdaIN families, 3 for the attention ones]")
@click.option("--identity-pixel-weight", type=Number(min=0), default=50.0, show_default=True,
              help="Attention families: weight of the pixel identity loss (Park & Lee's lambda_identity1).")
@click.option("--identity-feature-weight", type=Number(min=0), default=1.0, show_default=True,
              help="Attention families: weight of the feature identity loss (lambda_identity2).")
@click.option("--level-weights", callback=_level_weights, default=None, metavar="W2,W3,W4",
              help="adain-multilevel: weights of the content loss at relu2_1, relu3_1, relu4_1  [default: 1,1,1]")
@click.option("--identity-every", type=click.IntRange(min=1), default=1, show_default=True, metavar="N",
              help="Attention families: compute the identity losses on every N-th iteration only (they take two "
                   "thirds of an iteration's decoder and encoder passes); 1 is the reference's every iteration.")
@click.option("--transform-lr-scale", type=Number(min=0, min_open=True), default=1.0, show_default=True,
              help="The learning rate of the transform and the fuse conv rc0 (attention, merge / fuse) is --lr times this; below 1 keeps a warm "
                   "start's attention from being wrecked by Adam's per-weight steps.")
@click.option("--grad-clip", type=Number(min=0, min_open=True), default=None, metavar="MAX_NORM",
              help="Clip the global gradient norm to MAX_NORM  [default: no clipping]")
@click.option("--amp/--no-amp", default=False,
              help="Mixed precision: float16 autocast + gradient scaling on CUDA, bfloat16 autocast on CPUs with "
                   "bfloat16 instructions (amx_bf16 or avx512_bf16), float32 elsewhere  [default: off]")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initial weights and the data order.")
@click.option("--encoder", type=click.Path(dir_okay=False), default=None,
              help="Encoder weights (vgg_normalised.pth or a torchvision vgg19 state dict)  [default: the public "
                   "vgg_normalised.pth from STYLERT_WEIGHTS or the cache]")
@click.option("--from-pretrained", is_flag=True,
              help="Warm-start from the public AdaIN decoder.pth, any family: adain-multilevel with AdaIN's "
                   "widths and zero skip inputs (its step-0 output is AdaIN's); sanet and sanet-multilevel with "
                   "attention that already stylizes at step 0 (stylert.training.initial.attention_warm_start).")
@click.option("--decoder", type=click.Path(dir_okay=False), default=None,
              help="With --from-pretrained: the AdaIN decoder file (decoder.pth, or its float16 safetensors)  "
                   "[default: the public decoder.pth from STYLERT_WEIGHTS or the cache]")
@click.option("--max-minutes", type=Number(min=0, min_open=True), default=None,
              help="Stop after the step that passes this many minutes of training, with a checkpoint "
                   "(continue with --resume)  [default: no limit]")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True,
              help="CPU threads of torch (0: torch's default, one per core; on a shared machine 1 can be faster).")
@click.option("--channels-last/--no-channels-last", default=False,
              help="Model and batches in channels-last memory format (faster convolutions on many CPUs and GPUs).")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Data loader worker processes  [default: min(4, CPUs)]")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=10_000, show_default=True)
@click.option("--sample-every", type=click.IntRange(min=1), default=1_000, show_default=True,
              help="Write samples/step_N.png (content | style | output) every N iterations.")
@click.option("--samples", type=click.IntRange(min=0), default=4, show_default=True,
              help="Pairs in each sample grid (0: none).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from checkpoints/last.pt.")
@click.option("--overwrite", is_flag=True, help="Start again in a non-empty --out (removes its training outputs).")
@click.pass_context
def train(ctx, family, content, style, out_dir, iterations, batch_size, image_size, crop_size, lr, lr_decay,
          content_weight, style_weight, identity_pixel_weight, identity_feature_weight, level_weights, identity_every,
          transform_lr_scale, grad_clip, amp, seed, encoder, from_pretrained, decoder, max_minutes, threads,
          channels_last, device, workers,
          checkpoint_every, sample_every, samples, resume, overwrite):
    """Train a model family with the paper's losses, from the public (frozen) VGG encoder.

    \b
    adain              content MSE at relu4_1 + style x mean/std loss at relu1_1..relu4_1
    adain-multilevel   content MSE at relu2_1..relu4_1 (per-level weights) + the same style loss
    sanet, sanet-multilevel
                       mean-variance-normalised content loss at relu4_1 and relu5_1
                       + style x mean/std loss at relu1_1..relu5_1
                       + identity losses (pixel x 50, feature x 1)

    Resume a run with `stylert train --out DIR --resume [--iterations N]`: it continues
    from DIR/checkpoints/last.pt with the saved settings (training and run options such as
    --checkpoint-every, --threads, --channels-last, unless given again).

    The result is a stylert checkpoint (OUT/checkpoints/last.pt) that `stylert export`,
    `stylert stylize` and `stylert inspect` take as it is.
    """
    import dataclasses

    from click.core import ParameterSource

    from ..models.checkpoints import read_state
    from ..models.stylize import resolve_device
    from ..training.losses import LossWeights, default_loss_weights, family_training
    from ..training.run import RESUMED_OPTIONS, RunOptions, TrainConfig, last_checkpoint_path, resume_config
    from ..training.run import train as run_training

    quiet = bool(getattr(ctx.obj, "quiet", False))

    def say(text: str) -> None:
        if not quiet:
            click.echo(text, err=True)

    params = ctx.params
    explicit = {name for name in params if ctx.get_parameter_source(name) in
                (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}

    def given_config(base_family: str) -> TrainConfig:
        defaults = default_loss_weights(base_family)
        weights = LossWeights(
            content=content_weight,
            style=defaults.style if style_weight is None else style_weight,
            identity_pixel=identity_pixel_weight,
            identity_feature=identity_feature_weight,
            level_weights=level_weights or defaults.level_weights,
        )
        values = {field: params[name] for name, field in CONFIG_PARAMS.items()}
        values["family"] = base_family
        for key in ("content_dir", "style_dir", "encoder", "decoder"):  # saved in checkpoints: keep them valid from anywhere
            if values[key] is not None:
                values[key] = os.path.abspath(values[key])
        return TrainConfig(weights=weights, **values)

    if resume:
        ckpt = last_checkpoint_path(out_dir)
        if not ckpt.is_file():
            raise click.UsageError(f"{ckpt} does not exist: nothing to resume")
        saved = read_state(ckpt).get("training")
        if saved is None:
            raise click.UsageError(f"{ckpt} holds no training state")
        saved_family = saved["family"]
        if family is not None and family != saved_family:
            raise click.UsageError(f"--model {family}, but {ckpt} is a {saved_family} run")
        fields = {CONFIG_PARAMS[n] for n in explicit if n in CONFIG_PARAMS}
        if explicit & set(WEIGHT_PARAMS):
            fields.add("weights")
        given = given_config(saved_family)
        if "weights" in fields:  # only the weights the user named replace the saved ones
            saved_w = TrainConfig.from_dict(saved).loss_weights()
            named = {WEIGHT_PARAMS[n] for n in explicit & set(WEIGHT_PARAMS)}
            given = dataclasses.replace(given, weights=dataclasses.replace(
                saved_w, **{k: getattr(given.loss_weights(), k) for k in named}))
        config = resume_config(saved, given, fields)
        kept = {k: v for k, v in (read_state(ckpt).get("run_options") or {}).items()
                if k in RESUMED_OPTIONS and k not in explicit and v != params[k]}
        if kept:  # the run's own settings, unless given again (not its time limit: that is per invocation)
            checkpoint_every = kept.get("checkpoint_every", checkpoint_every)
            sample_every = kept.get("sample_every", sample_every)
            samples = kept.get("samples", samples)
            workers = kept.get("workers", workers)
            device = kept.get("device", device)
            channels_last = kept.get("channels_last", channels_last)
            threads = kept.get("threads", threads)
            say("resuming with the run's settings: " + " ".join(
                f"--{k.replace('_', '-')}" if v is True else f"--no-{k.replace('_', '-')}" if v is False
                else f"--{k.replace('_', '-')} {v}" for k, v in kept.items()))
    else:
        missing = [flag for flag, value in (("--model", family), ("--content", content), ("--style", style))
                   if value is None]
        if missing:
            raise click.UsageError(f"{', '.join(missing)} required (or --resume to continue a run)")
        config = given_config(family)
        training = family_training(family)
        unused = set()
        if not training.identity:
            unused |= {"identity_pixel_weight", "identity_feature_weight", "identity_every"}
        if not training.level_weights:
            unused.add("level_weights")
        for name in sorted(explicit & unused):
            say(f"notice: --{name.replace('_', '-')} does not apply to {family}; ignored")
        if not training.identity:
            config = dataclasses.replace(config, identity_every=1)

    if config.amp:
        from ..training.precision import select

        precision = select(True, resolve_device(device).type)
        if not precision.enabled:
            say(f"notice: {precision.reason}")
            config = dataclasses.replace(config, amp=False)

    options = RunOptions(
        out_dir=out_dir, checkpoint_every=checkpoint_every, sample_every=sample_every, samples=samples,
        workers=_default_workers() if workers is None else workers, device=device, resume=resume,
        overwrite=overwrite, progress=not quiet, max_seconds=None if max_minutes is None else max_minutes * 60,
        channels_last=channels_last, threads=threads,
    )
    if threads:
        import torch

        torch.set_num_threads(threads)
    result = run_training(config, options, log=say)
    if result.last_checkpoint is not None:
        say(f"last checkpoint: {result.last_checkpoint} (step {result.step})")
        say(f"log: {result.out_dir / 'log.csv'}, loss curve: {result.out_dir / 'loss.png'}, "
            f"samples: {result.out_dir / 'samples'}")
        say(f"export it: stylert export --model {config.family} --checkpoint {last_checkpoint_path(out_dir)} "
            f"--out DIR")
    click.echo(str(last_checkpoint_path(out_dir)))
