"""``stylert export``: a checkpoint -> three validated ONNX graphs and a manifest.

    stylert export -o DIR                                   # the public AdaIN weights
    stylert export --model sanet --checkpoint model.pt -o DIR --precision fp16
    stylert export -o DIR --validate-size 256x384 --validate-size 360x496 --overwrite

Prints a summary of the graphs (file, size, parameters, inputs -> outputs) and the validation
report (per graph and end to end: output, shape, max abs/rel difference, tolerance, PSNR,
pass/fail). ``stylert inspect DIR`` shows the manifest and its routing.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..models.family import family_help
from .choices import FamilyChoice


def parse_size(value: str) -> tuple[int, int]:
    """``HxW`` (e.g. ``224x320``) -> (224, 320), the one size spelling (``stylert.core.images.parse_hw``)."""
    from ..core.images import parse_hw
    from ..errors import StylertError

    try:
        return parse_hw(value, "--validate-size")
    except StylertError as err:
        raise click.BadParameter(str(err), param_hint="--validate-size") from None


@click.command("export")
@click.option("--model", "family", default=None, metavar="FAMILY", type=FamilyChoice(),
              help=f"Model family: {family_help()}.")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(), metavar="FILE",
              help="Checkpoint file(s) of any known layout (repeatable). Default: the public AdaIN weights, or the "
                   "shipped weights of --model (stylert weights list).")
@click.option("-o", "--out", "--output", "out", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Directory to write encoder.onnx, transform.onnx, decoder.onnx and manifest.json into.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32", show_default=True,
              help="fp16: float16 weights and activations (statistics and softmax in float32), float32 I/O. "
                   "int8: QDQ encoder and decoder calibrated on --calibration (needed), sensitive layers float.")
@click.option("--calibration", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="int8: calibration images (a folder of images, or one with content/ and style/ folders).")
@click.option("--calibration-size", type=click.IntRange(1, 1000), default=8, show_default=True, metavar="N",
              help="int8: how many content (and as many style) images to calibrate on.")
@click.option("--float-layers", default=None, metavar="LIST",
              help="int8: Conv layers to keep float (graph/node, comma-separated, or 'none'), instead of the "
                   "sensitivity pass.")
@click.option("--opset", type=click.IntRange(18, 20), default=None,
              help="ONNX opset, 18 (default) to 20; the IR version is the smallest that carries it "
                   "(8 for 18, 9 for 19 and 20).")
@click.option("--validate-size", "sizes", multiple=True, metavar="HxW",
              help="Validation size (repeatable; multiples of the family's size multiple). "
                   "Default: 224x320 and 304x400.")
@click.option("--overwrite", is_flag=True, help="Replace an existing export directory.")
@click.pass_context
def export(ctx, family, checkpoints, out, precision, opset, sizes, overwrite, calibration, calibration_size,
           float_layers):
    """Export a model to three ONNX graphs (encoder, transform, decoder) + manifest.json, validated
    against PyTorch in ONNX Runtime before anything is written to DIR."""
    from ..export.errors import ValidationError
    from ..export.exporter import _check_target, export_model, format_summary
    from ..export.validate import DEFAULT_SIZES
    from ..models.pretrained import load_reference_model

    quiet = bool(getattr(ctx.obj, "quiet", False))
    if precision == "int8" and calibration is None:
        raise click.UsageError("--precision int8 needs --calibration DIR: a folder of images like the ones to "
                               "stylize (its content/ and style/ folders, or its images)")
    if precision != "int8" and calibration is not None:
        raise click.UsageError("--calibration DIR goes with --precision int8 only")
    _check_target(out, overwrite)  # before the model is loaded or anything computed
    calibration_set = None
    if calibration is not None:
        from ..export.quantize import calibration_set as make_calibration_set

        calibration_set = make_calibration_set(calibration, calibration_size)
    parsed = [parse_size(s) for s in sizes] or list(DEFAULT_SIZES)
    model = load_reference_model(family, tuple(checkpoints))

    def log(message: str) -> None:
        if not quiet:
            click.echo(message, err=True)

    try:
        from ..export.quantize import read_layers

        result = export_model(model, out, precision=precision, opset=opset, sizes=parsed, overwrite=overwrite,
                              log=log, calibration=calibration_set, float_layers=read_layers(float_layers))
    except ValidationError as err:
        if err.report is not None:
            click.echo(err.report.format())
        raise
    click.echo(format_summary(result))
    click.echo(result.report.format())
    if result.report.not_run:
        click.echo("warning: some graphs could not be validated on this machine's ONNX Runtime provider (see NOT RUN "
                   "above); validate on a GPU: run the same command where ONNX Runtime's CUDA provider works",
                   err=True)
    click.echo(f"wrote {result.out_dir}")
