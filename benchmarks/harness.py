"""The benchmark harness: the measuring core every scenario and ``stylert bench`` share.

- **Timing** (trtexec / MLPerf): ``measure`` warms up for a time (excluded), then runs until both a
  minimum duration and a minimum number of iterations are reached and keeps every sample (ms);
  ``measure_events`` does the same with each sample taken by CUDA events on a stream;
  ``interleave`` times several variants round by round in rotating order, so that a shared
  machine's drift hits them alike. ``summarize``: count, mean, median (p50, numpy's linear
  interpolation), p90, p95, p99, min, max.
- **Memory**: ``MemorySampler`` (peak RSS, and device memory on CUDA, sampled while a block runs),
  ``process_peak_rss_bytes`` (``getrusage``).
- **The machine record**: ``machine_record`` (``core.machine.machine_info``: CPU, cores, memory,
  GPU, versions, git commit), its folder name ``machine_name``, and the measured peak
  (``probe_peak``: a large matmul and a large 3x3 convolution, float32 on CPU, float16 on CUDA;
  the faster counts: a measured roof, not a datasheet number).
- **Results**: one tree, ``benchmarks/results/<scenario>/<machine>/`` (``results_dir``); one writer,
  ``write_results``, of a record's JSON, its Markdown and its chart (PIL images stacked into one PNG),
  every file written atomically.
- **Scenarios**: ``scenario_parser`` gives each scenario its argparse parser with the options every
  scenario has (``--quick``: tiny sizes, seconds; ``-o/--out``: the results folder), and
  ``python -m stylert.benchmarks SCENARIO`` runs it (``benchmarks/__main__.py``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PERCENTILES = (50, 90, 95, 99)


# --------------------------------------------------------------------------------------
# Statistics and the measurement loop
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Summary:
    """Times in milliseconds (or whatever unit the samples have). ``median`` is p50."""

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


def summarize(samples) -> Summary:
    """count, mean, median, p90, p95, p99, min, max of ``samples`` (at least one; ValueError if none)."""
    x = np.asarray(samples, dtype=np.float64)
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
    """Time ``fn`` per call (ms) on the host clock: at least one warm-up call and ``warmup_s`` of them
    (excluded), then until ``min_duration_s`` and ``min_iterations`` are both reached.
    ``sync`` (e.g. ``torch.cuda.synchronize``) runs before each clock read."""
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


class CudaEventTimer:
    """Times a callable with CUDA events recorded on ``stream``: the stream the timed work runs on
    (a TensorRT runner's ``cuda_stream``; None: the current stream, where torch and AOTInductor run).
    Events on another stream would time that stream, not the engine's. ``torch``: the torch module."""

    def __init__(self, torch):
        self.torch = torch

    def time(self, fn: Callable[[], object], stream=None) -> float:
        start = self.torch.cuda.Event(enable_timing=True)
        end = self.torch.cuda.Event(enable_timing=True)
        start.record(stream)
        fn()
        end.record(stream)
        end.synchronize()
        return start.elapsed_time(end)


def measure_events(fn, timer: CudaEventTimer, warmup_s: float, min_duration_s: float, min_iterations: int,
                   stream=None) -> Measurement:
    """``measure`` with each sample (ms) taken by CUDA events on ``stream`` instead of the host clock."""
    warm, start = 0, time.perf_counter()
    while time.perf_counter() - start < warmup_s or warm == 0:
        timer.time(fn, stream)
        warm += 1
    samples, begin = [], time.perf_counter()
    while time.perf_counter() - begin < min_duration_s or len(samples) < min_iterations:
        samples.append(timer.time(fn, stream))
    return Measurement(samples, warm, time.perf_counter() - begin)


def interleave(jobs: dict[str, Callable[[], object]], rounds: int, *, warmup: int = 0, rotate: bool = True,
               prime: bool = False, before: Callable[[str], object] | None = None,
               timer: Callable[[], float] = time.perf_counter, sync: Callable[[], None] | None = None,
               progress: Callable[[int, dict[str, list[float]]], None] | None = None) -> dict[str, list[float]]:
    """Time every job once per round, ``rounds`` rounds: name -> samples in ms.

    ``warmup``: untimed calls of each job before the first round; ``rotate``: round r starts at
    job r (mod the count), so that no job always runs after the same one; ``prime``: one untimed
    call right before each timed one; ``before(name)``: runs untimed right before each timed call
    (a setting, a warm-up step); ``progress(round, samples)`` after each round (1-based).
    """
    sync = sync or (lambda: None)
    names = list(jobs)
    for _ in range(warmup):
        for name in names:
            jobs[name]()
            sync()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names) if rotate and names else 0
        for name in names[k:] + names[:k]:
            if before is not None:
                before(name)
            if prime:
                jobs[name]()
            sync()
            t0 = timer()
            jobs[name]()
            sync()
            samples[name].append((timer() - t0) * 1e3)
        if progress is not None:
            progress(r + 1, samples)
    return samples


