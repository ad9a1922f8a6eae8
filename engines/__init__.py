"""Compiled engines built from an export directory: TensorRT plans and AOTInductor packages.

    stylert build DIR --backend tensorrt|inductor --precision fp16|fp32 [--min/--opt/--max NxCxHxW ...]

Modules (nothing heavy is imported by importing this package):

- ``profiles``     --min/--opt/--max in trtexec's spelling; transform/decoder profiles derived from the
                   encoder's through the manifest's symbolic shapes; run-time shape checks
- ``manifest``     the engine manifest (``engine.json``), the machine an engine is tied to, staleness rules,
                   the rebuild command
- ``fp32_layers``  which ONNX nodes an FP16 TensorRT plan keeps in FP32 (statistics, powers, softmax)
- ``half_graph``   the torch.export program rewritten for CUDA / FP16 with float32 statistics (AOTInductor)
- ``buffers``      the device arena of every engine input and output, planned from the profiles
- ``tensorrt_build`` / ``runner``   TensorRT plans with Polygraphy, and the ``tensorrt`` runtime backend
- ``inductor``     AOTInductor packages and the ``inductor`` runtime backend
- ``build``        ``build_engines`` (atomic, keeps an up-to-date engine) and ``engines_available``
- ``cli_build``    the ``stylert build`` command
"""


def engines_available() -> dict:
    """backend -> None where this machine can build and run its engines, else why not (see ``build``)."""
    from .build import engines_available as check

    return check()
