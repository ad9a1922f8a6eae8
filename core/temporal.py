"""Temporal smoothing of the AdaIN content statistics across video frames (no retraining). No torch.

AdaIN normalises each frame's content features with that frame's own per-channel mean and std
(``mu_t``, ``sigma_t`` of every AdaIN level). Those statistics jump between frames, and the
output flickers with them. ``StatisticsEMA`` replaces them by an exponential moving average

    m_t = m_{t-1} + (1 - S) * (mu_t - m_{t-1})        (the same for sigma), m_0 = mu_0

with strength ``S`` in [0, 1) (0: off, the frame's own statistics). The update is written as a
step towards the new value, so a frame whose statistics equal the average leaves it unchanged
bit for bit (a still video is not changed by any strength).

Scene cuts: the statistics themselves show a cut. For each frame the relative L1 change of
its statistics against the previous frame's, averaged over the levels,

    d_t = mean_levels (|mu_t - mu_{t-1}|_1 + |sigma_t - sigma_{t-1}|_1) / (|mu_{t-1}|_1 + |sigma_{t-1}|_1)

is compared with ``cut_threshold``; above it, the average restarts from the frame's own
statistics (no ghost of the previous shot). ``CUT_THRESHOLD`` was chosen from the changes
measured on the shared clip and on synthetic clips (docs/video.md).

Arrays are numpy [N, C, 1, 1] per level (N consecutive frames, oldest first), as the encoder
graph outputs them (``TAP_mean``, ``TAP_std``); the PyTorch reference converts its tensors.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError

#: Default ``--temporal-smoothing`` for videos of the AdaIN families (chosen from measurement).
DEFAULT_STRENGTH = 0.8
#: Relative change of the statistics above which a frame starts a new shot.
CUT_THRESHOLD = 0.15
MAX_STRENGTH = 0.99


def check_strength(strength) -> float:
    """A smoothing strength -> float in [0, MAX_STRENGTH]; ModelError otherwise."""
    try:
        value = float(strength)
    except (TypeError, ValueError):
        raise ModelError(f"temporal smoothing must be a number, got {strength!r}",
                         fix=f"--temporal-smoothing takes a number from 0 (off) to {MAX_STRENGTH}") from None
    if not math.isfinite(value) or not 0.0 <= value <= MAX_STRENGTH:
        raise ModelError(f"temporal smoothing must be in [0, {MAX_STRENGTH}], got {strength}",
                         fix=f"--temporal-smoothing takes a number from 0 (off) to {MAX_STRENGTH}")
    return value


def statistics_change(previous: dict, current: dict) -> float:
    """``d_t`` above between two frames' statistics (level -> (mean [C], std [C]))."""
    changes = []
    for level, (mean, std) in current.items():
        p_mean, p_std = previous[level]
        num = np.abs(mean - p_mean).sum() + np.abs(std - p_std).sum()
        den = np.abs(p_mean).sum() + np.abs(p_std).sum()
        changes.append(float(num / max(float(den), 1e-12)))
    return float(np.mean(changes))