# --------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------
def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def process_peak_rss_bytes() -> int:
    """``getrusage`` peak resident set size of this process, bytes (Linux reports KiB; macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class MemorySampler:
    """Peak RSS (and device memory in use, on CUDA), bytes, while the block runs, sampled every ``period`` s."""

    def __init__(self, cuda: bool = False, period: float = 0.005):
        self.cuda = cuda
        self.period = period
        self.peak_rss = 0
        self.start_rss = 0
        self.peak_device: int | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _device_used(self) -> int | None:
        try:
            import torch

            free, total = torch.cuda.mem_get_info()
            return int(total - free)
        except Exception:  # noqa: BLE001 - a failing probe means "not measured", reported as None
            return None

    def _sample(self):
        self.peak_rss = max(self.peak_rss, _rss_bytes())
        if self.cuda:
            used = self._device_used()
            if used is not None:
                self.peak_device = max(self.peak_device or 0, used)

    def _loop(self):
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self):
        self.start_rss = _rss_bytes()
        self._sample()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


# --------------------------------------------------------------------------------------
# The machine: its record, its name, its measured peak
# --------------------------------------------------------------------------------------
def machine_record(lscpu: bool = False) -> dict:
    """``core.machine.machine_info`` (CPU, cores, memory, GPU, versions, git commit); ``lscpu``: also
    the lines of ``lscpu`` (None where it cannot run)."""
    from ..core.machine import machine_info

    info = machine_info()
    if lscpu:
        import subprocess

        try:
            info["lscpu"] = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10,
                                           check=False).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            info["lscpu"] = None
    return info


def machine_name(info: dict | None = None) -> str:
    """The machine's folder name in the results tree (``core.machine.machine_name``)."""
    from ..core.machine import machine_info
    from ..core.machine import machine_name as name_of

    return name_of(info if info is not None else machine_info())


@dataclass(frozen=True)
class Peak:
    device: str
    dtype: str
    matmul_tflops: float
    conv3x3_tflops: float

    @property
    def tflops(self) -> float:
        return max(self.matmul_tflops, self.conv3x3_tflops)

    def as_dict(self) -> dict:
        return {**asdict(self), "tflops": self.tflops}


def probe_peak(device: str = "cpu", *, seconds: float = 1.0) -> Peak:
    """Matmul and 3x3 conv throughput (TFLOP/s, medians) on ``device`` ("cpu" or "cuda") with torch."""
    import torch

    cuda = device.startswith("cuda")
    dtype = torch.float16 if cuda else torch.float32
    n = 8192 if cuda else 2048
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    # A VGG-like layer: 3x3, 512 -> 512 channels (the fastest shape tried on the 2-core CPU).
    size, ch, batch = (128, 512, 8) if cuda else (64, 512, 1)
    x = torch.randn(batch, ch, size, size, device=device, dtype=dtype)
    w = torch.randn(ch, ch, 3, 3, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if cuda else None
    with torch.inference_mode():
        mm = measure(lambda: a @ b, warmup_s=0.2, min_duration_s=seconds, min_iterations=5, sync=sync)
        conv = measure(lambda: torch.nn.functional.conv2d(x, w, padding=1), warmup_s=0.2,
                       min_duration_s=seconds, min_iterations=5, sync=sync)
    mm_flops = 2 * n**3
    conv_flops = 2 * batch * ch * size * size * ch * 9
    return Peak(device, str(dtype).replace("torch.", ""), mm_flops / (mm.summary.median * 1e-3) / 1e12,
                conv_flops / (conv.summary.median * 1e-3) / 1e12)


# --------------------------------------------------------------------------------------
# Results: one tree, one writer
# --------------------------------------------------------------------------------------
def results_dir(scenario: str, info: dict | None = None, quick: bool = False) -> Path:
    """``benchmarks/results/<scenario>/<machine>``: where a scenario's results go by default; a
    ``--quick`` run's go to ``<temp>/stylert-benchmarks/<scenario>/<machine>`` instead, so that a
    smoke run never replaces a committed record."""
    if quick:
        import tempfile

        return Path(tempfile.gettempdir()) / "stylert-benchmarks" / scenario / machine_name(info)
    return RESULTS / scenario / machine_name(info)


def _json_default(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if not math.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)  # paths, versions, dtypes: their text


def write_text(path, text: str) -> Path:
    """Write ``text`` (UTF-8) at ``path`` atomically, replacing it; its folder is made."""
    from ..core.files import atomic_write

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, overwrite=True) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path, record: dict, indent: int = 1) -> Path:
    """``record`` as JSON at ``path``, atomically: numpy integers and arrays converted, a non-finite numpy
    float32 as null, other objects (paths, versions) as their text."""
    return write_text(path, json.dumps(record, indent=indent, default=_json_default) + "\n")


