"""Typed errors of the engines (TensorRT plans, AOTInductor packages).

All are ``StylertError``s: the CLI prints them as one line, with the fix (usually the
``stylert build`` command that makes a fresh engine). Nothing heavy is imported here.
"""

from __future__ import annotations

from ..errors import MissingDependencyError, StylertError

TENSORRT_INSTALL = ("pip install 'stylert[tensorrt]' -- TensorRT's libraries come from NVIDIA's package index "
                    "(https://pypi.nvidia.com) and need a CUDA GPU")


class EngineError(StylertError):
    """An engine that cannot be built, found, loaded or run."""


class ProfileError(EngineError):
    """Bad ``--min/--opt/--max`` shapes, or profiles that do not fit the export."""


class EngineBuildError(EngineError):
    """The builder (TensorRT or AOTInductor) failed, or this machine cannot build the engine."""


class MissingEngineError(EngineError):
    """No engine was built for this export and backend."""


class StaleEngineError(EngineError):
    """An engine built from other graphs, on another GPU/CPU, or with another TensorRT/torch
    version, or whose files were altered. ``reasons`` lists every mismatch."""

    def __init__(self, message: str, *, reasons: list[str], path=None, fix: str | None = None):
        super().__init__(message, path=path, fix=fix)
        self.reasons = list(reasons)


class EngineShapeError(EngineError):
    """Inputs whose shapes no optimization profile of the engine accepts."""


class EngineOutputError(EngineError):
    """An engine output with NaN or Inf (float16 overflow, usually); names the graph."""


def tensorrt_missing() -> MissingDependencyError:
    """The one-line error for a machine without TensorRT's Python package."""
    return MissingDependencyError("tensorrt", TENSORRT_INSTALL, "TensorRT engines")


def import_tensorrt():
    """``import tensorrt``, or the one-line ``MissingDependencyError`` naming the install command."""
    try:
        import tensorrt
    except ImportError:
        raise tensorrt_missing() from None
    return tensorrt