class StatisticsEMA:
    """The running state of one video: feed the frames' statistics in order, get them smoothed.

    ``update({level: (mean, std)})`` with arrays [N, C, 1, 1] of N consecutive frames returns the
    smoothed statistics of the same shapes (float32). ``cuts`` lists the frame indices (0-based,
    counted over all updates) where the average restarted; frame 0 is always one. ``changes``
    holds ``d_t`` of every frame after the first (the measurement the threshold was chosen from).
    """

    def __init__(self, strength: float, cut_threshold: float = CUT_THRESHOLD):
        self.strength = check_strength(strength)
        if not (math.isfinite(cut_threshold) and cut_threshold > 0):
            raise ModelError(f"the cut threshold must be a positive number, got {cut_threshold}")
        self.cut_threshold = float(cut_threshold)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame starts a new shot."""
        self.frames = 0
        self.cuts: list[int] = []
        self.changes: list[float] = []
        self._previous: dict | None = None
        self._average: dict | None = None

    def update(self, stats: dict) -> dict:
        levels = list(stats)
        n = int(np.shape(stats[levels[0]][0])[0])
        step = np.float32(1.0 - self.strength)
        out = {lv: (np.empty_like(np.asarray(m, np.float32)), np.empty_like(np.asarray(s, np.float32)))
               for lv, (m, s) in stats.items()}
        for i in range(n):
            frame = {lv: (np.asarray(m[i], np.float32), np.asarray(s[i], np.float32)) for lv, (m, s) in stats.items()}
            cut = self._previous is None
            if not cut:
                change = statistics_change(self._previous, frame)
                self.changes.append(change)
                cut = change > self.cut_threshold
            if cut:
                self.cuts.append(self.frames)
                self._average = {lv: (m.copy(), s.copy()) for lv, (m, s) in frame.items()}
            else:
                self._average = {lv: (a_m + step * (m - a_m), a_s + step * (s - a_s))
                                 for (lv, (m, s)), (a_m, a_s) in zip(frame.items(), self._average.values())}
            self._previous = frame
            for lv, (a_m, a_s) in self._average.items():
                out[lv][0][i], out[lv][1][i] = a_m, a_s
            self.frames += 1
        return out


# ------------------------------------------------------------------ flow-guided blending of output frames
#: Default ``--temporal-blend`` for videos (every family; chosen from measurement, docs/video.md).
DEFAULT_BLEND = 0.3
MAX_BLEND = 0.95
#: Fraction of reliable pixels (visible and with a matching input) below which a frame starts a new shot.
BLEND_CUT_FRACTION = 0.3
#: Mean absolute RGB difference (0..1) between the current input and the warped previous input at
#: which a pixel's blend weight reaches 0 (lighting change, flow failure: no ghost of the last frame).
INPUT_TOLERANCE = 0.1
#: Detail restoration: the Gaussian sigmas (pixels) of the cascade that splits the frame into detail
#: bands (L_0 = the frame, L_k = blur(L_{k-1}, sigma_k), band k = L_{k-1} - L_k; the blurs compound, so
#: L_1..L_3 are the frame blurred at 1.5, 3.35 and 6.87 px), the window of each band's local energy
#: (ENERGY_WINDOW x its sigma_k), and the largest gain. Chosen on the pan and zoom
#: clips (docs/video.md): three bands lowered the style-loss cost of W = 0.3 from +22% / +9% (one band,
#: sigma 1.5) to +13% / +7% for a warping error of 0.58x / 0.68x instead of 0.55x / 0.66x.
DETAIL_SIGMAS, ENERGY_WINDOW, MAX_GAIN = (1.5, 3.0, 6.0), 2.0, 4.0


def check_blend(weight) -> float:
    """A blend weight -> float in [0, MAX_BLEND]; ModelError otherwise."""
    try:
        value = float(weight)
    except (TypeError, ValueError):
        raise ModelError(f"temporal blend must be a number, got {weight!r}",
                         fix=f"--temporal-blend takes a number from 0 (off) to {MAX_BLEND}") from None
    if not math.isfinite(value) or not 0.0 <= value <= MAX_BLEND:
        raise ModelError(f"temporal blend must be in [0, {MAX_BLEND}], got {weight}",
                         fix=f"--temporal-blend takes a number from 0 (off) to {MAX_BLEND}")
    return value


#: Where ``--temporal-blend`` blends: ``image`` (the output frames, ``FlowBlend``) or ``feature`` (the
#: decoder's inputs, ``FeatureBlend``).
BLEND_SPACES = ("image", "feature")
#: Default ``--temporal-blend-space`` (chosen from measurement, docs/video.md).
DEFAULT_BLEND_SPACE = "image"


def check_blend_space(space) -> str:
    """A blend space -> one of ``BLEND_SPACES``; ModelError otherwise."""
    if space not in BLEND_SPACES:
        raise ModelError(f"temporal blend space must be one of {', '.join(BLEND_SPACES)}, got {space!r}",
                         fix=f"--temporal-blend-space takes {' or '.join(BLEND_SPACES)}")
    return space


def make_blender(weight, space: str = DEFAULT_BLEND_SPACE):
    """The blender of one video: ``FlowBlend`` (image) or ``FeatureBlend`` (feature), None at weight 0;
    the weight and the space checked, and OpenCV imported (a missing one stops here, before any frame)."""
    weight, space = check_blend(weight), check_blend_space(space)
    if weight == 0:
        return None
    from .flow import cv2_module

    cv2_module()
    return FlowBlend(weight) if space == "image" else FeatureBlend(weight)


def _check_frame(frame) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"input frames must be uint8 [H, W, 3], got {frame.dtype} {frame.shape}")
    return frame


class _FlowHistory:
    """What flow-guided blending keeps of a video, whatever it blends: the previous input frame, the
    shots (``cuts``), and the per-pixel weight rule of ``FlowBlend`` (its docstring)."""

    def __init__(self, weight: float, cut_fraction: float = BLEND_CUT_FRACTION,
                 input_tolerance: float = INPUT_TOLERANCE):
        self.weight = check_blend(weight)
        if not (math.isfinite(cut_fraction) and 0 <= cut_fraction < 1):
            raise ModelError(f"the cut fraction must be in [0, 1), got {cut_fraction}")
        if not (math.isfinite(input_tolerance) and input_tolerance > 0):
            raise ModelError(f"the input tolerance must be a positive number, got {input_tolerance}")
        self.cut_fraction = float(cut_fraction)
        self.input_tolerance = float(input_tolerance)
        self.reset()

    def reset(self) -> None:
        """Forget the history: the next frame starts a new shot."""
        self.frames = 0
        self.cuts: list[int] = []
        self.reliable: list[float] = []
        self._input: np.ndarray | None = None

    def _step(self, frame: np.ndarray, cut: bool, flow, same_shape: bool = True):
        """Advance by one input frame -> (PairFlow, weight [H, W] without W) to blend with, or None where
        the frame starts a new shot (recorded in ``cuts``). ``same_shape``: whether what is blended has
        the previous frame's shape (False starts a new shot)."""
        from .flow import pair_flow

        step = None
        if not (cut or not same_shape or self._input is None or self._input.shape != frame.shape):
            pair = flow if flow is not None else pair_flow(self._input, frame)
            weight = self.weights(frame, self._input, pair)
            self.reliable.append(float(np.mean(weight > 0)))
            if self.reliable[-1] >= self.cut_fraction:
                step = pair, weight
        if step is None:
            self.cuts.append(self.frames)
        self._input = frame
        self.frames += 1
        return step

    def weights(self, frame: np.ndarray, previous: np.ndarray, pair) -> np.ndarray:
        """``M_t(x) * max(0, 1 - d_t(x) / input_tolerance)`` above (without W): float32 [H, W] in [0, 1]."""
        from .flow import warp

        current = frame.astype(np.float32) * np.float32(1 / 255)
        warped = warp(previous.astype(np.float32) * np.float32(1 / 255), pair.backward)
        d = np.abs(current - warped).mean(axis=2)
        return pair.mask * np.maximum(np.float32(0), np.float32(1) - d / np.float32(self.input_tolerance))