def write_chart(path, charts) -> Path:
    """One PIL image, or several stacked one under another, as one PNG at ``path``, atomically."""
    from ..core.chart import save_stacked

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_stacked(charts if isinstance(charts, (list, tuple)) else [charts], path)
    return Path(path)


def write_results(out, stem: str, record: dict | None = None, markdown: str | None = None,
                  chart=None, say: Callable[[str], None] | None = print) -> list[Path]:
    """``OUT/STEM.json`` (the record), ``OUT/STEM.md`` and ``OUT/STEM.png`` (the chart: a PIL image or a
    list of them, stacked), each written atomically where given; returns the paths written."""
    out = Path(out)
    paths = []
    if record is not None:
        paths.append(write_json(out / f"{stem}.json", record))
    if markdown is not None:
        paths.append(write_text(out / f"{stem}.md", markdown if markdown.endswith("\n") else markdown + "\n"))
    if chart is not None and (not isinstance(chart, (list, tuple)) or chart):
        paths.append(write_chart(out / f"{stem}.png", chart))
    if say and paths:
        say("wrote " + ", ".join(str(p) for p in paths))
    return paths


# --------------------------------------------------------------------------------------
# Scenarios
# --------------------------------------------------------------------------------------
def scenario_parser(name: str, doc: str | None, *, out: bool = True, out_help: str | None = None,
                    quick_help: str = "tiny sizes and few iterations: seconds (the smoke test's form)"
                    ) -> argparse.ArgumentParser:
    """The parser of scenario ``name`` (``python -m stylert.benchmarks NAME``): ``doc`` (the module's
    docstring) as its description, and the options every scenario has: ``--quick`` and, with ``out``,
    ``-o/--out`` (default None: ``results_dir(name)``)."""
    parser = argparse.ArgumentParser(prog=f"python -m stylert.benchmarks {name}", description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if out:
        parser.add_argument("-o", "--out", type=Path, default=None,
                            help=out_help or f"results folder (default: benchmarks/results/{name}/<machine>; "
                                             "--quick: a temporary folder)")
    return parser


def first_line(doc: str | None) -> str:
    """A module docstring's first line (the scenario's one-line description)."""
    return (doc or "").strip().splitlines()[0] if doc and doc.strip() else ""


def run_as_main(name: str) -> None:
    """The old module path (``python -m stylert.benchmarks.NAME ...``): runs scenario ``name`` as
    ``python -m stylert.benchmarks NAME ...`` does, and exits with its status."""
    from .__main__ import main

    raise SystemExit(main([name, *sys.argv[1:]]))


def write_image(path, image, **save) -> Path:
    """A PIL image (or a uint8 HxWx3 array) at ``path``, atomically; the format from the suffix
    (``save``: PIL's options, e.g. ``quality=80`` for a JPEG)."""
    from PIL import Image

    from ..core.files import atomic_write

    img = image if isinstance(image, Image.Image) else Image.fromarray(image)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG"}.get(Path(path).suffix.lower(), None)
    with atomic_write(path, overwrite=True) as tmp:
        img.save(tmp, format=fmt, **save)
    return Path(path)
