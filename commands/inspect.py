"""``stylert inspect``: what checkpoint files hold, or which families and layouts stylert knows."""

from __future__ import annotations

import json

import click

from .choices import FamilyChoice


@click.command("inspect")
@click.argument("checkpoints", nargs=-1, type=click.Path())
@click.option("--model", "family", default=None, metavar="FAMILY", type=FamilyChoice(),
              help="Expected family (default: inferred).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def inspect_cmd(checkpoints, family, as_json):
    """Show the family, layout, parameter count and taps of CHECKPOINTS (one model, one or more files).

    Without CHECKPOINTS: list the model families and the checkpoint layouts they load.
    With an export directory (``stylert export -o DIR``): its manifest and routing.
    """
    from pathlib import Path

    if len(checkpoints) == 1 and Path(checkpoints[0]).is_dir():
        from ..export.manifest import format_manifest, load_manifest

        manifest = load_manifest(checkpoints[0])
        click.echo(json.dumps(manifest.data, indent=2) if as_json else format_manifest(manifest))
        return
    from ..models.checkpoints import FILE_KINDS, LAYOUTS, identify, layouts_of, load_model
    from ..models.registry import get_family, list_families

    if not checkpoints:
        info = {
            "families": {n: {"summary": get_family(n).summary, "layouts": layouts_of(n) + ["stylert"]}
                         for n in list_families()},
            "layouts": {n: {"family": lay.family, "files": lay.files, "source": lay.description}
                        for n, lay in LAYOUTS.items()},
        }
        if as_json:
            click.echo(json.dumps(info, indent=2))
            return
        click.echo("families:")
        for n, f in info["families"].items():
            click.echo(f"  {n:18s} {f['summary']}  [layouts: {', '.join(f['layouts'])}]")
        click.echo("checkpoint layouts:")
        for n, lay in LAYOUTS.items():
            click.echo(f"  {n:24s} {lay.description}")
        return

    files = [identify(p) for p in checkpoints]
    model = load_model(checkpoints, family)
    info = model.describe()
    info["layout"] = model.checkpoint_info["layout"]
    info["files"] = {str(f.path): {"kind": f.kind, "tensors": len(f.state_dict),
                                   "about": FILE_KINDS[f.kind].description} for f in files}
    meta = next((f.meta for f in files if f.kind == "stylert"), {})
    extra = sorted(k for k in meta if k not in ("format", "version", "family", "config"))
    if extra:
        info["training_state"] = extra
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    p = info["parameters"]
    click.echo(f"family:          {info['family']}")
    click.echo(f"layout:          {info['layout']}")
    click.echo(f"encoder layout:  {info['encoder_layout']}")
    click.echo(f"config:          {json.dumps(info['config'])}")
    click.echo(f"parameters:      {p['total']:,} (encoder {p['encoder']:,}, transform {p['transform']:,}, "
               f"decoder {p['decoder']:,})")
    click.echo(f"content taps:    {', '.join(info['content_taps'])}")
    click.echo(f"style taps:      {', '.join(info['style_taps'])}  (style loss: {', '.join(info['loss_taps'])})")
    click.echo(f"decoder inputs:  {', '.join(info['decoder_inputs'])}")
    click.echo(f"alpha levels:    {', '.join(info['alpha_levels'])}")
    click.echo(f"size multiple:   {info['size_multiple']}")
    for path, f in info["files"].items():
        click.echo(f"file:            {path}: {f['kind']}, {f['tensors']} tensors")
    if extra:
        click.echo(f"training state:  {', '.join(extra)}")
