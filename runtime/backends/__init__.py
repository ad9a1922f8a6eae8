"""Backends with one interface (Polygraphy's runner pattern): activate / infer / deactivate.

Data in and out of ``infer`` is a dict of tensor name -> array. Each backend lives in its own
module and imports its framework lazily, so that ONNX Runtime never pulls in torch.
"""

from .base import BaseRunner

__all__ = ["BaseRunner"]
