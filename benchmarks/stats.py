"""Latency statistics as trtexec and MLPerf report them, and the measurement loop that feeds them.

``measure`` warms up for a time (excluded), then runs until both a minimum duration and a
minimum number of iterations are reached, and keeps every sample.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

PERCENTILES = (50, 90, 95, 99)


@dataclass(frozen=True)
class Summary:
    """Times in milliseconds. ``median`` is p50 (numpy's linear interpolation)."""

    count: int
    mean: float
    median: float
    p90: float
    p95: float
    p99: float
    min: float
    max: float

    def as_dict(self) -> dict:
        return asdict(self)


def summarize(samples_ms) -> Summary:
    """count, mean, median, p90, p95, p99, min, max of ``samples_ms`` (at least one sample)."""
    x = np.asarray(samples_ms, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no samples to summarize")
    p50, p90, p95, p99 = np.percentile(x, PERCENTILES)
    return Summary(int(x.size), float(x.mean()), float(p50), float(p90), float(p95), float(p99),
                   float(x.min()), float(x.max()))


@dataclass(frozen=True)
class Measurement:
    samples_ms: list[float]
    warmup_iterations: int
    wall_s: float  # total time of the measured iterations, for throughput

    @property
    def summary(self) -> Summary:
        return summarize(self.samples_ms)


def measure(fn: Callable[[], object], *, warmup_s: float = 0.5, min_duration_s: float = 2.0,
            min_iterations: int = 10, max_iterations: int = 100_000,
            timer: Callable[[], float] = time.perf_counter,
            sync: Callable[[], None] | None = None) -> Measurement:
    """Time ``fn`` per call. ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock read."""
    sync = sync or (lambda: None)
    warm = 0
    start = timer()
    while timer() - start < warmup_s or warm == 0:
        fn()
        sync()
        warm += 1
    samples = []
    begin = timer()
    while (timer() - begin < min_duration_s or len(samples) < min_iterations) and len(samples) < max_iterations:
        sync()
        t0 = timer()
        fn()
        sync()
        samples.append((timer() - t0) * 1e3)
    return Measurement(samples, warm, timer() - begin)
