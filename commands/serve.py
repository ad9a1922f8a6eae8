"""``stylert serve``: a local tritonserver on a model repository, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import click


@click.command("serve")
@click.argument("repo", type=click.Path(path_type=Path))
@click.option("--address", default="127.0.0.1", show_default=True,
              help="Address the endpoints bind to (0.0.0.0 exposes them to the network).")
@click.option("--http-port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--grpc-port", default=8001, show_default=True, type=click.IntRange(1, 65535))
@click.option("--metrics-port", default=8002, show_default=True, type=click.IntRange(1, 65535))
@click.option("--python-env", type=click.Path(path_type=Path), default=None, metavar="DIR",
              envvar="STYLERT_TRITON_PYTHON_ENV",
              help="Python environment for the python-backend models of the nvidia-pytriton server (needs "
                   "numpy<2 and onnxruntime). Default: this Python's.")
@click.option("--tritonserver", "executable", type=click.Path(path_type=Path), default=None, metavar="PATH",
              help="The tritonserver binary (default: PATH, then the nvidia-pytriton wheel).")
@click.option("--log-file", type=click.Path(path_type=Path), default=None, help="Where the server log goes.")
@click.option("--timeout", default=300, show_default=True, type=click.IntRange(min=1),
              help="Seconds to wait for every model to be ready.")
@click.pass_obj
def serve(settings, repo, address, http_port, grpc_port, metrics_port, python_env, executable, log_file, timeout):
    """Serve REPO (from `stylert triton`) with tritonserver until Ctrl-C or SIGTERM.

    \b
    stylert serve triton-repo
    stylert stylize --server http://127.0.0.1:8000 -c photo.jpg -s style.jpg -o out.png
    """
    from ..serving.server import TritonServer

    server = TritonServer(repo, address=address, http_port=http_port, grpc_port=grpc_port, metrics_port=metrics_port,
                          python_env=python_env, executable=executable, log_file=log_file)
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        click.echo(f"starting tritonserver on {repo} (log: {server.log_path if log_file else 'in the temp folder'})",
                   err=True)
        server.start(timeout=timeout)
        models = ", ".join(f"{m['name']} ({m.get('state', '?')})" for m in server.models())
        click.echo(f"tritonserver {server.binary.source}, pid {server.pid}")
        click.echo(f"  models:  {models}")
        click.echo(f"  HTTP     {server.http_url}")
        click.echo(f"  gRPC     {server.grpc_url}")
        click.echo(f"  metrics  {server.metrics_url}")
        click.echo(f"  log      {server.log_path}")
        click.echo("ready; Ctrl-C or SIGTERM stops it", err=True)
        while server.process.poll() is None:
            try:
                server.process.wait(1.0)
            except Exception:
                pass
        raise click.ClickException(f"tritonserver exited with code {server.process.returncode}: "
                                   f"{server.last_error()} (see {server.log_path})")
    except KeyboardInterrupt:
        click.echo("stopping tritonserver", err=True)
    finally:
        signal.signal(signal.SIGTERM, previous)
        code = server.stop()
        if stopping or code is not None:
            click.echo(f"tritonserver stopped (exit code {code})", err=True)
