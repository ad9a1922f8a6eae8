"""Optical flow, warping and occlusion between consecutive video frames. No torch; OpenCV imported lazily.

The one implementation behind the warping error (``stylert.evaluation.warping``, Lai et al.
ECCV 2018) and flow-guided temporal blending (``stylert.core.temporal.FlowBlend``):

1. ``dis_flow``: OpenCV's DIS optical flow (Kroeger et al. ECCV 2016, preset MEDIUM) on the
   grey (BT.601 luma, ``cv2.COLOR_RGB2GRAY``) uint8 input frames;
2. ``warp``: ``out(x) = image(x + flow(x))``, bilinear, edges replicated (``cv2.remap``);
3. ``visible_mask``: the forward-backward consistency check (Sundaram et al. ECCV 2010, as
   Ruder et al. 2016 and Lai et al. 2018 use it): with ``b`` the flow t -> t-1, ``f`` the flow
   t-1 -> t and ``f_w(x) = f(x + b(x))``, pixel x of frame t is occluded where
   ``|b + f_w|^2 > 0.01 (|b|^2 + |f_w|^2) + 0.5`` (pixels squared), or where x + b(x) leaves
   the frame.

Frames are uint8 [H, W, 3] RGB; flows float32 [H, W, 2] (dx, dy) in pixels; masks float32
[H, W] in {0, 1}. ``pair_flow`` computes everything one pair of frames needs, once, so that a
caller measuring several stylizations of the same input (``stylert.benchmarks.video_temporal``)
reuses it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MissingDependencyError, StylertError

INSTALL_OPENCV = "pip install opencv-python-headless (or pip install 'stylert[video]')"


def cv2_module():
    """OpenCV, or MissingDependencyError naming the install command; a one-line error when it is
    installed but does not import."""
    try:
        import cv2
    except ModuleNotFoundError as err:
        if err.name == "cv2":
            raise MissingDependencyError("opencv-python-headless", INSTALL_OPENCV,
                                         "optical flow (temporal blending, the warping error)") from None
        broken = err
    except ImportError as err:
        broken = err
    else:
        return cv2
    raise StylertError(f"opencv-python-headless is installed but does not import ({type(broken).__name__}: {broken})",
                       fix="reinstall it: pip install --force-reinstall opencv-python-headless") from broken


def dis_flow(frame_from: np.ndarray, frame_to: np.ndarray) -> np.ndarray:
    """DIS optical flow (preset MEDIUM) between two uint8 [H, W, 3] RGB frames -> float32 [H, W, 2]
    (dx, dy) in pixels, such that ``frame_from(x) ~ frame_to(x + flow(x))``."""
    cv2 = cv2_module()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    a = cv2.cvtColor(np.ascontiguousarray(frame_from), cv2.COLOR_RGB2GRAY)
    b = cv2.cvtColor(np.ascontiguousarray(frame_to), cv2.COLOR_RGB2GRAY)
    return dis.calc(a, b, None)


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))


#: ``cv2.remap`` returns wrong shapes above this many channels: wider images are warped in slices.
_REMAP_CHANNELS = 128


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``out(x) = image(x + flow(x))``, bilinear, edges replicated. image [H, W, C] (any real dtype,
    computed in float32; any C, feature maps included), flow float32 [H, W, 2] -> float32 [H, W, C].
    A zero flow returns the image's values exactly (bilinear weights 1, 0, 0, 0)."""
    cv2 = cv2_module()
    h, w = flow.shape[:2]
    gx, gy = _grid(h, w)
    map_x, map_y = gx + flow[..., 0], gy + flow[..., 1]
    image = np.asarray(image, dtype=np.float32)

    def remap(part):
        out = cv2.remap(np.ascontiguousarray(part), map_x, map_y, interpolation=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        return out.reshape(h, w, part.shape[2]) if part.ndim == 3 else out

    if image.ndim == 3 and image.shape[2] > _REMAP_CHANNELS:
        return np.concatenate([remap(image[..., i:i + _REMAP_CHANNELS])
                               for i in range(0, image.shape[2], _REMAP_CHANNELS)], axis=2)
    return remap(image)


def resize_flow(flow: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    """A flow [H, W, 2] (pixels) -> the same motion on a grid of hw = (h, w): area-averaged, the
    vectors scaled by w / W and h / H (feature pixels). The identity at the same size."""
    cv2 = cv2_module()
    h, w = int(hw[0]), int(hw[1])
    if flow.shape[:2] == (h, w):
        return np.asarray(flow, np.float32)
    out = cv2.resize(np.ascontiguousarray(flow, dtype=np.float32), (w, h), interpolation=cv2.INTER_AREA)
    out[..., 0] *= np.float32(w / flow.shape[1])
    out[..., 1] *= np.float32(h / flow.shape[0])
    return out


def visible_mask(backward: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Forward-backward check -> float32 [H, W], 1 where pixel x of frame t is visible in frame t-1.

    backward: flow t -> t-1 [H, W, 2]; forward: flow t-1 -> t [H, W, 2]. Occluded (0) where
    ``|b + f_w|^2 > 0.01 (|b|^2 + |f_w|^2) + 0.5`` with ``f_w = warp(forward, backward)``, or
    where x + b(x) is outside the frame.
    """
    h, w = backward.shape[:2]
    f_w = warp(forward, backward)
    lhs = np.sum((backward + f_w) ** 2, axis=2)
    rhs = 0.01 * (np.sum(backward**2, axis=2) + np.sum(f_w**2, axis=2)) + 0.5
    gx, gy = _grid(h, w)
    tx, ty = gx + backward[..., 0], gy + backward[..., 1]
    inside = (tx >= 0) & (tx <= w - 1) & (ty >= 0) & (ty <= h - 1)
    return ((lhs <= rhs) & inside).astype(np.float32)


@dataclass(frozen=True)
class PairFlow:
    """What one pair of consecutive input frames (t-1, t) gives: ``backward`` flow t -> t-1 float32
    [H, W, 2] (pixel x of frame t is at x + b(x) in frame t-1) and ``mask`` float32 [H, W], 1 where
    x is visible in frame t-1 (``visible_mask``)."""

    backward: np.ndarray
    mask: np.ndarray

    @property
    def visible_fraction(self) -> float:
        return float(self.mask.mean())


def pair_flow(previous: np.ndarray, current: np.ndarray) -> PairFlow:
    """Both DIS flows between two uint8 [H, W, 3] RGB input frames and the occlusion mask of ``current``."""
    backward = dis_flow(current, previous)
    forward = dis_flow(previous, current)
    return PairFlow(backward, visible_mask(backward, forward))


def clip_flows(frames) -> list[PairFlow]:
    """``pair_flow`` of every consecutive pair of a list of uint8 [H, W, 3] frames (len(frames) - 1 items)."""
    from itertools import pairwise

    return [pair_flow(a, b) for a, b in pairwise(frames)]
