"""Temporal consistency of a stylized video: the warping error of Lai et al. (ECCV 2018).

For each pair of consecutive frames (t-1, t):

1. optical flow on the *input* frames (grey, uint8) with OpenCV's DIS flow (preset MEDIUM),
   both ways: ``b`` from frame t to t-1 (pixel x of frame t is at x + b(x) in frame t-1) and
   ``f`` from t-1 to t;
2. occlusion by the forward-backward consistency check (Sundaram et al. 2010, as Ruder et al.
   2016 and Lai et al. use it): with ``f_w(x) = f(x + b(x))``, x is occluded where
   ``|b + f_w|^2 > 0.01 (|b|^2 + |f_w|^2) + 0.5`` (pixels squared), or where x + b(x) leaves the frame;
3. ``E_t = sum_x M(x) |O_t(x) - O_{t-1}(x + b(x))|^2 / (3 sum_x M(x))``: the mean squared
   difference over the visible (M = 1) pixels and the 3 channels, RGB 0..1, between the
   current output frame and the previous output frame warped to it (bilinear);

and the warping error is the mean of E_t over the pairs. The same flows and masks applied to
the input frames give the input video's own warping error, the floor a stylization that
flickers no more than its input would reach (it is not 0: flow is not exact, light changes).
Pairs where every pixel is occluded (scene cuts) are skipped and counted.

Units: squared RGB differences in 0..1 (multiply by 255^2 for 8-bit levels squared).

The flow, warp and occlusion primitives live in ``stylert.core.flow`` (temporal blending uses the
same ones). ``warping_error(..., flows=...)`` takes them precomputed (``core.flow.clip_flows``),
so several stylizations of one input are measured with one flow computation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from ..core.flow import PairFlow, dis_flow, pair_flow, visible_mask, warp  # noqa: F401 (the one implementation)
from ..errors import ImageError


def pair_error(previous: np.ndarray, current: np.ndarray, backward: np.ndarray, mask: np.ndarray) -> float | None:
    """Mean over visible pixels and channels of (current - warp(previous, backward))^2; frames
    [H, W, 3] float 0..1. None when no pixel is visible."""
    visible = float(mask.sum())
    if visible == 0:
        return None
    diff = (np.asarray(current, np.float32) - warp(previous, backward)) ** 2
    return float(np.sum(diff * mask[..., None]) / (visible * diff.shape[2]))


@dataclass(frozen=True)
class WarpingResult:
    warping_error: float  # of the stylized video, mean over pairs
    input_warping_error: float  # of the input video, same flows and masks
    frames: int
    pairs: int  # pairs averaged
    pairs_skipped: int  # pairs with no visible pixel (scene cuts)
    visible_fraction: float  # mean fraction of visible pixels over the pairs averaged

    def as_json(self) -> dict:
        return {
            "metrics": {"warping_error": self.warping_error, "input_warping_error": self.input_warping_error},
            "frames": self.frames, "pairs": self.pairs, "pairs_skipped": self.pairs_skipped,
            "visible_fraction": self.visible_fraction,
            "flow": "OpenCV DIS (preset medium) on the input frames, forward-backward occlusion check",
        }


def warping_error(inputs: Iterable[np.ndarray], outputs: Iterable[np.ndarray],
                  progress: Callable[[int], None] | None = None, paths=(None, None),
                  flows: Sequence[PairFlow] | None = None) -> WarpingResult:
    """Warping error of ``outputs`` against ``inputs``: two iterables of uint8 [H, W, 3] RGB frames
    of equal count and size (frame i of the output stylizes frame i of the input).

    Raises ImageError for fewer than two frames, different counts or different sizes.
    ``progress(frames done)`` is called after each frame; ``paths`` (input, stylized) name the
    files in errors. ``flows``: the ``PairFlow`` of every consecutive pair of ``inputs``
    (``stylert.core.flow.clip_flows``), computed once for several outputs of the same input;
    None computes them here. ImageError when their count or size does not match the frames.
    """
    input_path, stylized_path = paths
    errors, input_errors, visible = [], [], []
    skipped = 0
    count = 0
    prev_in = prev_out = None
    for frame_in, frame_out in _zip_frames(inputs, outputs, paths):
        if frame_in.shape != frame_out.shape:
            raise ImageError(f"frame {count} is {frame_out.shape[1]}x{frame_out.shape[0]}, "
                             f"the input frame {frame_in.shape[1]}x{frame_in.shape[0]}", path=stylized_path,
                             fix="pass the stylized video made from this input, at the input's size")
        if prev_in is not None:
            pair = pair_flow(prev_in, frame_in) if flows is None else _given_flow(flows, count - 1, frame_in)
            backward, mask = pair.backward, pair.mask
            e = pair_error(_unit(prev_out), _unit(frame_out), backward, mask)
            if e is None:
                skipped += 1
            else:
                errors.append(e)
                input_errors.append(pair_error(_unit(prev_in), _unit(frame_in), backward, mask))
                visible.append(float(mask.mean()))
        prev_in, prev_out = frame_in, frame_out
        count += 1
        if progress is not None:
            progress(count)
    if count < 2:
        raise ImageError(f"has {count} frame(s); the warping error needs at least 2", path=input_path,
                         fix="pass a video with at least two frames")
    if flows is not None and len(flows) != count - 1:
        raise ImageError(f"{len(flows)} precomputed flows for {count} frames (one per consecutive pair: {count - 1})",
                         path=input_path, fix="compute the flows of these frames: stylert.core.flow.clip_flows(frames)")
    if not errors:
        raise ImageError("every pair of frames is fully occluded (no pixel can be followed from frame to frame)",
                         path=input_path, fix="evaluate a video without a cut at every frame")
    return WarpingResult(float(np.mean(errors)), float(np.mean(input_errors)), count, len(errors), skipped,
                         float(np.mean(visible)))


def _given_flow(flows: Sequence[PairFlow], index: int, frame: np.ndarray) -> PairFlow:
    """The precomputed flow of pair ``index`` (frames index, index + 1), checked against the frame's size."""
    if index >= len(flows):
        raise ImageError(f"{len(flows)} precomputed flows, but the frames go on past frame {len(flows)}",
                         fix="compute the flows of these frames: stylert.core.flow.clip_flows(frames)")
    pair = flows[index]
    if pair.backward.shape[:2] != frame.shape[:2] or pair.mask.shape != frame.shape[:2]:
        raise ImageError(f"precomputed flow {index} is {pair.backward.shape[1]}x{pair.backward.shape[0]}, "
                         f"the frames {frame.shape[1]}x{frame.shape[0]}",
                         fix="compute the flows of these frames: stylert.core.flow.clip_flows(frames)")
    return pair


