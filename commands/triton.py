"""``stylert triton``: an export directory -> a Triton Inference Server model repository."""

from __future__ import annotations

from pathlib import Path

import click


def _gpus(value: str | None) -> tuple[int, ...]:
    if not value:
        return ()
    try:
        return tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a comma-separated list of GPU indices", param_hint="--gpus") from None


@click.command("triton")
@click.argument("export_dir", type=click.Path(path_type=Path))
@click.option("-o", "--out", "--output", "out", required=True, type=click.Path(path_type=Path), metavar="REPO",
              help="Folder to write the model repository into.")
@click.option("--backend", type=click.Choice(["python", "onnxruntime", "tensorrt"]), default="onnxruntime",
              show_default=True, help="How Triton runs the graphs: its onnxruntime or tensorrt backend, or ONNX "
              "Runtime inside python-backend models (for a Triton with the python backend only).")
@click.option("--name", default=None, help="Prefix of the graph models' names (default: the family, e.g. adain).")
@click.option("--max-batch-size", default=8, show_default=True, type=click.IntRange(min=0),
              help="Batch of the encoder and decoder under dynamic batching (0: no batching).")
@click.option("--instances", default=1, show_default=True, type=click.IntRange(min=1),
              help="Instances of each model per device (instance_group count).")
@click.option("--device", type=click.Choice(["cpu", "gpu"]), default=None,
              help="Where the graph models run. Default: cpu for --backend python, gpu otherwise.")
@click.option("--gpus", default=None, metavar="0,1,...", help="GPUs the graph models are placed on (default: all).")
@click.option("--style", "styles", multiple=True, metavar="[NAME=]PATH",
              help="A named style, encoded now and stored in the repository: an image or a style code "
                   "(.npz from `stylert style encode`). Repeatable.")
@click.option("--style-size", default=512, show_default=True, type=click.IntRange(min=0),
              help="Resize style images' short side to this before encoding (0 keeps the size), as `stylize` does.")
@click.option("--max-pixels", default=4096 * 4096, show_default=True, type=click.IntRange(min=1),
              help="Largest image (width x height) the stylize model accepts.")
@click.option("--engines", type=click.Path(path_type=Path), default=None, metavar="DIR",
              help="--backend tensorrt: the engine folder of `stylert build` (default: EXPORT_DIR/engines/tensorrt).")
@click.option("--runtime", type=click.Choice(["onnxruntime", "openvino"]), default="onnxruntime", show_default=True,
              help="--backend python: what runs each graph inside its model (openvino: OpenVINO's CPU plugin, bf16 "
              "where the CPU has it).")
@click.option("--precision", type=click.Choice(["auto", "bf16", "f32"]), default="auto", show_default=True,
              help="--runtime openvino: inference precision (auto: bf16 where the CPU supports it, else f32).")
@click.option("--overwrite", is_flag=True, help="Replace an existing repository.")
@click.pass_obj
def triton(settings, export_dir, out, backend, name, max_batch_size, instances, device, gpus, styles, style_size,
           max_pixels, engines, runtime, precision, overwrite):
    """Write a Triton model repository for EXPORT_DIR: one model per graph and the `stylize` model
    (BLS: pad, style codes, alpha, interpolation, crop, uint8), every config.pbtxt checked against
    Triton's ModelConfig.

    \b
    stylert triton export/adain -o triton-repo --backend python --style starry=starry.jpg
    stylert triton export/adain -o triton-repo --backend python --runtime openvino    # bf16 on AVX-512 BF16/AMX
    stylert triton export/adain -o triton-repo --backend onnxruntime --instances 2 --gpus 0,1
    stylert triton export/adain -o triton-repo --backend tensorrt     # after `stylert build export/adain`
    """
    from ..serving.repository import RepositoryOptions, parse_style, write_repository

    opts = RepositoryOptions(backend=backend, name=name, max_batch_size=max_batch_size, instances=instances,
                             device=device, gpus=_gpus(gpus), max_pixels=max_pixels, style_size=style_size,
                             styles=[parse_style(s) for s in styles], engines=engines,
                             runtime=runtime, precision=precision)

    def log(message):
        if not getattr(settings, "quiet", False):
            click.echo(message, err=True)

    repo = write_repository(export_dir, out, opts, overwrite=overwrite, log=log)
    click.echo(f"wrote {repo}  (serve it: stylert serve {repo})")
