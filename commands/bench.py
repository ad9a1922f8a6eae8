"""``stylert bench DIR``: latency, throughput, per-graph compute and FLOP efficiency of an export on
every backend the machine has, side by side (see ``stylert.benchmarks.bench``)."""

from __future__ import annotations

from pathlib import Path

import click

from .numbers import Number


@click.command("bench")
@click.argument("export_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--backend", "backends", multiple=True, metavar="NAME[:DEVICE]",
              help="Backend to measure, repeatable (default: every backend in BACKENDS that opens here); "
                   "DEVICE is cpu, cuda or auto.")
@click.option("--shape", "sizes", multiple=True, metavar="HxW", help="Content (and style) size, height first as "
              "trtexec's NxCxHxW, repeatable (default 512x512).")
@click.option("--size", "old_sizes", multiple=True, hidden=True)
@click.option("--batch", "batches", multiple=True, type=click.IntRange(min=1),
              help="Batch size, repeatable (throughput mode; default 1, 2, 4).")
@click.option("--mode", type=click.Choice(["latency", "throughput"]), default="latency", show_default=True,
              help="latency: batch 1, one query after another (MLPerf single-stream); throughput: every "
                   "--batch, offline.")
@click.option("--seconds", type=Number(min=0), default=3.0, show_default=True,
              help="Minimum measured time per figure.")
@click.option("--warmup", type=Number(min=0), default=1.0, show_default=True,
              help="Warm-up time per figure (excluded).")
@click.option("--min-iterations", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--peak-seconds", type=Number(min=0.05), default=1.0, show_default=True,
              help="Duration of each peak probe (matmul, 3x3 conv) at the start.")
@click.option("--cuda-graph", is_flag=True, help="Capture and replay CUDA graphs (torch and tensorrt backends on CUDA; a notice elsewhere).")
@click.option("--no-transfers", is_flag=True, help="Per-graph compute without host<->device copies (GPU only).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write every sample, the machine and the settings as JSON.")
@click.option("--markdown", "md_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a Markdown summary.")
@click.option("--chart", "chart_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a PNG chart (latency by size, throughput by batch).")
@click.pass_context
def bench(ctx, export_dir, backends, sizes, old_sizes, batches, mode, seconds, warmup, min_iterations, peak_seconds, cuda_graph,
          no_transfers, json_path, md_path, chart_path):
    """Benchmark an export directory: trtexec/MLPerf methodology, every backend in one run."""
    from ..benchmarks.bench import (
        BenchConfig,
        default_backends,
        draw_chart,
        format_markdown,
        format_table,
        parse_backend,
        run_bench,
    )
    from ..benchmarks.harness import write_json, write_text
    from ..core.images import SIZE_SPELLING, parse_hw
    from ..errors import StylertError

    quiet = bool(ctx.obj and getattr(ctx.obj, "quiet", False))
    say = (lambda *a, **k: None) if quiet else (lambda msg: click.echo(msg, err=True))
    try:
        parsed_backends = [parse_backend(b) for b in backends] or default_backends()
        if old_sizes:
            raise click.BadParameter(f"--size (WIDTHxHEIGHT) is gone: sizes are {SIZE_SPELLING}; "
                                     f"e.g. --shape {old_sizes[0].partition('x')[2] or old_sizes[0]}x"
                                     f"{old_sizes[0].partition('x')[0]}", param_hint="--size")
        parsed_sizes = [parse_hw(s) for s in sizes] or [(512, 512)]
    except StylertError as err:
        raise click.BadParameter(str(err)) from None
    from ..core.files import check_side_outputs

    check_side_outputs({"--json": json_path, "--markdown": md_path, "--chart": chart_path},
                       inputs=[export_dir, *Path(export_dir).glob("*")] if Path(export_dir).is_dir() else [export_dir],
                       formats={"--markdown": "text", "--chart": "png"})
    batch_list = list(batches) or ([1, 2, 4] if mode == "throughput" else [1])
    cfg = BenchConfig(parsed_backends, parsed_sizes, batch_list, mode, seconds, warmup, min_iterations,
                      cuda_graph, no_transfers, peak_seconds=peak_seconds)
    report = run_bench(export_dir, cfg, notice=say, progress=say)
    if not report["results"]:
        raise click.ClickException("no backend could run this export: " +
                                   "; ".join(f"{u['backend']}:{u['device']}: {u['reason']}"
                                             for u in report["unavailable"]))
    click.echo(format_table(report))
    if json_path:
        write_json(json_path, report)
        say(f"wrote {json_path}")
    if md_path:
        write_text(md_path, format_markdown(report))
        say(f"wrote {md_path}")
    if chart_path:
        draw_chart(report, chart_path)
        say(f"wrote {chart_path}")
