"""``stylert stylize``: every content x style pair, or styles interpolated / masked, written atomically."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import click

from ..core.temporal import DEFAULT_BLEND, DEFAULT_STRENGTH, MAX_BLEND, MAX_STRENGTH, check_blend, check_strength
from ..errors import OutputError
from ..models.family import family_help
from ..runtime.backends import BACKENDS
from .choices import FamilyChoice
from .numbers import Number, parse_numbers


@dataclass(frozen=True)
class Job:
    """One output image: a content and the styles it combines."""

    content: Path
    styles: tuple[Path, ...]
    output: Path


def plan_jobs(contents, styles, output: Path, ext: str, combine: bool) -> list[Job]:
    """All content x style pairs, or (``combine``) each content with all styles at once.

    ``output`` with an image extension names the single output file; otherwise it is a folder
    and outputs are ``<content>_stylized_<style>[+<style>...]<ext>`` (pytorch-AdaIN's naming).
    """
    from ..runtime.video import VIDEO_EXTENSIONS, is_video, output_extension

    groups = [tuple(styles)] if combine else [(s,) for s in styles]
    single_file = output.suffix.lower() in (*_image_exts(), *VIDEO_EXTENSIONS)
    if not single_file and not output.is_dir() and (_is_media_extension(output.suffix) or _is_file_type(output.suffix)):
        raise OutputError(f"names a {output.suffix} file, a kind stylert does not write", path=output,
                          fix=f"use an image ({' '.join(_image_exts())}) or video ({' '.join(VIDEO_EXTENSIONS)}) "
                          "extension, or a folder name without one")
    n = len(contents) * len(groups)
    if single_file and n != 1:
        raise OutputError(f"names one file, but {n} outputs would be written", path=output,
                          fix="give a folder to -o, or one content and one style")
    if single_file and is_video(contents[0]) != is_video(output):
        kind = "a video" if is_video(contents[0]) else "an image"
        raise OutputError(f"the content is {kind}, so the output must be too", path=output,
                          fix="use an output extension of the content's kind")
    jobs = []
    for c in contents:
        for g in groups:
            out_ext = output_extension(c) if is_video(c) else ext
            name = f"{c.stem}_stylized_{'+'.join(s.stem for s in g)}{out_ext}"
            jobs.append(Job(c, g, output if single_file else output / name))
    return jobs


def _is_media_extension(suffix: str) -> bool:
    """An extension of an image (any Pillow reads) or a video/animation container: never a folder name."""
    from PIL import Image

    from ..runtime.video import VIDEO_EXTENSIONS

    suffix = suffix.lower()
    return bool(suffix) and (suffix in Image.registered_extensions() or suffix in VIDEO_EXTENSIONS or suffix in (
        ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".mpg", ".mpeg", ".flv", ".wmv", ".ogv", ".vob", ".apng", ".avif",
        ".heic", ".heif"))


#: Extensions of documents, data and model files: a file's name, never a new folder's (``out.v2`` or
#: ``styles.d`` stay folders).
FILE_TYPE_EXTENSIONS = (".txt", ".json", ".csv", ".md", ".html", ".xml", ".yaml", ".yml", ".log", ".pdf", ".zip",
                        ".tar", ".gz", ".npz", ".npy", ".pt", ".pth", ".onnx", ".safetensors")


def _is_file_type(suffix: str) -> bool:
    return suffix.lower() in FILE_TYPE_EXTENSIONS


def _image_exts():
    from ..core.images import SUPPORTED_OUTPUT_EXTENSIONS

    return SUPPORTED_OUTPUT_EXTENSIONS


@click.command("stylize")
@click.option("-c", "--content", "contents", multiple=True, required=True, metavar="PATH",
              help="Content image or folder (repeatable).")
@click.option("-s", "--style", "styles", multiple=True, required=True, metavar="PATH",
              help="Style image, folder, or style code from `stylert style encode` (repeatable).")
@click.option("-o", "--output", default="output", show_default=True, type=click.Path(path_type=Path),
              help="Output folder, or an image file when there is a single output.")
@click.option("--engine", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Run an export directory (stylert export -o DIR) instead of the PyTorch reference.")
@click.option("--backend", default="auto", show_default=True,
              type=click.Choice(("auto", *BACKENDS)), help="Backend for --engine. auto: the fastest installed backend "
              "and precision that passes its accuracy floors on this machine (openvino bf16 on CPUs with AVX-512 "
              "BF16 or AMX, else onnxruntime; `stylert doctor` says which).")
@click.option("--precision", "engine_precision", type=click.Choice(["auto", "bf16", "f32"]), default=None,
              help="--engine on --backend openvino (or auto): inference precision (default auto: bf16 where the CPU "
              "supports it, else f32).")
@click.option("--server", default=None, metavar="URL",
              help="Send each image to the stylize model of a Triton server (http://HOST:PORT or grpc://HOST:PORT).")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1),
              help="Video frames per pass (--engine).")
@click.option("--temporal-smoothing", type=Number(0, MAX_STRENGTH, check=check_strength), default=None, metavar="S",
              help="Video: smooth the AdaIN content statistics over frames with strength S "
              f"(0 = off; default {DEFAULT_STRENGTH} for the AdaIN families, no-op for the attention families).")
@click.option("--temporal-blend", type=Number(0, MAX_BLEND, check=check_blend), default=None, metavar="W",
              help="Video: blend each output frame with the previous output warped by the input's optical flow, "
              f"weight W (0 = off; default {DEFAULT_BLEND}; every family; needs opencv-python-headless).")
@click.option("--temporal-blend-space", type=click.Choice(["image", "feature"]), default=None,
              help="Video: blend the output frames (image, default) or the decoder's inputs before the decoder "
              "renders them (feature).")
@click.option("--model", "family", default=None, metavar="FAMILY", type=FamilyChoice(),
              help=f"Model family: {family_help()}.")
@click.option("--checkpoint", "checkpoints", multiple=True, type=click.Path(), metavar="FILE",
              help="Checkpoint file(s) of any known layout (repeatable). Default: the public AdaIN weights, or the "
              "shipped weights of --model (stylert weights list).")
@click.option("--alpha", default="1.0", show_default=True,
              help="Stylization strength in [0, 1]; one value per level for multi-level models, e.g. 0.6,0.8,1.")
@click.option("--weights", "weights", default=None, metavar="W1,W2,...",
              help="Interpolate all styles with these weights into one output per content.")
@click.option("--mask", type=click.Path(path_type=Path), default=None,
              help="Spatial control: white = first style, black = second style.")
@click.option("--preserve-color", type=click.Choice(["match", "luminance"]), is_flag=False, flag_value="match",
              default=None, help="Keep the content's colours: 'match' (default) recolours the style; "
              "'luminance' stylizes luminance only.")
@click.option("--content-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize the content's short side to this (0 keeps the size). Images only: video frames "
                   "are stylized at the video's own size.")
@click.option("--style-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize the style's short side to this (0 keeps the size).")
@click.option("--crop", is_flag=True, help="Center-crop content and style to size x size after resizing.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--ext", default=".png", show_default=True, help="Output extension when -o is a folder.")
@click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
@click.option("--max-pixels", type=click.IntRange(min=1), default=None,
              help="Refuse larger inputs (decompression bombs), before and after resizing. "
                   "Default 40 MP or STYLERT_MAX_PIXELS.")
@click.option("--memory-check/--no-memory-check", default=True, show_default=True,
              help="Refuse, before any compute, work whose estimated memory exceeds what is free.")
@click.pass_obj
def stylize(settings, contents, styles, output, engine, server, backend, engine_precision, batch_size, temporal_smoothing,
            temporal_blend, temporal_blend_space, family,
            checkpoints, alpha, weights, mask, preserve_color, content_size, style_size, crop, device, ext, overwrite,
            max_pixels, memory_check):
    """Stylize every content with every style (or with all styles at once, given --weights or --mask).

    \b
    stylert stylize -c photo.jpg -s starry.jpg -o out.png
    stylert stylize -c photos/ -s styles/ -o out/ --alpha 0.8
    stylert stylize -c photo.jpg -s a.jpg -s b.jpg --weights 1,3
    stylert stylize -c photo.jpg -s a.jpg -s b.jpg --mask mask.png
    stylert stylize -c clip.mp4 -s a.jpg -o styled.mp4 --engine export/adain
    stylert stylize -c photo.jpg -s starry.jpg -o out.png --server http://127.0.0.1:8000
    """
    from ..core.images import check_outputs, collect_images, load_image, load_mask
    from ..core.stylize import check_alpha, check_weights
    from ..runtime.video import is_video, probe

    alphas = parse_numbers(alpha, "--alpha", check_alpha)
    interp = parse_numbers(weights, "--weights", check_weights)
    if not ext.startswith("."):
        ext = "." + ext
    if ext.lower() not in _image_exts():
        raise click.BadParameter(f"{ext} is not one of {', '.join(_image_exts())}", param_hint="--ext")
    if crop and (content_size == 0 or style_size == 0):
        raise click.BadParameter("--crop needs --content-size and --style-size above 0", param_hint="--crop")

    content_paths = collect_images(contents)
    style_paths = collect_images(styles)
    limit = {"max_pixels": max_pixels, "limit_option": "--max-pixels"}  # the pixel limit, and how to raise it
    if interp is not None and len(interp) != len(style_paths):
        raise click.BadParameter(f"{len(interp)} weights for {len(style_paths)} style(s)",
                                 param_hint="--weights")
    combine = interp is not None or mask is not None
    jobs = plan_jobs(content_paths, style_paths, output, ext, combine)
    check_outputs([j.output for j in jobs], overwrite=overwrite,
                  inputs=[*content_paths, *style_paths, *([mask] if mask else [])])

    def say(msg):
        if not settings.quiet:
            click.echo(msg, err=True)

    # Read every input before writing anything: a broken file stops the run with no output.
    say(f"checking {len(content_paths)} content and {len(style_paths)} style image(s)")
    content_hw = {}  # the size each content is stylized at (after resizing)
    for p in content_paths:
        if is_video(p):
            if mask is not None:
                raise click.BadParameter("masks apply to images, not videos", param_hint="--mask")
            info = probe(p)
            if temporal_blend is None or temporal_blend > 0:
                from ..core.flow import cv2_module

                cv2_module()  # blending needs OpenCV: said before anything is stylized
            content_hw[p] = (info.height, info.width)
        else:
            content_hw[p] = load_image(p, size=content_size, crop=crop, **limit).shape[:2]
    if server is not None and (engine is not None or family or checkpoints):
        raise click.BadParameter("--server runs on the server's model: not with --engine/--model/--checkpoint",
                                 param_hint="--server")
    if server is not None and temporal_blend_space == "feature":
        raise click.BadParameter("the server runs its model whole: its decoder's inputs cannot be blended "
                                 "(--temporal-blend-space image, or --engine DIR)", param_hint="--temporal-blend-space")
    if server is not None and combine:
        raise click.BadParameter("the server's stylize model takes one style image per output: not with "
                                 "--weights/--mask (run them with --engine DIR)", param_hint="--server")
    if engine is not None and (family or checkpoints):
        raise click.BadParameter("--engine runs an export; --model/--checkpoint choose a PyTorch model: not both",
                                 param_hint="--engine")
    style_images = {}
    for p in style_paths:
        if p.suffix.lower() == ".npz":
            if engine is None:
                raise click.BadParameter(f"{p} is a style code: codes run on an export, pass --engine DIR",
                                         param_hint="--style")
            from ..runtime.codes import StyleCode

            style_images[p] = StyleCode.load(p)
        else:
            style_images[p] = load_image(p, size=style_size, crop=crop, **limit)
    if mask is not None:
        load_mask(mask, height=8, width=8, **limit)

    import numpy as np

    from ..core.images import save_image
    from ..core.stylize import StylizeOptions, check_options

    if server is not None:
        from ..serving.client import open_server_stylizer

        runner = open_server_stylizer(server, say)
    else:
        runner = _open_stylizer(engine, backend, device, family, checkpoints, say, engine_precision)
    # The stylize contract, once before anything is stylized or written: the rules every call applies.
    check_options(StylizeOptions(alpha=alphas if len(alphas) > 1 else alphas[0], weights=interp,
                                 mask=None if mask is None else np.zeros((1, 1), np.float32),
                                 temporal_smoothing=temporal_smoothing or 0.0),
                  len(style_paths) if combine else 1, runner.alpha_levels, family=runner.family)
    if temporal_smoothing and not runner.smooths_statistics:
        say(f"{runner.family} has no content statistics to smooth: --temporal-smoothing does nothing for it "
            f"(frames are stylized independently)")
    for p, style in style_images.items():
        if runner.is_code(style):
            style.check_for(runner.pipeline.family, runner.pipeline.encoder_sha256, p)
    if memory_check:
        _check_memory(runner, jobs, content_hw, style_images, content_size, batch_size)
    written = []
    with click.progressbar(jobs, label="stylizing", file=click.get_text_stream("stderr"),
                           show_pos=True, hidden=settings.quiet) as bar:
        for job in bar:
            styles_for_job = [style_images[s] for s in job.styles]
            options = StylizeOptions(alpha=alphas if len(alphas) > 1 else alphas[0], weights=interp,
                                     preserve_color=preserve_color)
            if is_video(job.content):
                _stylize_video(runner, job, styles_for_job, options, overwrite, settings.quiet, batch_size,
                               temporal_smoothing, temporal_blend, temporal_blend_space)
            else:
                content = load_image(job.content, size=content_size, crop=crop, **limit)
                if mask is not None:
                    m = load_mask(mask, height=content.shape[0], width=content.shape[1])
                    options = dataclasses.replace(options, mask=m)
                result = runner.stylize(content, styles_for_job, options, style_keys=list(job.styles))
                save_image(result, job.output, overwrite=overwrite)
            written.append(job.output)
    for path in written:
        click.echo(str(path))


def _check_memory(runner, jobs, content_hw, style_images, content_size, batch_size) -> None:
    """Every job's estimated memory (``stylert.core.budget``) against what this process may allocate,
    before anything is stylized: one line with the size, the estimate, what is free, the largest size
    that fits, and the flag to force."""
    from ..core.budget import check_fits
    from ..runtime.stylizer import RuntimeStylizer
    from ..runtime.video import is_video

    if runner.footprint is None:  # the work runs elsewhere (a server): nothing to estimate here
        return
    for job in jobs:
        hw = content_hw[job.content]
        sizes = [style_images[s].shape[:2] for s in job.styles if not runner.is_code(style_images[s])]
        style_hw = max(sizes, key=lambda x: x[0] * x[1]) if sizes else None
        video = is_video(job.content)
        batch = batch_size if video and isinstance(runner, RuntimeStylizer) else 1
        what = "frames of " if video else (f"after --content-size {content_size}, " if content_size else "")
        check_fits(runner.footprint, hw, style_hw, what=what, path=job.content, batch=batch,
                   size_option=None if video else "--content-size")


def _open_stylizer(engine, backend, device, family, checkpoints, say, precision=None):
    """The runtime on an export directory (``--engine``), or the PyTorch reference model."""
    if engine is not None:
        from ..runtime.pipeline import Pipeline
        from ..runtime.stylizer import RuntimeStylizer

        pipeline = Pipeline.open(engine, backend, device, notice=say, precision=precision).activate()
        if pipeline.choice is not None:
            say(f"export {pipeline.family} ({pipeline.manifest.precision}) on {pipeline.choice} [--backend auto]")
        else:
            say(f"export {pipeline.family} ({pipeline.manifest.precision}) on {pipeline.backend} {pipeline.device}"
                + (f", {pipeline.precision}" if pipeline.precision != pipeline.manifest.precision else ""))
        return RuntimeStylizer(pipeline)
    from ..models.pretrained import load_reference_model
    from ..models.stylize import ReferenceStylizer, resolve_device

    device = resolve_device(device, say)  # before loading: an explicit cuda without CUDA stops here
    model = load_reference_model(family, checkpoints)
    runner = ReferenceStylizer(model, device)
    say(f"model {model.family} ({model.checkpoint_info['layout']}) on torch {runner.device} (PyTorch reference)")
    return runner


def _stylize_video(runner, job: Job, styles, options, overwrite: bool, quiet: bool, batch_size: int,
                   smoothing: float | None, blend: float | None = None, space: str | None = None) -> None:
    """Every frame at the video's own size, the style encoded once; progress in frames/s and ETA.

    Decoding, stylizing and encoding overlap (``stylert.runtime.video.stream_video``). The runtime
    stylizes ``batch_size`` frames per pass (``Pipeline.stream``); the reference, and colour
    preservation (which depends on each frame), one frame at a time. ``smoothing``: the temporal
    smoothing strength, None for the default of the family (``stylert.core.temporal``). ``blend``: the
    flow-guided blend weight, None for the default (``DEFAULT_BLEND``), the same on both paths
    (``stylert.core.temporal.FlowBlend``; a statistics cut restarts it too). ``space``: where it blends,
    ``image`` or ``feature`` (``FeatureBlend``, the decoder's inputs), None for ``DEFAULT_BLEND_SPACE``.
    """
    from ..core.images import to_uint8
    from ..core.temporal import (
        DEFAULT_BLEND,
        DEFAULT_BLEND_SPACE,
        DEFAULT_STRENGTH,
        FeatureBlend,
        make_blender,
    )
    from ..runtime.stream import Prefetcher, Progress
    from ..runtime.stylizer import RuntimeStylizer
    from ..runtime.video import probe, stream_video

    info = probe(job.content)
    if smoothing is None:
        smoothing = DEFAULT_STRENGTH if runner.smooths_statistics else 0.0
    if blend is None:
        blend = DEFAULT_BLEND
    if space is None:
        space = DEFAULT_BLEND_SPACE
    options = dataclasses.replace(options, temporal_smoothing=smoothing)
    keys = list(job.styles)
    meter = Progress(info.frames)

    def progress(done):
        if not quiet:
            click.echo(f"\r  {job.content.name}: {meter.update(done)}", err=True, nl=False)

    def notice(msg):
        if not quiet:
            click.echo(msg, err=True)

    if isinstance(runner, RuntimeStylizer) and options.preserve_color is None:
        codes = [runner.style_code(s, k) for s, k in zip(styles, keys)]

        def process(frames):
            return runner.pipeline.stream(frames, codes, alpha=options.alpha, weights=options.weights,
                                          temporal_smoothing=smoothing, temporal_blend=blend,
                                          temporal_blend_space=space, batch_size=batch_size)
    else:
        temporal = runner.temporal_state(options)
        blender = make_blender(blend, space)
        features = isinstance(blender, FeatureBlend)

        def statistics_cut():  # the frame just smoothed started a new shot
            return temporal is not None and temporal.cuts[-1] == temporal.frames - 1

        def process(frames):
            source = Prefetcher(frames, 1)
            try:
                for batch, _ in source:
                    frame = to_uint8(batch[0])
                    hook = None
                    if features:
                        def hook(inputs, padded, frame=frame):
                            return blender.update_batch([frame], inputs, padded, {0} if statistics_cut() else ())
                    out = runner.stylize(batch[0], styles, options, style_keys=keys, temporal=temporal,
                                         decoder_hook=hook)
                    if blender is not None and not features:
                        out = blender.update(frame, out, cut=statistics_cut())
                    yield to_uint8(out)
            finally:
                source.close()

    stream_video(job.content, job.output, process, overwrite=overwrite, progress=progress, notice=notice)
    if not quiet:
        click.echo("", err=True)
