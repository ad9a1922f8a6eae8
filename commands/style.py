"""``stylert style encode``: style images -> style code files for an export directory."""

from __future__ import annotations

from pathlib import Path

import click

from ..runtime.backends import BACKENDS


@click.group("style")
def style():
    """Style codes: what the transform needs of a style, computed once (a few KB for AdaIN)."""


@style.command("encode")
@click.argument("styles", nargs=-1, required=True)
@click.option("--engine", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="Export directory (stylert export -o DIR) whose encoder computes the code.")
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Code file (.npz) for one style, or a folder for several.")
@click.option("--backend", default="onnxruntime", show_default=True, type=click.Choice(BACKENDS))
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--style-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize the style's short side to this first (0 keeps the size), as `stylize` does.")
@click.option("--crop", is_flag=True, help="Center-crop to size x size after resizing.")
@click.option("--overwrite", is_flag=True, help="Replace existing code files.")
@click.pass_obj
def encode(settings, styles, engine, output, backend, device, style_size, crop, overwrite):
    """Encode STYLES (images or folders) into style codes tied to the export's encoder."""
    from ..core.images import check_outputs, collect_images, load_image
    from ..runtime.pipeline import Pipeline

    paths = collect_images(styles)
    single = output.suffix.lower() == ".npz"
    if single and len(paths) != 1:
        raise click.BadParameter(f"{output} names one code file, but {len(paths)} styles were given", param_hint="-o")
    targets = [output] if single else [output / f"{p.stem}.npz" for p in paths]
    check_outputs(targets, overwrite=overwrite, inputs=paths)
    images = [load_image(p, size=style_size, crop=crop) for p in paths]  # every input read before any write
    with Pipeline.open(engine, backend, device, notice=lambda m: click.echo(m, err=True)) as pipeline:
        for path, image, target in zip(paths, images, targets):
            code = pipeline.encode_style(image, source=path.name)
            code.meta.update({"style_size": style_size, "crop": crop})
            code.save(target, overwrite=overwrite)
            size = target.stat().st_size  # the file written (arrays, metadata, container), not the arrays alone
            click.echo(f"{target}  ({size / 1024:.1f} KB: {', '.join(sorted(code.arrays))})")
