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
measured on the shared clip and on synthetic clips (README, Video).

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
                         fix="--temporal-smoothing takes a number from 0 (off) to 0.99") from None
    if not math.isfinite(value) or not 0.0 <= value <= MAX_STRENGTH:
        raise ModelError(f"temporal smoothing must be in [0, {MAX_STRENGTH}], got {strength}",
                         fix="--temporal-smoothing takes a number from 0 (off) to 0.99")
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
