"""Runtime: runs an export directory's three graphs by its manifest alone, with no model code.

- ``pipeline``         ``Pipeline``: pad, encode, transform (style codes, alpha per level, blends,
                       masks), decode, crop; ``resolve_device``
- ``stylizer``         ``RuntimeStylizer``: the stylize contract (``stylert.core.stylize``) over a pipeline
- ``codes``            style codes (``stylert style encode``), tied to the encoder's SHA-256
- ``backends``         every runner (onnxruntime, torch, tensorrt, inductor) from one name -> factory table
- ``engine_manifest``  engine manifests (``engine.json``) and the machine an engine is tied to
- ``staleness``        the engine staleness check and the rebuild command
- ``profiles``         optimization profiles (--min/--opt/--max) and run-time shape checks
- ``compare``          every backend against the float32 reference, per graph and end to end
- ``video``            video decoding and encoding (PyAV), frames stylized in batches

Nothing in ``stylert.runtime`` imports torch or model code at import time: the
ONNX Runtime path must start in a tenth of a second.
"""