class FlowBlend(_FlowHistory):
    """Flow-guided temporal blending of stylized frames, no retraining: the blind temporal-consistency
    baseline of Lai et al. (ECCV 2018, Sec. 4; after Bonneel et al., SIGGRAPH Asia 2015).

    For input frames I_t (uint8 [H, W, 3] RGB) and their stylized frames S_t (float32 [H, W, 3]
    RGB 0..1), the output is O_0 = S_0 and

        O_t(x) = S_t(x) + w_t(x) * (O_{t-1}(x + b_t(x)) - S_t(x))

    with ``b_t`` the backward DIS flow t -> t-1 on the *input* frames and, per pixel,

        w_t(x) = W * M_t(x) * max(0, 1 - d_t(x) / INPUT_TOLERANCE),
        d_t(x) = mean over RGB of |I_t(x) - I_{t-1}(x + b_t(x))|   (0..1)

    ``M_t`` the forward-backward visibility mask (``stylert.core.flow.visible_mask``, the one the
    warping error uses): occluded pixels take S_t; pixels whose input does not match the warped
    previous input (a lighting change, a flow failure) are down-weighted linearly, so they cannot
    ghost. ``W`` in [0, MAX_BLEND] (0: off; the caller then skips the blender). Written as a step
    towards the previous output, so where that equals S_t the frame comes back bit for bit (a
    still video is unchanged by any weight). O_{t-1} is kept in float32, before any rounding.

    Blending two stylizations lowers the contrast of their strokes, so the blended frame then goes
    through ``restore_detail`` (its bands rescaled to the local energy of S_t's, where w_t > 0) and
    is clipped to 0..1; that result is O_t, and the next frame blends with it.

    A frame starts a new shot (O_t = S_t, the history dropped) when it is the first, when its size
    differs from the last, when the caller says so (``cut=True``: the statistics cut detector of
    ``StatisticsEMA``), or when fewer than ``cut_fraction`` of its pixels have weight above zero
    (most pixels occluded or unmatched: a scene cut). ``cuts`` lists those frame indices
    (0-based, over all frames given), ``reliable`` the fraction of pixels with weight above zero
    of every frame after the first of a shot (the measurement ``cut_fraction`` was chosen from).

    ``detail_sigmas``: the bands ``restore_detail`` rescales (``DETAIL_SIGMAS``; ``()`` restores
    nothing). ``combine`` is the per-frame rule; a subclass may replace it (the benchmark of
    restorations, ``stylert.benchmarks.blend_restoration``, measures others this way).
    """

    def __init__(self, weight: float, cut_fraction: float = BLEND_CUT_FRACTION,
                 input_tolerance: float = INPUT_TOLERANCE, detail_sigmas=DETAIL_SIGMAS):
        self.detail_sigmas = tuple(detail_sigmas)
        super().__init__(weight, cut_fraction, input_tolerance)

    def reset(self) -> None:
        """Forget the history: the next frame starts a new shot."""
        super().reset()
        self._output: np.ndarray | None = None

    def combine(self, stylized: np.ndarray, previous: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """S_t, the warped previous output and the per-pixel weight w_t (W included, float32 [H, W]) ->
        O_t before clipping: the blend, then ``restore_detail`` where w_t > 0."""
        out = stylized + weight[..., None] * (previous - stylized)
        return restore_detail(out, stylized, weight > 0, self.detail_sigmas)

    def update(self, frame: np.ndarray, stylized: np.ndarray, cut: bool = False, flow=None) -> np.ndarray:
        """One frame: input uint8 [H, W, 3], its stylized frame float [H, W, 3] 0..1 -> the blended
        frame, float32 [H, W, 3] 0..1. ``flow``: the ``stylert.core.flow.PairFlow`` of (previous
        input, this input) when already computed; None computes it."""
        from .flow import warp

        frame = _check_frame(frame)
        stylized = np.asarray(stylized, dtype=np.float32)
        if stylized.shape != frame.shape:
            raise ValueError(f"the stylized frame is {stylized.shape}, its input {frame.shape}")
        out = stylized
        step = self._step(frame, cut, flow)
        if step is not None:
            pair, weight = step
            previous = warp(self._output, pair.backward)
            out = np.clip(self.combine(stylized, previous, self.weight * weight), 0.0, 1.0)
        self._output = out
        return out

    def apply(self, frame: np.ndarray, stylized: np.ndarray, cut: bool = False) -> np.ndarray:
        """``update`` for a stylized frame of either kind: uint8 in -> uint8 out (``to_uint8``), float in
        -> float32 out."""
        from .images import to_uint8

        if np.asarray(stylized).dtype == np.uint8:
            return to_uint8(self.update(frame, stylized.astype(np.float32) * np.float32(1 / 255), cut))
        return self.update(frame, stylized, cut)



class FeatureBlend(_FlowHistory):
    """Flow-guided temporal blending of the decoder's inputs, before the decoder renders them: the
    feature-space composition of Chen et al. ("Coherent Online Video Style Transfer", ICCV 2017),
    with the flow, occlusion and weights of ``FlowBlend`` in place of their trained networks.

    For each decoder input l of frame t (a transform output T_t^l [C, h_l, w_l] of the frame padded
    to ``padded`` = (H', W')), the decoder gets

        F_t^l(y) = T_t^l(y) + W * w_t^l(y) * (F_{t-1}^l(y + b_t^l(y)) - T_t^l(y))

    with ``b_t^l`` the backward input flow of ``FlowBlend`` padded to (H', W') (edges replicated,
    as the image is reflect-padded at the bottom and right), area-averaged to (h_l, w_l) and its
    vectors scaled to feature pixels (``stylert.core.flow.resize_flow``), and ``w_t^l`` the per-pixel
    weight of ``FlowBlend`` (occlusion mask times input match, without W) padded and area-averaged
    the same way. F_{t-1} is the previous frame's blended decoder inputs (float32), so the history
    is recursive, as O_{t-1} is in ``FlowBlend``. No detail restoration: the decoder renders the
    strokes from the blended features at full contrast.

    Shots as in ``FlowBlend`` (first frame, a size change of the frame or of any feature, ``cut``,
    fewer than ``cut_fraction`` reliable pixels at full resolution); a shot's first frame comes back
    unchanged. Where the previous features equal the current ones and the flow is zero (a still
    video) the features come back bit for bit.
    """

    def reset(self) -> None:
        """Forget the history: the next frame starts a new shot."""
        super().reset()
        self._features: dict | None = None

    def update(self, frame: np.ndarray, features: dict, padded=None, cut: bool = False, flow=None) -> dict:
        """One frame: input uint8 [H, W, 3] and its decoder inputs {name: [C, h, w]} computed on the frame
        padded to ``padded`` (H', W') >= (H, W) (None: not padded) -> the blended decoder inputs, float32,
        same names and shapes. ``flow``: the frame pair's ``PairFlow`` when already computed."""
        from .flow import resize_flow, warp

        frame = _check_frame(frame)
        feats = {k: np.asarray(v, dtype=np.float32) for k, v in features.items()}
        if any(v.ndim != 3 for v in feats.values()):
            raise ValueError(f"decoder inputs must be [C, h, w], got {[v.shape for v in feats.values()]}")
        padded = frame.shape[:2] if padded is None else (int(padded[0]), int(padded[1]))
        if padded[0] < frame.shape[0] or padded[1] < frame.shape[1]:
            raise ValueError(f"the padded size {padded} is smaller than the frame {frame.shape[:2]}")
        previous = self._features
        same = previous is not None and {k: v.shape for k, v in previous.items()} == {k: v.shape for k, v in feats.items()}
        step = self._step(frame, cut, flow, same)
        out = feats
        if step is not None:
            pair, weight = step
            backward, weight = _pad_edge(pair.backward, padded), _pad_edge(weight, padded)
            out = {}
            for name, current in feats.items():
                hw = current.shape[1:]
                warped = warp(previous[name].transpose(1, 2, 0), resize_flow(backward, hw)).transpose(2, 0, 1)
                w = _resize_area(weight, hw) * np.float32(self.weight)
                out[name] = current + w[None] * (warped - current)
        self._features = out
        return out

    def update_batch(self, frames, features: dict, padded=None, cuts=()) -> dict:
        """``update`` over N consecutive frames: uint8 [N, H, W, 3] and {name: [N, C, h, w]} -> blended
        {name: [N, C, h, w]} float32; ``cuts``: indices in the batch the caller found cuts at."""
        outs = [self.update(frame, {k: v[i] for k, v in features.items()}, padded, cut=i in cuts)
                for i, frame in enumerate(frames)]
        return {k: np.stack([o[k] for o in outs]) for k in features}


def _pad_edge(array: np.ndarray, hw) -> np.ndarray:
    """[H, W, ...] -> [H', W', ...] with the last rows and columns repeated (H' >= H, W' >= W)."""
    pad = [(0, int(hw[0]) - array.shape[0]), (0, int(hw[1]) - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
    return np.pad(array, pad, mode="edge") if pad[0][1] or pad[1][1] else array


def _resize_area(array: np.ndarray, hw) -> np.ndarray:
    """[H, W] float32 -> [h, w] by area averaging (the identity at the same size)."""
    from .flow import cv2_module

    if array.shape[:2] == tuple(hw):
        return array
    return cv2_module().resize(np.ascontiguousarray(array), (int(hw[1]), int(hw[0])),
                               interpolation=cv2_module().INTER_AREA)

def restore_detail(blended: np.ndarray, stylized: np.ndarray, where: np.ndarray,
                   sigmas=DETAIL_SIGMAS) -> np.ndarray:
    """The detail restoration of ``FlowBlend``: blended and stylized float32 [H, W, 3] 0..1, ``where``
    bool [H, W] (the pixels that were blended) -> float32 [H, W, 3].

    Averaging two stylizations whose strokes differ lowers their contrast at every scale. For each
    band k of ``sigmas`` (a Laplacian-style split with Gaussian blurs, ``DETAIL_SIGMAS``), the
    blended frame's band D_B is rescaled to the local energy of the stylized frame's band D_S (bands of a
    cascade: L_0 = the frame, L_k = G_{sigma_k} * L_{k-1}, D_k = L_{k-1} - L_k):

        O = B + sum_k D_B,k (g_k - 1),   g_k = clip(sqrt(G_k * |D_S,k|^2 / G_k * |D_B,k|^2), 1, MAX_GAIN)

    with G_k a Gaussian window of sigma ``ENERGY_WINDOW * sigma_k`` and |.|^2 summed over RGB; g_k
    = 1 outside ``where``. The variance-preserving idea of texture blending (Heitz and Neyret, HPG
    2018), applied locally and per band. Where the blend changed nothing (B = S) every gain is 1
    and the frame comes back unchanged."""
    from .flow import cv2_module

    cv2 = cv2_module()

    def blur(x, sigma):
        return cv2.GaussianBlur(x, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)

    out = np.array(blended, dtype=np.float32, copy=True)
    rest_b, rest_s = np.asarray(blended, np.float32), np.asarray(stylized, np.float32)
    for sigma in sigmas:
        low_b, low_s = blur(rest_b, sigma), blur(rest_s, sigma)
        detail_b, detail_s = rest_b - low_b, rest_s - low_s
        window = ENERGY_WINDOW * sigma
        energy_b = blur(np.ascontiguousarray((detail_b * detail_b).sum(axis=2)), window)
        energy_s = blur(np.ascontiguousarray((detail_s * detail_s).sum(axis=2)), window)
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.sqrt(energy_s / energy_b)
        gain = np.where(where & (energy_b > 0), np.clip(np.nan_to_num(gain, nan=1.0), 1.0, MAX_GAIN), 1.0)
        out += detail_b * (gain.astype(np.float32) - np.float32(1))[..., None]
        rest_b, rest_s = low_b, low_s
    return out
