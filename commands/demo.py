"""``stylert demo``: the deployment pipeline end to end on an embedded default, with no input files.

1. generates the demo content and style (``stylert.core.demo``) and makes sure the public AdaIN
   weights are present (downloading and verifying them if not: ``stylert weights fetch``);
2. exports ``--model`` (default ``adain``) to the three ONNX graphs, validated against PyTorch at
   the demo's size (``stylert.export.exporter.export_model``), into OUTPUT/export-MODEL;
3. stylizes the demo through the runtime on ONNX Runtime (``stylert.runtime``, no model code) and
   prints its parity with the PyTorch reference (``stylert.core.checks``: max |difference|, the
   tolerance, PSNR) and its latency (median and p90 of the content path, the style encoded once);
4. stylizes the same pair with every family that has weights (the public AdaIN pair, the shipped
   ``adain-multilevel``, ``sanet``, ``sanet-multilevel``) on the PyTorch reference, and writes a
   grid of them side by side (the paper's Figure 9, with the demo images) above the runtime's
   alpha sweep and colour preservation.

Outputs: demo_content.png, demo_style.png, demo_stylized.png (the runtime at alpha 1),
demo_grid.png and the export folder. Nothing is written before every planned output is checked
(``--overwrite`` to replace an earlier run).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..models.family import DEFAULT_FAMILY
from .choices import FamilyChoice
#: The runtime's row of the grid: (alpha, preserve_color).
VARIANTS = [(a, None) for a in (0.25, 0.5, 0.75, 1.0)] + [(1.0, "match"), (1.0, "luminance")]
LATENCY_RUNS = 5


@click.command("demo")
@click.option("-o", "--output", default="demo-output", show_default=True, type=click.Path(path_type=Path),
              help="Folder for the demo inputs, outputs, grid and export.")
@click.option("--model", "family", default=DEFAULT_FAMILY, show_default=True, type=FamilyChoice(),
              help="The model exported and run through the runtime.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cpu", "cuda"]),
              help="Device of the PyTorch reference (the runtime runs ONNX Runtime's CPU or CUDA provider).")
@click.option("--size", default=384, show_default=True, type=click.IntRange(min=64, max=2048),
              help="Short side of the demo images (the content is SIZE x 4/3 SIZE).")
@click.option("--no-fetch", is_flag=True, help="Fail instead of downloading missing weights.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier demo run.")
@click.pass_obj
def demo(settings, output, family, device, size, no_fetch, overwrite):
    """Export a model, run the demo through the runtime (parity and latency printed), and grid all four families."""
    from ..core import weights as W
    from ..core.demo import demo_content, demo_style
    from ..core.images import check_outputs, padded_size, save_image
    from ..errors import OutputError, WeightsError

    from ..core.files import check_output_path, marker_kind, write_marker
    from ..export.exporter import _is_export_dir

    names = ["demo_content.png", "demo_style.png", "demo_stylized.png", "demo_grid.png"]
    export_dir = output / f"export-{family}"
    check_output_path(output, "--output")
    if output.exists() and not output.is_dir():
        raise OutputError("exists and is a file, not a folder", path=output,
                          fix="give --output a folder name (the file is left alone)")
    check_outputs([output / n for n in names], overwrite=overwrite)
    if export_dir.exists() and not overwrite:
        raise OutputError(f"{export_dir} exists", fix="pass --overwrite to replace it, or choose another --output")
    earlier = [p for p in [*(output / n for n in names), export_dir] if p.exists()]
    if earlier and marker_kind(output) != "demo" and not _is_export_dir(export_dir):
        raise OutputError(f"is not a stylert demo run ({earlier[0].name} is not ours): --overwrite replaces only what stylert "
                          "wrote", path=output, fix="give --output a new or empty folder (the files in it are left alone)")
    say = (lambda *a, **k: None) if settings.quiet else (lambda msg: click.echo(msg, err=True))

    try:
        for f in ("vgg_normalised.pth", "decoder.pth"):
            W.find_weight("adain", f)
    except WeightsError:
        if no_fetch:
            raise
        say("the public AdaIN weights are not here yet: fetching them (stylert weights fetch)")
        W.fetch("adain", progress=W.stderr_progress())

    import numpy as np

    from ..benchmarks.harness import measure
    from ..core.checks import MIN_PSNR_DB, TOLERANCES, check, format_checks
    from ..core.grid import make_grid
    from ..errors import ModelError
    from ..export.exporter import export_model
    from ..models.pretrained import load_reference_model
    from ..models.registry import list_families
    from ..models.stylize import ReferenceStylizer, StylizeOptions
    from ..runtime.pipeline import Pipeline
    from ..runtime.stylizer import RuntimeStylizer

    content = np.asarray(demo_content((size * 4 // 3, size)), np.float32) / 255.0
    style = np.asarray(demo_style((size, size)), np.float32) / 255.0
    h, w = content.shape[:2]

    # 1. Export, validated at the size the runtime pads the demo to.
    model = load_reference_model(family)
    vh, vw = padded_size(h, w, model.size_multiple, model.min_size)
    start = time.perf_counter()
    say(f"exporting {family} to {export_dir} (three graphs, validated against PyTorch at {vh}x{vw}) ...")
    export = export_model(model, export_dir, sizes=[(vh, vw)], overwrite=overwrite)
    report = export.report
    say(f"export: {time.perf_counter() - start:.1f} s; validation: {report.summary()}")

    # 2. The runtime on ONNX Runtime: the alpha sweep and colour preservation, parity, latency.
    reference = ReferenceStylizer(model, device)
    pipeline = Pipeline.open(export_dir, "onnxruntime", "auto").activate()
    runtime = RuntimeStylizer(pipeline)
    provider = f"ONNX Runtime {pipeline.device}"
    results, labels = [], []
    with click.progressbar(VARIANTS, label=f"runtime ({provider})", file=click.get_text_stream("stderr"),
                           hidden=settings.quiet) as bar:
        for alpha, mode in bar:
            results.append(runtime.stylize(content, [style], StylizeOptions(alpha=alpha, preserve_color=mode),
                                           style_keys=["demo"]))
            labels.append(f"runtime, alpha {alpha}" + (f", {mode}" if mode else ""))
    stylized = results[VARIANTS.index((1.0, None))]
    # The reference is not clamped; what the runtime returns (and every image written) is.
    want = np.clip(reference.stylize(content, [style], StylizeOptions(alpha=1.0), style_keys=["demo"]), 0.0, 1.0)
    parity = check("end-to-end", "image", f"{h}x{w}, alpha 1", stylized, want, TOLERANCES["fp32"]["end_to_end"],
                   min_psnr=MIN_PSNR_DB["fp32"], image=True, backend=provider)
    code = runtime.style_code(style, "demo")
    latency = measure(lambda: pipeline.stylize(content, [code]), warmup_s=0.0, min_duration_s=0.0,
                      min_iterations=LATENCY_RUNS, max_iterations=LATENCY_RUNS).summary
    pipeline.deactivate()

    # 3. Every family with weights on the same pair (PyTorch reference).
    tiles, tile_labels, missing = [content, style], ["content", "style"], []
    for name in list_families():  # every registered family, in name order (the paper's order, Figure 9)
        if name == family:
            tiles.append(want)
        else:
            try:
                other = ReferenceStylizer(load_reference_model(name), device)
            except ModelError as exc:
                missing.append(f"{name} ({exc.message})")
                continue
            say(f"stylizing with {name} (PyTorch reference) ...")
            tiles.append(np.clip(other.stylize(content, [style], StylizeOptions(alpha=1.0)), 0.0, 1.0))
        tile_labels.append(f"{name}, alpha 1")
    columns = max(len(tiles), len(VARIANTS))
    row1 = tiles + [np.ones_like(content)] * (columns - len(tiles))
    labels1 = tile_labels + [""] * (columns - len(tiles))
    grid = make_grid(row1 + results, labels1 + labels, columns=columns, pack=True)

    write_marker(output, "demo")
    for name, image in zip(names, [content, style, stylized, grid]):
        save_image(image, output / name, overwrite=overwrite)
        click.echo(str(output / name))
    click.echo(str(export_dir))
    if not settings.quiet:
        click.echo(f"parity, runtime vs the PyTorch reference ({family}, fp32 export, {h}x{w}, alpha 1): "
                   f"tolerance |runtime - reference| <= {parity.allowed:.2e}", err=True)
        click.echo(format_checks([parity]), err=True)
        click.echo(f"latency, content path on {provider} at {h}x{w} (style encoded once), {latency.count} runs: "
                   f"median {latency.median:.1f} ms, p90 {latency.p90:.1f} ms, min {latency.min:.1f} ms", err=True)
        for line in missing:
            click.echo(f"not in the grid: {line}", err=True)
    if not parity.ok:
        raise ModelError(f"the runtime's output differs from the PyTorch reference beyond the tolerance "
                         f"(max {parity.max_abs:.2e} > {parity.allowed:.2e})",
                         fix="run `stylert compare` on the export to find the graph")
