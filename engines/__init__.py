"""Compiled engines built from an export directory: TensorRT plans and AOTInductor packages.

    stylert build DIR --backend tensorrt|inductor [--precision fp16|fp32|int8] [--min/--opt/--max NxCxHxW ...]

This package only builds (nothing heavy is imported by importing it); running an engine is the
runtime's (``stylert.runtime.backends.tensorrt`` / ``.inductor``), which reads the engine manifest
(``stylert.runtime.engine_manifest``), checks it (``stylert.runtime.staleness``) and matches
shapes against its profiles (``stylert.runtime.profiles``).

- ``build``           ``build_engines`` (atomic, keeps an up-to-date engine) and ``engines_available``
- ``tensorrt_build``  strongly typed TensorRT 10/11 plans with Polygraphy (profiles, timing cache, compatibility)
- ``fp32_layers``     which ONNX nodes must stay float32 (statistics, powers, softmax); checks an fp16 graph
- ``trt_api_check``   static check of every TensorRT name used against the claimed versions' bindings
- ``inductor_build``  AOTInductor packages from the export's ``torch.export`` programs
- ``half_graph``      the torch.export program rewritten for CUDA / FP16 with float32 statistics
"""


def engines_available() -> dict:
    """backend -> None where this machine can build and run its engines, else why not (see ``build``)."""
    from .build import engines_available as check

    return check()
