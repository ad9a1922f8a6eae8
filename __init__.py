"""stylert: a deployment toolkit for arbitrary style transfer.

The repository root is this package (``package-dir = {"stylert" = "."}``):

- ``stylert.models``    PyTorch model families, registry, checkpoint loaders, reference stylization
- ``stylert.export``    ONNX export of the three graphs (encoder, transform, decoder) and the manifest
- ``stylert.runtime``   image I/O and the lightweight pipeline that runs exported graphs
- ``stylert.engines``   TensorRT / compiled engines
- ``stylert.training``  training loops and losses
- ``stylert.benchmarks`` benchmark suites

Nothing heavy is imported here: ``import stylert`` stays instant.
"""

__version__ = "0.1.0"
