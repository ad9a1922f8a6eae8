"""The ``stylert`` command line: one root group, one module per command, imported lazily.

``stylert --help`` imports neither torch nor onnxruntime, so it is instant and works on any
machine. Library code raises typed ``StylertError``s; this group turns them into a one-line
``Error: ...`` and exit code 1. Errors click finds while parsing (a bad option value, an unknown
option or command) are one line too, naming the command, with exit code 2.
"""

from __future__ import annotations

import contextlib
import importlib
import signal
import threading
from dataclasses import dataclass

import click

from . import __version__
from .errors import StylertError, os_error_line

#: command name -> (module, attribute, one-line help). The module is imported only when run.
COMMANDS = {
    "stylize": ("stylert.commands.stylize", "stylize", "Stylize images and videos: PyTorch reference, or an export (--engine)."),
    "demo": ("stylert.commands.demo", "demo", "Export a model and run the embedded demo through the runtime."),
    "export": ("stylert.commands.export", "export", "Export a checkpoint to three validated ONNX graphs + manifest."),
    "train": ("stylert.commands.train", "train", "Train a model family with the paper's losses."),
    "style": ("stylert.commands.style", "style", "Encode style images into style codes for an export."),
    "build": ("stylert.commands.build", "build", "Compile an export into TensorRT plans or AOTInductor engines."),
    "compare": ("stylert.commands.compare", "compare_cmd", "Every backend against the PyTorch reference, per graph."),
    "inspect": ("stylert.commands.inspect", "inspect_cmd", "Show what a checkpoint holds: family, layout, taps."),
    "weights": ("stylert.commands.weights", "weights", "Fetch, list and locate the public weights; ship trained ones."),
    "bench": ("stylert.commands.bench", "bench", "Latency, throughput and FLOP efficiency of an export, per backend."),
    "doctor": ("stylert.commands.doctor", "doctor", "Report torch, ONNX Runtime providers, TensorRT and GPU."),
    "evaluate": ("stylert.commands.evaluate", "evaluate", "Measure quality: VGG losses, SSIM, PSNR, video warping error."),
    "triton": ("stylert.commands.triton", "triton", "Write a Triton Inference Server model repository for an export."),
    "serve": ("stylert.commands.serve", "serve", "Serve a Triton model repository with a local tritonserver."),
}


#: a package the base install leaves out -> the extra that brings it (``pip install 'stylert[EXTRA]'``).
#: The base install runs exports (ONNX Runtime, OpenVINO, Pillow, NumPy, click); exporting, the PyTorch
#: reference, training and evaluating need torch and the rest.
EXTRAS = {"torch": "export", "onnxscript": "export", "polygraphy": "export", "safetensors": "export",
          "skimage": "evaluate", "cv2": "video", "av": "video", "tritonclient": "serve"}
#: commands whose own extra is not ``export`` when they miss torch or safetensors
COMMAND_EXTRA = {"train": "train", "evaluate": "evaluate"}


def missing_extra(err: ModuleNotFoundError, command: str | None) -> click.ClickException | None:
    """A module of an extra that is not installed -> one ``Error:`` line naming the extra, else None."""
    root = (err.name or "").split(".")[0]
    if root not in EXTRAS:
        return None
    extra = EXTRAS[root]
    if extra == "export" and command in COMMAND_EXTRA:
        extra = COMMAND_EXTRA[command]
    package = {"skimage": "scikit-image", "cv2": "opencv-python-headless"}.get(root, root)
    what = f"`stylert {command}`" if command else "this command"
    return click.ClickException(f"{what} needs {package}, which is not installed "
                                f"(fix: pip install 'stylert[{extra}]')")


@dataclass
class Settings:
    """Shared by every command through ``ctx.obj``."""

    quiet: bool = False


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler, a container stop), raised where Ctrl-C's KeyboardInterrupt
    would be: every ``finally`` and ``except BaseException`` that cleans up after Ctrl-C (temporary
    files and folders, a training run without a checkpoint, encoder threads) runs for it too."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    """While a command runs in the main thread: SIGTERM raises ``Terminated``; the previous handler after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class OneLineUsageError(click.ClickException):
    """A click usage error shown as one ``Error: ...`` line, without click's usage block."""

    exit_code = 2


def one_line_usage_error(err: click.UsageError, ctx: click.Context | None = None) -> click.ClickException:
    """``Error: stylert stylize: Invalid value for '--alpha': ... (fix: ...)`` on one line. The command
    is the error's own context; where click raised it without one (an option missing its value), the
    command ``ctx`` was about to run (its ``invoked_subcommand``)."""
    if isinstance(err, click.exceptions.NoArgsIsHelpError):  # the help text, not an error
        return err
    text = " ".join(err.format_message().split())
    if err.ctx is not None:
        where = err.ctx.command_path
    elif ctx is not None:
        where = " ".join(filter(None, (ctx.command_path, ctx.invoked_subcommand)))
    else:
        where = "stylert"
    if "(fix:" not in text:
        text += f" (fix: see '{where} --help')"
    return OneLineUsageError(f"{where}: {text}")


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as err:
            raise one_line_usage_error(err) from None

    def invoke(self, ctx):
        try:
            with _terminate_as_interrupt():
                return super().invoke(ctx)
        except Terminated:
            click.echo("Terminated: stopped by SIGTERM; nothing half-written was left", err=True)
            ctx.exit(128 + signal.SIGTERM)
        except StylertError as err:
            raise click.ClickException(str(err)) from None
        except OSError as err:  # a file-system failure no check foresaw: one line with its cause and fix
            raise click.ClickException(os_error_line(err)) from None
        except ModuleNotFoundError as err:  # an extra the base install leaves out
            one_line = missing_extra(err, ctx.invoked_subcommand)
            if one_line is None:
                raise
            raise one_line from None
        except click.UsageError as err:  # parsing a command's (or a subcommand's) options
            raise one_line_usage_error(err, ctx) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stylert")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors and results.")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """stylert: arbitrary style transfer (AdaIN, multi-level AdaIN, style attention), exported and fast."""
    ctx.obj = Settings(quiet=quiet)


if __name__ == "__main__":
    main()
