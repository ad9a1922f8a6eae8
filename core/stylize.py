"""The stylize contract: what every way of stylizing shares, validated once before any compute.

``Stylizer.stylize(content, styles, options)`` takes images [H, W, 3] float32 0..1 (or style
codes, for backends that have them), checks ``options`` against the styles and the model's
alpha levels (``check_options``), recolours or converts to luminance as
``options.preserve_color`` asks, encodes each style once per cache key, and calls the
subclass's ``apply`` with normalised options. The PyTorch reference
(``stylert.models.stylize.ReferenceStylizer``) and the runtime
(``stylert.runtime.stylizer.RuntimeStylizer``, exported graphs) are the two subclasses, so both
accept and refuse exactly the same options.

The rules (pytorch-AdaIN's ``test.py`` options, Huang & Belongie 2017, Sec. 7):

- ``alpha``: one value for every level, or one per level of the family (``alpha_levels``), each
  finite and in [0, 1];
- ``weights`` (style interpolation): one per style, finite, >= 0, with a positive sum; normalised
  to sum 1; with one style and no weights: (1,);
- ``mask`` (spatial control): exactly two styles and no ``weights``; [H, W] at the content's size,
  finite; 1 = first style, 0 = second;
- ``preserve_color``: None, ``"match"`` or ``"luminance"``;
- ``temporal_smoothing`` (video): the strength S in [0, 0.99] of the moving average of the AdaIN
  content statistics over frames (``stylert.core.temporal``; 0 = off); not with a mask. The
  running state of one video is a ``StatisticsEMA`` passed to ``stylize(..., temporal=state)``,
  frame after frame. The attention families have no content statistics: for them it is a
  documented no-op (``smooths_statistics`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ImageError, ModelError
from .budget import out_of_memory
from .color import luminance_only_inputs, match_color, recombine_luminance
from .images import hw_text
from .temporal import StatisticsEMA, check_strength

PRESERVE_COLOR_MODES = ("match", "luminance")


@dataclass(frozen=True)
class StylizeOptions:
    """alpha: one value, or one per level of the family.
    weights: interpolation weights, one per style (normalised to sum 1); None with one style.
    mask: [H, W] in {0, 1} at the content's size: style 0 where 1 (foreground), style 1 where 0.
    preserve_color: None, ``"match"`` or ``"luminance"``.
    temporal_smoothing: strength of the moving average of the content statistics over video frames (0: off).
    """

    alpha: float | tuple[float, ...] = 1.0
    weights: tuple[float, ...] | None = None
    mask: np.ndarray | None = None
    preserve_color: str | None = None
    temporal_smoothing: float = 0.0


def check_alpha(values) -> tuple[float, ...]:
    """The value rule of alpha, whatever the levels: a float or a sequence of floats, each finite and
    in [0, 1]. ModelError otherwise. The command line applies it when ``--alpha`` is parsed;
    ``alpha_values`` on every call."""
    try:
        values = tuple(float(a) for a in np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel())
    except (TypeError, ValueError):
        raise ModelError(f"alpha must be numbers, got {values!r}", fix="--alpha takes numbers from 0 to 1") from None
    if not all(np.isfinite(v) and 0.0 <= v <= 1.0 for v in values):
        raise ModelError(f"alpha must be in [0, 1] (finite numbers), got {list(values)}",
                         fix="--alpha takes numbers from 0 to 1")
    return values


def alpha_values(alpha, levels, family: str = "") -> tuple[float, ...]:
    """A float, or a sequence of 1 or ``len(levels)`` floats -> one float per level, each in [0, 1].
    ModelError names the levels and the values."""
    values = list(check_alpha(alpha))
    who = f"{family} " if family else ""
    if len(values) == 1:
        values = values * len(levels)
    if len(values) != len(levels):
        counts = "1 alpha value" if len(levels) == 1 else f"1 or {len(levels)} alpha values"
        raise ModelError(f"{who}takes {counts} ({', '.join(levels)}), got {len(values)}",
                         fix="give --alpha one value, or one per level")
    return tuple(values)


def check_weights(weights) -> tuple[float, ...]:
    """The value rule of interpolation weights, whatever the styles: each finite and >= 0, with a
    positive sum. ModelError otherwise. Applied when ``--weights`` is parsed and on every call."""
    values = tuple(float(w) for w in weights)
    if not all(np.isfinite(w) and w >= 0 for w in values) or not sum(values) > 0:
        raise ModelError(f"interpolation weights must be finite and >= 0 with a positive sum, got {list(values)}",
                         fix="e.g. --weights 1,3")
    return values


def interpolation_weights(weights, n_styles: int) -> tuple[float, ...]:
    """None -> equal weights; otherwise one finite weight >= 0 per style with a positive sum,
    normalised to sum 1. ModelError otherwise."""
    if weights is None:
        return (1.0 / n_styles,) * n_styles
    values = [float(w) for w in weights]
    if len(values) != n_styles:
        raise ModelError(f"{n_styles} style(s) but {len(values)} interpolation weights",
                         fix="give --weights one value per --style")
    values = check_weights(values)
    total = sum(values)
    return tuple(w / total for w in values)


def check_options(options: StylizeOptions, n_styles: int, levels, content_hw=None,
                  family: str = "") -> StylizeOptions:
    """``options`` validated against ``n_styles`` styles, the model's alpha ``levels`` and the content's
    (H, W), and normalised: alpha one float per level, weights normalised (None with a mask).
    Raises ModelError (bad values) or ImageError (a mask of another size) before any compute."""
    if n_styles < 1:
        raise ModelError("at least one style is needed")
    mode = options.preserve_color
    if mode is not None and mode not in PRESERVE_COLOR_MODES:
        raise ModelError(f"preserve_color must be one of {PRESERVE_COLOR_MODES}, not {mode!r}")
    alpha = alpha_values(options.alpha, levels, family)
    smoothing = check_strength(options.temporal_smoothing)
    mask = options.mask
    if mask is not None and smoothing > 0:
        raise ModelError("temporal smoothing applies to videos and masks to images: not both",
                         fix="drop --mask, or --temporal-smoothing 0")
    if mask is not None:
        if n_styles != 2 or options.weights is not None:
            raise ModelError(f"a mask takes exactly two styles (white: first, black: second) and no interpolation "
                             f"weights; got {n_styles} style(s)" + (" and weights" if options.weights else ""),
                             fix="drop --weights, or drop --mask")
        mask = np.asarray(mask, dtype=np.float32)
        if content_hw is not None and mask.shape != tuple(content_hw):
            raise ImageError(f"mask is {mask.shape[1] if mask.ndim > 1 else '?'}x{mask.shape[0]}, the content is "
                             f"{content_hw[1]}x{content_hw[0]}",
                             fix="use a mask of the content's size (it is resized with the content)")
        if not np.isfinite(mask).all():
            raise ImageError("mask has NaN or Inf values")
        weights = None
    else:
        weights = interpolation_weights(options.weights, n_styles)
    return StylizeOptions(alpha=alpha, weights=weights, mask=mask, preserve_color=mode, temporal_smoothing=smoothing)


class Stylizer:
    """Base of every stylizer: subclasses give ``alpha_levels``, ``encode`` and ``apply``."""

    #: The family's alpha levels, e.g. ("relu4_1",) or ("relu2_1", "relu3_1", "relu4_1").
    alpha_levels: tuple[str, ...] = ()
    family: str = ""
    #: What a run's memory grows with (``stylert.core.budget.Footprint``).
    footprint = None
    #: Whether ``temporal_smoothing`` acts (the AdaIN families: content statistics); else a no-op.
    smooths_statistics: bool = False

    def __init__(self):
        self._codes: dict = {}

    # -- to implement ------------------------------------------------------------------
    def encode(self, style: np.ndarray):
        """Style image [H, W, 3] -> this stylizer's style code."""
        raise NotImplementedError

    def apply(self, content: np.ndarray, codes: list, options: StylizeOptions,
              temporal: StatisticsEMA | None = None, decoder_hook=None) -> np.ndarray:
        """content [H, W, 3] + codes -> stylized [H, W, 3] float32. ``options`` come from
        ``check_options`` (alpha per level, normalised weights); preserve_color is already handled.
        ``temporal``: the video's smoothing state, or None (frames independent). ``decoder_hook``:
        as ``stylert.runtime.pipeline.Pipeline.stylize``'s (the decoder's inputs [1, C, h, w] on the
        host, rewritten before the decoder runs); a stylizer that cannot reach them refuses it."""
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

    def temporal_state(self, options: StylizeOptions) -> StatisticsEMA | None:
        """A fresh smoothing state for one video, or None where smoothing is off or a no-op."""
        strength = check_strength(options.temporal_smoothing)
        return StatisticsEMA(strength) if strength > 0 and self.smooths_statistics else None

    def stylize(self, content: np.ndarray, styles: list, options: StylizeOptions = StylizeOptions(),
                style_keys: list | None = None, temporal: StatisticsEMA | None = None,
                decoder_hook=None) -> np.ndarray:
        """``temporal``: the state of the video this frame belongs to (``temporal_state``), frames in order.
        ``decoder_hook``: see ``apply`` (``FeatureBlend``: feature-space temporal blending)."""
        options = check_options(options, len(styles), self.alpha_levels, content.shape[:2], self.family)
        if temporal is not None and temporal.strength != options.temporal_smoothing:
            raise ModelError(f"the smoothing state has strength {temporal.strength}, the options "
                             f"{options.temporal_smoothing}", fix="make the state with temporal_state(options)")
        mode = options.preserve_color
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
        try:
            codes = [self.style_code(s, k) for s, k in zip(styles, keys)]
            temporal = temporal if self.smooths_statistics else None
            result = (self.apply(content, codes, options, temporal) if decoder_hook is None
                      else self.apply(content, codes, options, temporal, decoder_hook=decoder_hook))
        except Exception as err:  # an allocator's error, whatever the backend, becomes one line
            if not out_of_memory(err):
                raise
            raise ModelError(f"ran out of memory stylizing a {hw_text(content.shape[-3:-1])} (HxW) content "
                             f"({type(err).__name__})",
                             fix="a smaller --content-size/--style-size, or free memory") from None
        if mode == "luminance":
            result = recombine_luminance(result, original)
        return result
