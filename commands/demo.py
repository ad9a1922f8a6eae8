"""``stylert demo``: the main job on an embedded default, with no input files at all.

Generates the demo content and style (``stylert.core.demo``), makes sure the public AdaIN
weights are present (downloading and verifying them if not), stylizes at several alphas and
with colour preservation, and writes the outputs and a labelled grid.
"""

from __future__ import annotations

from pathlib import Path

import click


@click.command("demo")
@click.option("-o", "--output", default="demo-output", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the demo inputs, outputs and grid.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--size", default=384, show_default=True, type=click.IntRange(min=64, max=2048),
              help="Short side of the demo images.")
@click.option("--no-fetch", is_flag=True, help="Fail instead of downloading missing weights.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier demo run.")
@click.pass_obj
def demo(settings, output, device, size, no_fetch, overwrite):
    """Stylize the built-in demo scene with the built-in demo painting (real AdaIN weights)."""
    from ..core import weights as W
    from ..core.demo import demo_content, demo_style
    from ..core.grid import make_grid
    from ..core.images import check_outputs, save_image
    from ..errors import WeightsError

    names = ["demo_content.png", "demo_style.png", "demo_stylized.png", "demo_grid.png"]
    check_outputs([output / n for n in names], overwrite=overwrite)

    try:
        paths = [W.find_weight("adain", f) for f in ("vgg_normalised.pth", "decoder.pth")]
    except WeightsError:
        if no_fetch:
            raise
        click.echo("the public AdaIN weights are not here yet: fetching them (stylert weights fetch)", err=True)
        fetched = W.fetch("adain", progress=W.stderr_progress())
        paths = [fetched["vgg_normalised.pth"], fetched["decoder.pth"]]

    import numpy as np

    from ..models.pretrained import load_public_adain
    from ..models.stylize import ReferenceStylizer, StylizeOptions

    content = np.asarray(demo_content((size * 4 // 3, size)), np.float32) / 255.0
    style = np.asarray(demo_style((size, size)), np.float32) / 255.0
    runner = ReferenceStylizer(load_public_adain(paths), device)
    if not settings.quiet:
        click.echo(f"stylizing the demo on {runner.device}", err=True)
    results, labels = [], []
    variants = [(a, None) for a in (0.25, 0.5, 0.75, 1.0)] + [(1.0, "match"), (1.0, "luminance")]
    with click.progressbar(variants, label="demo", file=click.get_text_stream("stderr"), hidden=settings.quiet) as bar:
        for alpha, mode in bar:
            out = runner.stylize(content, [style], StylizeOptions(alpha=alpha, preserve_color=mode), style_keys=["demo"])
            results.append(out)
            labels.append(f"alpha {alpha}" + (f", preserve-color {mode}" if mode else ""))
    grid = make_grid([content, style, *results], ["content", "style", *labels], columns=4)
    for name, image in zip(names, [content, style, results[3], grid]):
        save_image(image, output / name, overwrite=overwrite)
        click.echo(str(output / name))
