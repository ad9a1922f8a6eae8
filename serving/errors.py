"""The serving errors (one line each, with the fix)."""

from __future__ import annotations

from ..errors import StylertError


class ServingError(StylertError):
    """A repository that cannot be written, a server that does not start or answer, a refused request."""
