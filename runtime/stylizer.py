"""``RuntimeStylizer``: the stylize contract (``stylert.core.stylize.Stylizer``) over an export's pipeline."""

from __future__ import annotations

from ..core.stylize import Stylizer
from .codes import StyleCode


class RuntimeStylizer(Stylizer):
    """An export directory through ``stylert.runtime.pipeline.Pipeline`` (no model code)."""

    def __init__(self, pipeline):
        super().__init__()
        self.pipeline = pipeline
        self.family = pipeline.family
        self.alpha_levels = tuple(pipeline.alpha_levels)
        self.footprint = pipeline.manifest.footprint
        self.smooths_statistics = pipeline.smooths_statistics

    def is_code(self, style) -> bool:
        return isinstance(style, StyleCode)

    def encode(self, style):
        return self.pipeline.encode_style(style)

    def apply(self, content, codes, options, temporal=None, decoder_hook=None):
        return self.pipeline.stylize(content, codes, alpha=options.alpha, weights=options.weights, mask=options.mask,
                                     temporal=temporal, decoder_hook=decoder_hook)
