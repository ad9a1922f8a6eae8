"""``stylert compare DIR``: every backend this machine can run, against the PyTorch reference."""

from __future__ import annotations

from pathlib import Path

import click

from .numbers import Number


def available_backends(export_dir: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """(backend, device) pairs that can run here, and a line for each one that cannot, saying why."""
    from ..errors import StylertError
    from ..runtime.backends.registry import REGISTRY
    from ..runtime.pipeline import Pipeline

    runnable, skipped = [], []
    candidates = [(b, d) for b, spec in REGISTRY.items() for d in ("cpu", "cuda") if d in spec.devices]
    cuda = None
    for backend, device in candidates:
        if backend == "torch" and device == "cpu":
            continue  # the reference itself
        if device == "cuda":
            cuda = _has_cuda() if cuda is None else cuda
            if not cuda:  # said once, not as a --device this command does not have
                continue
        try:
            with Pipeline.open(export_dir, backend, device) as pipe:
                if pipe.device != device:
                    skipped.append(f"{backend} ({device}): not on this machine")
                    continue
        except StylertError as err:
            skipped.append(f"{backend} ({device}): {err}")
            continue
        runnable.append((backend, device))
    return runnable, skipped


def _has_cuda() -> bool:
    """A CUDA GPU that torch or ONNX Runtime's CUDA provider can use (the reference imports torch anyway)."""
    from ..core.providers import cuda_provider_loads

    try:
        import torch

        if torch.cuda.is_available():
            return True
    except ImportError:
        pass
    try:
        return cuda_provider_loads()
    except Exception:  # no onnxruntime: no CUDA backend of ours runs either
        return False


@click.command("compare")
@click.argument("export_dir", type=click.Path(path_type=Path))
@click.option("--backend", "backends", multiple=True, metavar="NAME[:DEVICE]",
              help="Compare only these (e.g. onnxruntime:cpu); default: every backend that runs here.")
@click.option("-c", "--content", type=click.Path(path_type=Path), default=None,
              help="Content image (default: the built-in demo scene).")
@click.option("-s", "--style", type=click.Path(path_type=Path), default=None,
              help="Style image (default: the built-in demo painting).")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=16),
              help="Short side of content and style.")
@click.option("--alpha", default=0.8, show_default=True, type=Number(0, 1))
def compare_cmd(export_dir, backends, content, style, size, alpha):
    """Max abs difference and PSNR of each graph and end to end, per backend, against the float32 PyTorch
    reference (the export's torch programs on the CPU), with pass/fail against the manifest's tolerances."""
    import numpy as np

    from ..core.demo import demo_content, demo_style
    from ..core.images import load_image, pad_to_multiple
    from ..runtime.compare import compare, format_checks
    from ..runtime.pipeline import Pipeline

    reference = Pipeline.open(export_dir, "torch", "cpu")
    if content is not None:
        c = load_image(content, size=size)
    else:
        c = np.asarray(demo_content((size * 4 // 3, size)), np.float32) / 255.0
    s = load_image(style, size=size) if style is not None else np.asarray(demo_style((size, size)), np.float32) / 255
    c = pad_to_multiple(c, reference.manifest.size_multiple)[0]
    if backends:
        pairs = [(b.split(":")[0], b.split(":")[1] if ":" in b else "cpu") for b in backends]
        skipped = []
    else:
        pairs, skipped = available_backends(export_dir)
    click.echo(f"reference: torch float32 programs on the CPU; content {c.shape[0]}x{c.shape[1]}, "
               f"style {s.shape[0]}x{s.shape[1]} (HxW), {reference.manifest.family} ({reference.manifest.precision} export)")
    for line in skipped:
        click.echo(f"skipped {line}")
    if not backends and not any(d == "cuda" for _, d in pairs) and not any("(cuda)" in x for x in skipped):
        click.echo("skipped every CUDA backend: no CUDA GPU on this machine")
    if not pairs:
        raise click.ClickException("no backend besides the reference runs here")
    checks = compare(export_dir, pairs, c, s, alpha, reference)
    click.echo(format_checks(checks))
    failed = [ch for ch in checks if not ch.ok]
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(checks)} checks failed")
    click.echo(f"=> all {len(checks)} checks passed")
