"""What every way of stylizing shares: style caching and colour preservation around ``apply``.

``Stylizer.stylize(content, styles, options)`` takes images [H, W, 3] float32 0..1 (or style
codes, for backends that have them), recolours or converts to luminance as
``options.preserve_color`` asks, encodes each style once per cache key, and calls the
subclass's ``apply``. The PyTorch reference (``stylert.models.stylize.ReferenceStylizer``) and
the runtime (``RuntimeStylizer``, exported graphs) are the two subclasses, so both treat
options identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from .color import luminance_only_inputs, match_color, recombine_luminance

PRESERVE_COLOR_MODES = ("match", "luminance")


@dataclass(frozen=True)
class StylizeOptions:
    """alpha: one value, or one per level of the family.
    weights: interpolation weights, one per style (normalised to sum 1); None with one style.
    mask: [H, W] in {0, 1} at the content's size: style 0 where 1 (foreground), style 1 where 0.
    preserve_color: None, ``"match"`` or ``"luminance"``.
    """

    alpha: float | tuple[float, ...] = 1.0
    weights: tuple[float, ...] | None = None
    mask: np.ndarray | None = None
    preserve_color: str | None = None


class Stylizer:
    def __init__(self):
        self._codes: dict = {}

    # -- to implement ------------------------------------------------------------------
    def encode(self, style: np.ndarray):
        """Style image [H, W, 3] -> this stylizer's style code."""
        raise NotImplementedError

    def apply(self, content: np.ndarray, codes: list, options: StylizeOptions) -> np.ndarray:
        """content [H, W, 3] + codes -> stylized [H, W, 3] float32 (options.preserve_color already handled)."""
        raise NotImplementedError

    def is_code(self, style) -> bool:
        return False

    # -- shared ------------------------------------------------------------------------
    def style_code(self, style, cache_key=None):
        if self.is_code(style):
            return style
        if cache_key is not None and cache_key in self._codes:
            return self._codes[cache_key]
        code = self.encode(style)
        if cache_key is not None:
            self._codes[cache_key] = code
        return code

    def stylize(self, content: np.ndarray, styles: list, options: StylizeOptions = StylizeOptions(),
                style_keys: list | None = None) -> np.ndarray:
        if not styles:
            raise ModelError("at least one style is needed")
        mode = options.preserve_color
        if mode is not None and mode not in PRESERVE_COLOR_MODES:
            raise ModelError(f"preserve_color must be one of {PRESERVE_COLOR_MODES}, not {mode!r}")
        if mode is not None and any(self.is_code(s) for s in styles):
            raise ModelError("colour preservation needs the style images, not style codes",
                             fix="pass the style image instead of its code, or drop --preserve-color")
        # Recoloured styles depend on the content: no caching then.
        keys = list(style_keys) if style_keys is not None and mode is None else [None] * len(styles)
        original = content
        if mode == "match":
            styles = [match_color(s, content) for s in styles]
        elif mode == "luminance":
            pairs = [luminance_only_inputs(content, s) for s in styles]
            content, styles = pairs[0][0], [p[1] for p in pairs]
        codes = [self.style_code(s, k) for s, k in zip(styles, keys)]
        result = self.apply(content, codes, options)
        if mode == "luminance":
            result = recombine_luminance(result, original)
        return result


class RuntimeStylizer(Stylizer):
    """An export directory through ``stylert.runtime.pipeline.Pipeline`` (no model code)."""

    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline

    def is_code(self, style) -> bool:
        from .codes import StyleCode

        return isinstance(style, StyleCode)

    def encode(self, style):
        return self.pipeline.encode_style(style)

    def apply(self, content, codes, options):
        return self.pipeline.stylize(content, codes, alpha=options.alpha, weights=options.weights, mask=options.mask)
