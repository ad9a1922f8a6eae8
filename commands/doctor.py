"""``stylert doctor``: what this machine can run, checked for real rather than assumed."""

from __future__ import annotations

import contextlib
import importlib
import io
import platform
import sys

import click


def _version(module: str) -> str | None:
    try:
        return getattr(importlib.import_module(module), "__version__", "installed")
    except ImportError:
        return None


def onnxruntime_providers() -> dict[str, str]:
    """Each available execution provider -> "ok" if a session really runs on it, else why not.

    ``get_available_providers()`` lists providers whose libraries exist; only a session that
    keeps the provider in ``get_providers()`` proves CUDA/TensorRT libraries really load.
    """
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "probe",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    data = model.SerializeToString()
    onnx.checker.check_model(model)
    result = {}
    ort.set_default_logger_severity(4)
    for provider in ort.get_available_providers():
        # ONNX Runtime prints its own "EP Error" banner when a provider fails and falls back: keep it quiet,
        # the answer is whether the provider stays in get_providers().
        noise = io.StringIO()
        try:
            with contextlib.redirect_stdout(noise), contextlib.redirect_stderr(noise):
                session = ort.InferenceSession(data, providers=[provider])
        except Exception as err:  # a provider that fails to load raises; report why
            result[provider] = f"does not load: {str(err).splitlines()[0][:100]}"
            continue
        if provider in session.get_providers():
            result[provider] = "ok"
        else:
            result[provider] = "its libraries do not load here (sessions fall back to CPU)"
    return result


def _runtime_backends():
    """One line per runtime backend that needs no engine (``runtime.backends.registry``), and what
    ``--backend auto`` picks here for float32 and int8 exports."""
    from types import SimpleNamespace

    from ..runtime.backends.auto import choose
    from ..runtime.backends.registry import REGISTRY

    for spec in REGISTRY.values():
        if spec.engine is None:  # engine backends: the lines above
            click.echo(f"backend       {spec.name}: {spec.status()}")
    for precision in ("fp32", "int8"):
        click.echo(f"backend       auto, {precision} exports on the CPU: "
                   f"{choose(SimpleNamespace(precision=precision), 'cpu').line}")


@click.command("doctor")
def doctor():
    """Report Python, torch (and its GPU), ONNX Runtime providers that really load, TensorRT, weights."""
    ok = click.style("ok", fg="green")
    click.echo(f"python        {sys.version.split()[0]} on {platform.platform()}")
    from .. import __version__

    click.echo(f"stylert       {__version__}")
    torch_version = _version("torch")
    if torch_version is None:
        click.echo("torch         not installed (pip install torch)")
    else:
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
        click.echo(f"torch         {torch_version} (CUDA build: {torch.version.cuda or 'no'}; {gpu})")
    for name in ("onnx", "onnxscript", "polygraphy", "av"):
        v = _version(name)
        click.echo(f"{name:13s} {v or 'not installed'}")
    if _version("onnxruntime") is None:
        click.echo("onnxruntime   not installed (pip install onnxruntime-gpu)")
    else:
        import onnxruntime as ort

        click.echo(f"onnxruntime   {ort.__version__} ({ort.get_device()} build)")
        for provider, state in onnxruntime_providers().items():
            click.echo(f"  {provider:28s} {ok if state == 'ok' else state}")
    trt = _version("tensorrt")
    click.echo("tensorrt      " + (trt or "not installed: pip install 'stylert[tensorrt]' (NVIDIA's libraries, "
                                            "downloaded from NVIDIA's package index; needs a CUDA GPU)"))
    if trt:
        from ..engines.tensorrt_build import tensorrt_path
        from ..errors import StylertError

        try:
            click.echo(f"  build path  {tensorrt_path(trt)['line']}")
        except StylertError as err:
            click.echo(f"  build path  none: {err}")
    from ..engines.build import cuda_toolkit, engines_available

    cuda = False
    if torch_version is not None:
        import torch

        cuda = torch.cuda.is_available()
    for backend, reason in engines_available().items():
        if reason is not None:
            line = f"cannot build here: {reason}"
        elif backend == "inductor":
            toolkit, why_not = cuda_toolkit() if cuda else (None, None)
            if cuda and toolkit:
                line = f"{ok}: builds fp16 CUDA (CUDA toolkit {toolkit}) and fp32 CPU engines"
            elif cuda:
                line = f"{ok}: builds fp32 CPU engines; CUDA ones cannot: {why_not}"
            else:
                line = f"{ok}: builds fp32 CPU engines"
            line += " (stylert build DIR --backend inductor)"
        else:
            line = (f"{ok}: builds strongly typed plans of the export's precision (fp16/int8/fp32; "
                    "stylert build DIR --backend tensorrt)")
        click.echo(f"engine        {backend}: {line}")
    _runtime_backends()
    from ..core.weights import status

    for filename, path, verified in status("adain"):
        state = ok if verified else ("hash MISMATCH" if verified is False else "missing: run `stylert weights fetch`")
        click.echo(f"weights       adain/{filename}: {path or ''} {state}")
