"""Typed errors of the export (in the manner of Optimum's ``ShapeError`` / ``AtolError``).

All are ``StylertError``s, so the CLI prints them as one-line ``Error: ...`` messages.
This module imports nothing heavy: the runtime's manifest reader uses ``ManifestError``.
"""

from __future__ import annotations

from ..errors import StylertError


class ExportError(StylertError):
    """A model that cannot be exported (tracing, ONNX conversion or ONNX checks failed)."""


class ValidationError(ExportError):
    """Exported graphs that do not compute what the PyTorch model computes.

    ``report``: the validation report so far (``stylert.export.validate.ValidationReport``) or None.
    """

    report = None


class OutputNameError(ValidationError):
    """A graph whose input or output names are not those of its export spec."""


class ShapeError(ValidationError):
    """A graph output whose shape differs from PyTorch's."""


class AtolError(ValidationError):
    """A graph output whose values differ from PyTorch's beyond the tolerance."""


class ManifestError(StylertError):
    """An export directory whose manifest is missing, malformed, of another format version,
    inconsistent with itself, or whose graph files are missing or do not match their SHA-256."""