def _unit(frame: np.ndarray) -> np.ndarray:
    return frame.astype(np.float32) / np.float32(255.0)


def _zip_frames(inputs, outputs, paths) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Frames of both sequences in lockstep; ImageError when one ends before the other."""
    a, b = iter(inputs), iter(outputs)
    index = 0
    while True:
        x, y = next(a, None), next(b, None)
        if x is None and y is None:
            return
        if x is None or y is None:
            short, long_ = ("input", "stylized") if x is None else ("stylized", "input")
            raise ImageError(f"the {short} video ends after {index} frames, the {long_} video goes on",
                             path=paths[1], fix="pass the stylized video made from this input, frame for frame")
        yield x, y
        index += 1


def video_warping_error(input_path, stylized_path, progress: Callable[[int], None] | None = None) -> WarpingResult:
    """``warping_error`` of two video files (PyAV); errors name the file at fault."""
    from pathlib import Path

    from ..runtime.video import probe, read_frames

    input_path, stylized_path = Path(input_path), Path(stylized_path)
    info_in, info_out = probe(input_path), probe(stylized_path)
    if (info_in.width, info_in.height) != (info_out.width, info_out.height):
        raise ImageError(f"is {info_out.width}x{info_out.height}, the input {input_path.name} is "
                         f"{info_in.width}x{info_in.height}", path=stylized_path,
                         fix="pass the stylized video made from this input, at the input's size")
    if info_in.frames == 1:  # counts the container states, checked again while decoding
        raise ImageError("has 1 frame(s); the warping error needs at least 2", path=input_path,
                         fix="pass a video with at least two frames")
    if info_in.frames and info_out.frames and info_in.frames != info_out.frames:
        raise ImageError(f"has {info_out.frames} frames, the input {input_path.name} {info_in.frames}",
                         path=stylized_path, fix="pass the stylized video made from this input, frame for frame")
    counted = {input_path: 0, stylized_path: 0}

    def frames(path):
        for batch in read_frames(path):
            for frame in batch:
                counted[path] += 1
                yield frame
        if counted[path] == 0:
            raise ImageError("has no frames", path=path, fix="pass a video with at least two frames")

    return warping_error(frames(input_path), frames(stylized_path), progress, (input_path, stylized_path))
