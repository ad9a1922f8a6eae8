"""stylert: a deployment toolkit for arbitrary style transfer.

The repository root is this package (``package-dir = {"stylert" = "."}``):

- ``stylert.core``       torch-free ground floor: files, images, the stylize contract, comparisons, weights
- ``stylert.models``     PyTorch model families, registry, checkpoint layouts, reference stylization
- ``stylert.export``     ONNX export of the three graphs (encoder, transform, decoder), the manifest, routing
- ``stylert.runtime``    the lightweight pipeline that runs exported graphs, every backend's runner
- ``stylert.engines``    building TensorRT plans and AOTInductor packages
- ``stylert.training``   training loops and losses
- ``stylert.benchmarks`` benchmark suites
- ``stylert.commands``   the click commands (only ``stylert.cli`` imports them)

Each package imports only the packages listed before it (``core`` imports none).

Nothing heavy is imported here: ``import stylert`` stays instant.
"""

__version__ = "0.1.0"
