"""Typed errors. The library raises these; the CLI turns them into one-line messages.

Every error names what it is about (``path``) and, where there is one, the fix.
``str(err)`` is the complete user-facing message.
"""

from __future__ import annotations

import errno
import os


class StylertError(Exception):
    """Base class of every error stylert raises on purpose."""

    def __init__(self, message: str, *, path: str | os.PathLike | None = None, fix: str | None = None):
        self.message = message
        self.path = None if path is None else os.fspath(path)
        self.fix = fix
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        if self.fix:
            text += f" (fix: {self.fix})"
        return text


class ImageError(StylertError):
    """An input image (or mask) that cannot be read, is too large, or does not fit."""


class OutputError(StylertError):
    """An output that cannot be written, or would overwrite something without --overwrite."""


class CheckpointError(StylertError):
    """A checkpoint file that does not match the layout it was loaded as."""


class WeightsError(StylertError):
    """Public weights that are missing, cannot be downloaded or fail their SHA-256 check."""


class ModelError(StylertError):
    """Unknown model family, bad configuration, or bad arguments to a model."""


class MissingDependencyError(StylertError):
    """An optional package is not installed; the message carries the install command."""

    def __init__(self, package: str, install: str, purpose: str | None = None):
        what = f"{package} is not installed" + (f" (needed for {purpose})" if purpose else "")
        super().__init__(what, fix=install)
        self.package = package
        self.install = install


# -- engines (TensorRT plans, AOTInductor packages): the fix is usually the `stylert build` command

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


def nan_fix(precision: str | None, rebuild: str = "`stylert build EXPORT_DIR --force`") -> str:
    """The fix for NaN or Inf out of an engine or backend, true to its precision: float16 overflows
    (the fix is a float32 build); float32 and int8 graphs do not overflow on images, so NaN there is the
    engine's own fault (memory it did not initialise, a shape path it was not built for)."""
    if precision == "fp16":
        return "run `stylert compare` to see each graph; an fp32 build (--precision fp32) avoids float16 overflow"
    return (f"a {precision or 'float32'} graph does not overflow on images: the engine computed an invalid result "
            f"(a shape it was not built for, or uninitialised memory); rebuild it with {rebuild}, try another "
            "--backend, and run `stylert compare` to see each graph")


def os_error_fix(err: OSError, option: str) -> str:
    """The fix for a failed write or read, by its cause (errno); ``option`` names the path's option."""
    code = getattr(err, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"free space on that disk, or give {option} a folder on another disk"
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"give {option} a folder you can write to"
    if code == errno.ENOTDIR:
        return f"a part of the path is a file, not a folder: give {option} another path"
    if code == errno.ENAMETOOLONG:
        return f"give {option} a shorter path"
    return f"check the folder and its free space, or give {option} another path"


def os_error_line(err: OSError) -> str:
    """Any OSError as one line: the file, the cause, the fix by its cause (the command line's last resort)."""
    return str(OutputError(err.strerror or str(err), path=err.filename or None,
                           fix=os_error_fix(err, "the command").replace("give the command", "use")))
