"""What a training run leaves to look at: the CSV log, the PNG loss curve (PIL, no matplotlib) and the
progress line.

``log.csv`` has one row per iteration: ``step`` (iterations done), ``lr``, ``loss`` (the weighted total),
each unweighted loss component of the family, ``grad_norm`` (empty without --grad-clip), ``seconds``
(wall time of the iteration, data included), ``elapsed`` (seconds since the run began, across resumes)
and ``skipped_files`` (unreadable files met so far). Floats are written with ``repr``, so the values
round-trip exactly.
"""

from __future__ import annotations

import csv
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.files import atomic_write

BASE_COLUMNS = ("step", "lr", "loss")
TAIL_COLUMNS = ("grad_norm", "seconds", "elapsed", "skipped_files")


def _fmt(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


class CsvLog:
    """Appends one row per step to ``path``. On resume, rows after ``keep_upto`` (written after the
    checkpoint the run resumes from) are dropped first, so the log matches the resumed state."""

    def __init__(self, path: str | os.PathLike, components: tuple[str, ...], keep_upto: int | None = None):
        self.path = Path(path)
        self.columns = BASE_COLUMNS + tuple(components) + TAIL_COLUMNS
        self.rows: list[dict[str, float]] = []
        if keep_upto is not None and self.path.exists():
            self.rows = [r for r in read_log(self.path) if r["step"] <= keep_upto]
        with atomic_write(self.path, overwrite=True) as tmp:
            with open(tmp, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(self.columns)
                for row in self.rows:
                    writer.writerow([_fmt(row.get(c, float("nan"))) for c in self.columns])
        self._fh = open(self.path, "a", newline="")
        self._writer = csv.writer(self._fh)

    @property
    def elapsed(self) -> float:
        return self.rows[-1]["elapsed"] if self.rows else 0.0

    def append(self, row: dict) -> None:
        self.rows.append({c: float(row[c]) for c in self.columns})
        self._writer.writerow([_fmt(row[c]) for c in self.columns])

    def flush(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            self._fh.close()


def read_log(path: str | os.PathLike) -> list[dict[str, float]]:
    """The rows of a ``log.csv`` as floats (empty cells: NaN; ``step`` as int)."""
    rows = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row = {k: (float(v) if v != "" else float("nan")) for k, v in raw.items()}
            row["step"] = int(row["step"])
            rows.append(row)
    return rows


# --------------------------------------------------------------------------- loss curve

_COLORS = [(20, 20, 20), (31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def _smooth(values: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def draw_loss_curve(rows: list[dict[str, float]], series: tuple[str, ...], path: str | os.PathLike,
                    title: str = "", size: tuple[int, int] = (960, 540)) -> None:
    """Plot ``series`` (columns of ``rows``) against ``step`` on a log10 y axis, smoothed (moving average
    over 1% of the steps; the raw total in grey behind), and write the PNG atomically to ``path``."""
    width, height = size
    left, right, top, bottom = 70, 170, 36, 46
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=13)
    draw.text((left, 10), title, fill=(0, 0, 0), font=font)
    steps = np.array([r["step"] for r in rows], dtype=np.float64)
    data = {s: np.array([r.get(s, float("nan")) for r in rows], dtype=np.float64) for s in series}
    positive = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in data.values()]) if rows else np.array([])
    x0, x1, y0, y1 = left, width - right, top, height - bottom
    draw.rectangle([x0, y0, x1, y1], outline=(0, 0, 0))
    if len(steps) == 0 or positive.size == 0:
        draw.text((x0 + 10, y0 + 10), "no data yet", fill=(0, 0, 0), font=font)
    else:
        lo, hi = math.log10(positive.min()), math.log10(positive.max())
        if hi - lo < 1e-6:
            lo, hi = lo - 0.5, hi + 0.5
        pad = 0.05 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        s_lo, s_hi = float(steps.min()), float(max(steps.max(), steps.min() + 1))

        def px(step, value):
            x = x0 + (step - s_lo) / (s_hi - s_lo) * (x1 - x0)
            y = y1 - (math.log10(value) - lo) / (hi - lo) * (y1 - y0)
            return x, y

        for e in range(math.floor(lo), math.ceil(hi) + 1):  # decades and 2x, 5x when the range is small
            for m in ((1,) if hi - lo > 3 else (1, 2, 5)):
                v = m * 10.0**e
                if lo <= math.log10(v) <= hi:
                    _, y = px(s_lo, v)
                    draw.line([x0, y, x1, y], fill=(225, 225, 225))
                    draw.text((8, y - 7), f"{v:.3g}", fill=(60, 60, 60), font=font)
        for t in _nice_ticks(s_lo, s_hi):
            x, _ = px(t, 10**lo)
            draw.line([x, y1, x, y1 + 4], fill=(0, 0, 0))
            draw.text((x - 12, y1 + 8), f"{int(t):,}", fill=(60, 60, 60), font=font)
        draw.text(((x0 + x1) // 2 - 15, height - 18), "step", fill=(0, 0, 0), font=font)

        stride = max(1, len(steps) // 2000)
        window = max(1, len(steps) // 100)
        for i, name in enumerate(series):
            values = data[name]
            ok = np.isfinite(values) & (values > 0)
            if not ok.any():
                continue
            color = _COLORS[i % len(_COLORS)]
            if i == 0 and window > 1:  # the raw total, behind its moving average
                raw = [px(s, v) for s, v in zip(steps[ok][::stride], values[ok][::stride])]
                if len(raw) > 1:
                    draw.line(raw, fill=(200, 200, 200), width=1)
            smooth = _smooth(values[ok], window)
            pts = [px(s, v) for s, v in zip(steps[ok][::stride], smooth[::stride])]
            if len(pts) > 1:
                draw.line(pts, fill=color, width=2)
            else:
                x, y = pts[0]
                draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
            ly = y0 + 8 + 18 * i
            draw.line([x1 + 12, ly + 7, x1 + 32, ly + 7], fill=color, width=3)
            draw.text((x1 + 38, ly), name, fill=(0, 0, 0), font=font)
    with atomic_write(path, overwrite=True) as tmp:
        img.save(tmp, format="PNG")


# --------------------------------------------------------------------------- progress


class Progress:
    """A progress line on stderr: step/total, a bar, iterations/s, ETA and the losses.

    On a terminal the line is rewritten in place (at most 5 times a second); elsewhere (logs, CI) a
    line is printed every ``every`` steps and at the end."""

    def __init__(self, total: int, start: int = 0, *, enabled: bool = True, stream=None, every: int | None = None):
        self.total = total
        self.start = start
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.every = every or max(1, min(100, (total - start) // 20 or 1))
        self._times: list[tuple[int, float]] = [(start, time.perf_counter())]
        self._last_draw = 0.0
        self.rate = float("nan")

    def update(self, step: int, values: dict[str, float]) -> None:
        now = time.perf_counter()
        self._times.append((step, now))
        self._times = self._times[-50:]
        (s0, t0), (s1, t1) = self._times[0], self._times[-1]
        self.rate = (s1 - s0) / (t1 - t0) if t1 > t0 and s1 > s0 else float("nan")
        if not self.enabled:
            return
        final = step >= self.total
        if self.tty:
            if not final and now - self._last_draw < 0.2:
                return
            self._last_draw = now
            self.stream.write("\r" + self.line(step, values) + ("\n" if final else ""))
        elif final or step % self.every == 0:
            self.stream.write(self.line(step, values) + "\n")
        self.stream.flush()

    def line(self, step: int, values: dict[str, float]) -> str:
        frac = step / self.total if self.total else 1.0
        bar = "#" * int(20 * frac) + "-" * (20 - int(20 * frac))
        eta = (self.total - step) / self.rate if self.rate and math.isfinite(self.rate) and self.rate > 0 else None
        eta_s = "" if eta is None else f" eta {_duration(eta)}"
        losses = " ".join(f"{k} {v:.4g}" for k, v in values.items())
        return f"step {step}/{self.total} [{bar}] {self.rate:.2f} it/s{eta_s} | {losses}"

    def clear(self) -> None:
        """Erase the progress line on a terminal, so that the next message starts on a clean line."""
        if self.enabled and self.tty:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
