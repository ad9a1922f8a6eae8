"""Runtime: image I/O, colour transforms and the pipeline that runs exported graphs.

Nothing in ``stylert.runtime`` imports torch or model code at import time: the
ONNX Runtime path must start in a tenth of a second.
"""
