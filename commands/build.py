"""``stylert build DIR``: compile an export's three graphs into engines (TensorRT plans or AOTInductor packages)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("build")
@click.argument("export_dir", type=click.Path(path_type=Path))
@click.option("--backend", default="tensorrt", show_default=True, type=click.Choice(["tensorrt", "inductor"]),
              help="TensorRT plans (NVIDIA GPUs), or AOTInductor packages (CUDA, or the CPU).")
@click.option("--precision", default=None, type=click.Choice(["fp16", "fp32", "int8"]),
              help="TensorRT: the export's precision (plans are strongly typed: an fp16 export gives fp16 plans "
                   "with its float32 statistics and softmax, an int8 export int8 plans from its QDQ graphs). "
                   "Inductor: fp16 on GPUs, fp32 on the CPU.")
@click.option("--device", default="auto", show_default=True, type=click.Choice(["auto", "cuda", "cpu"]),
              help="Inductor: where the engine runs (auto: cuda where torch sees a GPU). TensorRT: cuda.")
@click.option("--min", "mins", multiple=True, metavar="NxCxHxW",
              help="Smallest image of a profile, trtexec spelling (e.g. 1x3x64x64); repeat for several profiles.")
@click.option("--opt", "opts", multiple=True, metavar="NxCxHxW",
              help="Image shape a profile is tuned for (default 1x3x512x512, within min..max).")
@click.option("--max", "maxs", multiple=True, metavar="NxCxHxW",
              help="Largest image of a profile (default 1x3x2048x2048); H, W multiples of the size multiple.")
@click.option("--out", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="Engines root (default DIR/engines, or $STYLERT_ENGINES); engines go to OUT/<backend>/.")
@click.option("--force", is_flag=True, help="Rebuild even when the engine is up to date.")
@click.option("--timing-cache", type=click.Path(path_type=Path), default=None, metavar="FILE",
              help="TensorRT timing cache to read and update (default OUT/tensorrt-timing.cache).")
@click.option("--version-compatible", is_flag=True,
              help="TensorRT: a plan that later TensorRT versions can run (lean runtime inside; may be slower).")
@click.option("--hardware-compatible", is_flag=True,
              help="TensorRT: a plan for every Ampere or newer GPU (compatibility level AMPERE_PLUS).")
@click.pass_obj
def build(settings, export_dir, backend, precision, device, mins, opts, maxs, out, force, timing_cache,
          version_compatible, hardware_compatible):
    """Compile the encoder, transform and decoder graphs of an export into engines, with an engine manifest
    that stylize/bench/compare check (source graph hashes, GPU/CPU, TensorRT/torch version). TensorRT 10.x
    and 11.x plans are built strongly typed (it says which TensorRT it found and which path it takes).

    \b
    stylert build export/adain-fp16 --opt 1x3x512x512 --max 1x3x1088x1920   # an fp16 export: fp16 plans
    stylert build export/adain --min 1x3x64x64 --opt 1x3x256x256 --max 1x3x512x512 \\
                               --min 8x3x64x64 --opt 8x3x512x512 --max 8x3x1088x1920
    stylert build export/adain --backend inductor --precision fp32 --max 1x3x256x256
    """
    from ..engines.build import build_engines, format_build
    from ..runtime.engine_manifest import ENGINES_ENV, BuildOptions

    if backend == "inductor":
        trt_only = [flag for flag, on in (("--timing-cache", timing_cache), ("--version-compatible", version_compatible),
                                          ("--hardware-compatible", hardware_compatible)) if on]
        if trt_only:
            raise click.BadParameter(f"{', '.join(trt_only)} apply to --backend tensorrt only", param_hint="--backend")
    quiet = bool(getattr(settings, "quiet", False))

    def say(msg):
        if not quiet:
            click.echo(msg, err=True)

    options = BuildOptions(backend=backend, precision=precision, device=device, min=list(mins), opt=list(opts),
                           max=list(maxs), out=str(out) if out else None, force=force,
                           timing_cache=str(timing_cache) if timing_cache else None,
                           version_compatible=version_compatible, hardware_compatible=hardware_compatible)
    result = build_engines(export_dir, options, log=say)
    click.echo(format_build(result))
    if out is not None:
        say(f"the runtime finds these engines with {ENGINES_ENV}={out} (stylize/compare --engine {export_dir} "
            f"--backend {backend})")
