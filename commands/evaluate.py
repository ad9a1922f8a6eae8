"""``stylert evaluate``: how good a stylization is, not only whether a backend matches PyTorch.

    stylert evaluate score -c photo.jpg -s starry.jpg --stylized out.png [--reference ref.png] [--json m.json]
    stylert evaluate run -c photos/ -s styles/ -o report/ --alpha 0,0.5,1
    stylert evaluate run -c photos/ -s styles/ -o report/ --engine fp32=export32 --engine fp16=export16
    stylert evaluate video --input clip.mp4 --stylized styled.mp4 [--json w.json]

The metrics are defined in ``stylert.evaluation.metrics`` and ``stylert.evaluation.warping``.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..models.family import DEFAULT_FAMILY
from ..runtime.backends import BACKENDS as _RUNTIME_BACKENDS  # noqa: E402
from .choices import LabelledFamily

#: the runtime's backends, ``auto`` (as ``stylize --engine``), and OpenVINO at a named inference precision
BACKENDS = (*_RUNTIME_BACKENDS, "auto", "openvino@bf16", "openvino@f32")


def _families_with_weights() -> str:
    """``--model``'s choices for ``--help``: the families with public weights (their descriptors) and the
    shipped registry (no torch)."""
    from ..core.shipped import shipped_families
    from ..errors import StylertError
    from ..models.family import descriptors

    try:
        shipped = shipped_families()
    except StylertError:  # an unreadable registry is reported when a model is loaded, not by --help
        shipped = []
    public = ", ".join(f"{name} (public{', the default' if name == DEFAULT_FAMILY else ''})"
                       for name, d in descriptors().items() if d.public_weights is not None)
    return public + (f"; shipped: {', '.join(shipped)}" if shipped else "")


def _write_json(data: dict, path: Path | None) -> None:
    """Print ``data`` as JSON, and write it atomically to ``path`` when given."""
    from ..core.files import atomic_write
    from ..evaluation.metrics import json_number

    text = json.dumps(json_number(data), indent=2, allow_nan=False) + "\n"
    if path is not None:
        with atomic_write(path, overwrite=True) as tmp:
            Path(tmp).write_text(text, encoding="utf-8")
    click.echo(text, nl=False)


class _Progress:
    """A click progress bar on stderr that appears at the first update (so that an error found
    before any work is the only line printed); ``update(done)`` takes the absolute count."""

    def __init__(self, settings, label: str, length: int):
        self.hidden = getattr(settings, "quiet", False) or not length
        self.label, self.length, self.bar = label, length, None

    def update(self, done: int) -> None:
        if self.hidden:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=self.length, label=self.label, show_pos=True, show_eta=True,
                                         file=click.get_text_stream("stderr"))
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _say(settings, message: str) -> None:
    if not getattr(settings, "quiet", False):
        click.echo(message, err=True)


@click.group("evaluate")
def evaluate() -> None:
    """Measure stylizations: VGG content/style losses, SSIM, PSNR, video warping error."""


# --------------------------------------------------------------------------- score


@evaluate.command("score", short_help="Metrics of one stylized image (JSON).")
@click.option("-c", "--content", required=True, type=click.Path(path_type=Path), help="The content image.")
@click.option("-s", "--style", required=True, type=click.Path(path_type=Path), help="The style image.")
@click.option("--stylized", required=True, type=click.Path(path_type=Path), help="The stylized image to score.")
@click.option("--reference", type=click.Path(path_type=Path), default=None,
              help="A reference output of the same size (another backend or precision): adds PSNR.")
@click.option("--content-size", default=0, show_default=True, type=click.IntRange(min=0),
              help="Resize the content's short side to this first (0: its own size; 512 is stylize's default).")
@click.option("--style-size", default=0, show_default=True, type=click.IntRange(min=0),
              help="Resize the style's short side to this first (0: its own size).")
@click.option("--vgg", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="vgg_normalised.pth for the losses. Default: the public AdaIN weights.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
def score_cmd(content, style, stylized, reference, content_size, style_size, vgg, device, json_path):
    """The metrics of one stylized image, as JSON:
    {"metrics": {"content_loss": {"relu2_1", "relu3_1", "relu4_1"}, "style_loss", "style_loss_relu5_1",
    "gram_loss", "ssim", "psnr"}}; psnr is null without --reference."""
    from ..core.files import check_side_outputs
    from ..core.images import load_image
    from ..errors import ImageError

    check_side_outputs({"--json": json_path}, inputs=[content, style, stylized, reference, vgg])
    images = {"content": load_image(content, size=content_size), "style": load_image(style, size=style_size),
              "stylized": load_image(stylized)}
    ref = load_image(reference) if reference is not None else None
    c, o = images["content"], images["stylized"]
    if o.shape != c.shape:
        raise ImageError(f"is {o.shape[1]}x{o.shape[0]}, the content {content.name} is {c.shape[1]}x{c.shape[0]} "
                         "(content losses and SSIM compare them pixel for pixel)", path=stylized,
                         fix="pass --content-size N with the size the output was stylized at (stylize's default: 512)")
    if ref is not None and ref.shape != o.shape:
        raise ImageError(f"is {ref.shape[1]}x{ref.shape[0]}, the stylized image is {o.shape[1]}x{o.shape[0]}",
                         path=reference, fix="pass a reference output of the same content at the same size")
    from ..evaluation.metrics import MetricEncoder, score
    from ..models.stylize import resolve_device

    encoder = MetricEncoder(vgg, str(resolve_device(device)))
    _write_json({"metrics": score(encoder, c, images["style"], o, ref)}, json_path)


# --------------------------------------------------------------------------- run


def _split_label(value: str, option: str) -> tuple[str | None, str]:
    """``LABEL=VALUE`` -> (LABEL, VALUE); ``VALUE`` -> (None, VALUE)."""
    label, sep, rest = value.partition("=")
    if not sep:
        return None, value
    if not label.strip() or not rest.strip():
        raise click.BadParameter(f"{value!r}: expected LABEL=VALUE or VALUE", param_hint=option)
    if any(ch in label for ch in "/\\") or label.startswith("."):
        raise click.BadParameter(f"label {label!r} must not contain slashes or start with a dot", param_hint=option)
    return label.strip(), rest.strip()


@evaluate.command("run", short_help="Every pair x model x alpha: report.json/.md, grid, trade-off chart.")
@click.option("-c", "--content", "contents", multiple=True, required=True, metavar="PATH",
              help="Content image or folder (repeatable).")
@click.option("-s", "--style", "styles", multiple=True, required=True, metavar="PATH",
              help="Style image or folder (repeatable).")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Report folder: report.json, report.md, grid.jpg, tradeoff.png, images/.")
@click.option("--model", "models", multiple=True, metavar="[LABEL=]FAMILY", type=LabelledFamily(),
              help=f"PyTorch reference with the family's public or shipped weights: {_families_with_weights()} "
                   "(stylert weights list). Repeatable.")
@click.option("--checkpoint", "checkpoints", multiple=True, metavar="[LABEL=]FILE[,FILE...]",
              help="PyTorch reference from checkpoint file(s) of any known layout. Repeatable.")
@click.option("--engine", "engines", multiple=True, metavar="[LABEL=]DIR",
              help="An export directory (stylert export) through the runtime. Repeatable.")
@click.option("--backend", "backends", multiple=True, type=click.Choice(BACKENDS), metavar="BACKEND",
              help="Backend of the --engine models: once for all, or once per --engine in order "
                   "[default: onnxruntime]; auto as `stylize --engine`; openvino@f32 / openvino@bf16 pin "
                   "OpenVINO's inference precision.")
@click.option("--baseline", default=None, metavar="LABEL",
              help="The model others are compared with (ratios, PSNR). Default: the first --model, "
                   "else --checkpoint, else --engine.")
@click.option("--alpha", default="1", show_default=True, help="Alpha value(s), comma-separated, e.g. 0,0.5,1.")
@click.option("--content-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize the content's short side to this (0 keeps the size).")
@click.option("--style-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize the style's short side to this (0 keeps the size).")
@click.option("--crop", is_flag=True, help="Center-crop content and style to size x size after resizing.")
@click.option("--paired", is_flag=True,
              help="Content i with style i (sorted, as many of each) instead of every content x style.")
@click.option("--grid-rows", default=6, show_default=True, type=click.IntRange(min=1),
              help="Content/style pairs shown in grid.jpg.")
@click.option("--save-images/--no-save-images", default=True, show_default=True,
              help="Keep every stylized image under images/<model>/.")
@click.option("--vgg", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="vgg_normalised.pth for the losses. Default: the public AdaIN weights.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--overwrite", is_flag=True, help="Replace an existing report folder.")
@click.pass_obj
def run_cmd(settings, contents, styles, output, models, checkpoints, engines, backends, baseline, alpha,
            content_size, style_size, crop, paired, grid_rows, save_images, vgg, device, overwrite):
    """Stylize every content x style pair with each model at each alpha, and report the metrics.

    \b
    stylert evaluate run -c photos/ -s styles/ -o report/ --alpha 0,0.5,1
    stylert evaluate run -c photos/ -s styles/ -o report/ --engine fp32=exp32 --engine fp16=exp16
    stylert evaluate run -c photos/ -s styles/ -o report/ --model adain --checkpoint mine=run/final.pt
    stylert evaluate run -c holdout/content -s holdout/style --paired -o report/ \\
        --engine fp32=exports/adain --engine int8=exports/adain-int8
    """
    from ..core.images import collect_images
    from ..core.stylize import check_alpha
    from .numbers import parse_numbers

    alphas = parse_numbers(alpha, "--alpha", check_alpha)
    if any(not 0.0 <= a <= 1.0 for a in alphas):
        raise click.BadParameter(f"values must be in [0, 1], got {alpha}", param_hint="--alpha")
    if len(set(alphas)) != len(alphas):
        raise click.BadParameter(f"repeated value in {alpha}", param_hint="--alpha")
    if crop and (content_size == 0 or style_size == 0):
        raise click.BadParameter("--crop needs --content-size and --style-size above 0", param_hint="--crop")
    if backends and len(backends) not in (1, len(engines)):
        raise click.BadParameter(f"{len(backends)} backends for {len(engines)} engines: give one for all, "
                                 "or one per --engine", param_hint="--backend")
    content_paths = collect_images(contents)
    style_paths = collect_images(styles)
    from ..core.files import check_output_dir
    from ..evaluation.report import is_report_dir

    check_output_dir(output, overwrite=overwrite, kind="report", what="evaluation report", owned=is_report_dir,
                     inputs=[*content_paths, *style_paths])
    if paired and len(content_paths) != len(style_paths):
        raise click.BadParameter(f"--paired needs as many contents as styles, got {len(content_paths)} content and "
                                 f"{len(style_paths)} style image(s)", param_hint="--paired")

    specs = []  # (label, kind, args)
    for value in models or (() if checkpoints or engines else (DEFAULT_FAMILY,)):
        label, family = _split_label(value, "--model")
        specs.append((label or family, "reference", (family, ())))
    for value in checkpoints:
        label, files = _split_label(value, "--checkpoint")
        paths = tuple(f.strip() for f in files.split(",") if f.strip())
        specs.append((label or Path(paths[0]).stem, "reference", (None, paths)))
    for i, value in enumerate(engines):
        label, folder = _split_label(value, "--engine")
        backend = (backends[i] if len(backends) > 1 else backends[0]) if backends else "onnxruntime"
        specs.append((label or Path(folder).name, "engine", (folder, backend)))
    labels = [s[0] for s in specs]
    if len(set(labels)) != len(labels):
        raise click.BadParameter(f"two models are labelled alike ({', '.join(labels)}): name them LABEL=...",
                                 param_hint="--model/--checkpoint/--engine")
    if baseline is not None:
        if baseline not in labels:
            raise click.BadParameter(f"{baseline!r} is not one of the models ({', '.join(labels)})",
                                     param_hint="--baseline")
        specs.sort(key=lambda s: s[0] != baseline)

    from ..evaluation.metrics import MetricEncoder
    from ..evaluation.report import Inputs, engine_entry, reference_entry, run_evaluation
    from ..models.stylize import resolve_device

    entries = []
    for label, kind, args in specs:
        if kind == "reference":
            entries.append(reference_entry(label, args[0], args[1], device))
        else:
            entries.append(engine_entry(label, args[0], args[1], device))
        info = entries[-1].info
        _say(settings, f"model {label}: {info['family']} "
                       + (f"export ({info['precision']}) on {info['backend']} {info['device']} "
                          f"({info['runs_in']})" if kind == "engine"
                          else f"PyTorch reference ({info['layout']}) on {info['device']}"))
    encoder = MetricEncoder(vgg, str(resolve_device(device)))
    inputs = Inputs(content_paths, style_paths, alphas, content_size, style_size, crop, paired)
    total = len(inputs.pairs()) * len(alphas) * len(entries)
    _say(settings, f"{len(inputs.pairs())} content/style pair(s) x {len(alphas)} alpha x "
                   f"{len(entries)} model(s) = {total} stylizations")
    with _Progress(settings, "evaluating", total) as bar:
        report = run_evaluation(entries, inputs, output, encoder, overwrite=overwrite, save_images=save_images,
                                grid_rows=grid_rows, progress=lambda done, _total: bar.update(done))
    for m in report["means"]:
        x = m["metrics"]
        psnr = "" if x["psnr"] is None else f"  psnr {x['psnr']:.2f} dB (worst pair {x['psnr_min']:.2f})"
        click.echo(f"{m['model']:>12s} alpha {m['alpha']:<4g} content relu4_1 {x['content_loss']['relu4_1']:.4g}  "
                   f"style {x['style_loss']:.4g}  gram {x['gram_loss']:.4g}  ssim {x['ssim']:.3f}{psnr}")
    click.echo(str(output / "report.md"))


# --------------------------------------------------------------------------- video


@evaluate.command("video", short_help="Warping error of a stylized video against its input (JSON).")
@click.option("--input", "input_path", required=True, type=click.Path(path_type=Path), help="The input video.")
@click.option("--stylized", required=True, type=click.Path(path_type=Path),
              help="The stylized video made from it (same frames, same size).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
@click.pass_obj
def video_cmd(settings, input_path, stylized, json_path):
    """Warping error (Lai et al. 2018) of a stylized video against its input, and the input's own:
    {"metrics": {"warping_error", "input_warping_error"}, "frames", "pairs", ...}."""
    from ..core.files import check_side_outputs
    from ..evaluation.warping import video_warping_error
    from ..runtime.video import probe

    check_side_outputs({"--json": json_path}, inputs=[input_path, stylized])
    frames = probe(input_path).frames  # 0 when the container does not say: no bar then
    with _Progress(settings, "frames", frames) as bar:
        result = video_warping_error(input_path, stylized, bar.update)
    _write_json(result.as_json(), json_path)
