"""``stylert bench``: latency and throughput of an export on every backend, side by side in one run.

Methodology (trtexec / MLPerf): a warm-up by time, excluded; every measurement runs for a
minimum duration and a minimum number of iterations and keeps every sample; count, mean,
median, p90, p95, p99, min, max; throughput = images / wall time of the measured iterations.

Per (backend, size, batch), kept apart:

* ``end_to_end``: PNG decode of the content -> ``Pipeline.stylize`` (cached style) -> PNG encode;
* ``host``: ``Pipeline.stylize`` on a numpy batch [N, H, W, 3] float32 0..1 (copies to and from
  the device included);
* ``compute``: each graph (encoder on the content, transform, decoder) fed directly through its
  runner with the inputs the routing gives it; CUDA events on a GPU (with torch), the host wall
  clock on the CPU;
* ``style_encode``: encoding the style image (``uncached``) and a cache hit (``cached``).

FLOPs of each graph are counted from the ONNX graph at the measured shapes (the manifest's input
names, its symbolic shapes evaluated for the size; 2 FLOPs per multiply-add, see ``flops.py``);
achieved FLOP/s and the fraction of the peak probed at the start of the run
(``harness.probe_peak``) stand next to every latency. Memory: the peak resident set size of the
process during each case (sampled every 5 ms, and ``getrusage``'s process peak), and the peak
device memory in use on a GPU. Timing, memory sampling, the peak probe and the writers are the
benchmark harness's (``harness.py``), which every scenario of ``python -m stylert.benchmarks`` shares.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..core.images import hw_text
from ..errors import ModelError, StylertError
from .flops import count_flops
from .harness import (
    CudaEventTimer,
    MemorySampler,
    machine_record,
    measure,
    measure_events,
    probe_peak,
    process_peak_rss_bytes,
    write_chart,
)

SCHEMA = "stylert-bench/1"
GRAPHS = ("encoder", "transform", "decoder")
FLOP_CONVENTION = "2 FLOPs per multiply-add; element-wise ops 1 per output element (benchmarks/flops.py)"
MODES = ("latency", "throughput")
FIGURES = ("style_encode", "host", "end_to_end", "compute")


# --------------------------------------------------------------------------------------
# Inputs: sizes, backends, shapes
# --------------------------------------------------------------------------------------
def parse_backend(text: str) -> tuple[str, str]:
    """``"onnxruntime"`` -> ("onnxruntime", "auto"); ``"torch:cpu"`` -> ("torch", "cpu");
    ``"openvino@f32:cpu"`` -> ("openvino@f32", "cpu"): NAME[@PRECISION] runs the backend at that
    inference precision (openvino: bf16, f32; see ``split_precision``)."""
    name, _, device = text.partition(":")
    device = device or "auto"
    if device not in ("auto", "cpu", "cuda"):
        raise ModelError(f"backend {text!r}: device must be cpu, cuda or auto")
    return name, device




def graph_flops(manifest, shapes: dict) -> dict[str, dict[str, int]]:
    """graph -> per-op FLOPs and ``total`` at ``shapes`` (``count_flops`` of each ONNX file)."""
    return {g: count_flops(str(manifest.graph_path(g)), shapes[g]) for g in GRAPHS}


# --------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------
def _metric(m, images_per_call: int = 0, keep_samples: bool = True) -> dict:
    out = {"summary": m.summary.as_dict(), "warmup_iterations": m.warmup_iterations, "wall_s": m.wall_s}
    if images_per_call:
        out["images_per_s"] = images_per_call * len(m.samples_ms) / m.wall_s if m.wall_s > 0 else None
    if keep_samples:
        out["samples_ms"] = [round(s, 4) for s in m.samples_ms]
    return out


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------
@dataclass
class BenchConfig:
    backends: list[tuple[str, str]]  # (name, requested device: auto/cpu/cuda)
    sizes: list[tuple[int, int]]  # (H, W)
    batches: list[int] = field(default_factory=lambda: [1])
    mode: str = "latency"
    seconds: float = 2.0
    warmup: float = 0.5
    min_iterations: int = 5
    cuda_graph: bool = False
    no_transfers: bool = False
    alpha: float = 1.0
    keep_samples: bool = True
    peak_seconds: float = 1.0
    figures: tuple[str, ...] = FIGURES  # a subset, for the suite (host only)


def split_precision(name: str) -> tuple[str, str | None]:
    """``"openvino@f32"`` -> ("openvino", "f32"); ``"onnxruntime"`` -> ("onnxruntime", None)."""
    backend, _, precision = name.partition("@")
    return backend, precision or None


def default_backends() -> list[tuple[str, str]]:
    """Every backend at its own precision, and OpenVINO also at f32 (a second row where its own is bf16;
    the same pipeline otherwise, dropped by ``open_backends``)."""
    from ..runtime.backends import BACKENDS

    return [(b, "auto") for b in BACKENDS] + [("openvino@f32", "auto")]


def open_backends(export_dir, backends, notice=print, cuda_graphs: bool = False):
    """(name, device) -> opened Pipelines, and the unavailable ones with their reason.

    A backend is unavailable when ``Pipeline.open`` (or activating it) raises a StylertError or
    an ImportError (its package or module is not there), or when it resolves to another device
    than the one asked for.
    """
    from ..runtime.pipeline import Pipeline

    opened, unavailable = [], []
    for name, device in backends:
        label = f"{name}:{device}"
        backend, precision = split_precision(name)
        try:
            pipe = Pipeline.open(export_dir, backend, device, cuda_graphs=cuda_graphs, precision=precision)
            if device != "auto" and pipe.device != device:
                raise ModelError(f"runs on {pipe.device}, not {device}")
            pipe.activate()
        except (StylertError, ImportError) as err:
            reason = str(err) or type(err).__name__
            unavailable.append({"backend": name, "device": device, "reason": reason})
            notice(f"  {label:20s} unavailable: {reason}")
            continue
        if any(p.backend == pipe.backend and p.device == pipe.device and p.precision == pipe.precision
               for p in opened):
            pipe.deactivate()  # auto and an explicit device (or precision) resolved to the same thing
            continue
        opened.append(pipe)
        notice(f"  {pipe.backend + ':' + pipe.device:20s} available ({pipe.precision})")
    return opened, unavailable


def _png_bytes(image_u8: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image_u8).save(buf, format="PNG")
    return buf.getvalue()


def _decode_png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def _efficiency(flops: int, median_ms: float, peak_tflops: float | None) -> dict:
    achieved = flops / (median_ms * 1e-3) / 1e12 if median_ms > 0 else None
    frac = achieved / peak_tflops if achieved is not None and peak_tflops else None
    return {"tflops": achieved, "fraction_of_peak": frac}


def _run_figures(pipe, cfg, metrics, label, content, style, contents, png, shapes, sync, events, progress):
    """Measure ``cfg.figures`` of one case into ``metrics`` (see ``bench_case``)."""
    from ..core.images import pad_to, to_uint8
    from ..export.manifest import chain
    from ..runtime.stylizer import RuntimeStylizer

    manifest = pipe.manifest
    h, w = content.shape[:2]
    batch = contents.shape[0]
    cuda = pipe.device.startswith("cuda")
    common = dict(warmup_s=cfg.warmup, min_duration_s=cfg.seconds, min_iterations=cfg.min_iterations)
    # style encoding: uncached (the encoder on the style image) and a cache hit
    stylizer = RuntimeStylizer(pipe)
    code = stylizer.style_code(style, cache_key="style")
    if "style_encode" in cfg.figures:
        progress(f"  {label}: style encoding ...")
        metrics["style_encode"] = {
            "uncached": _metric(measure(lambda: pipe.encode_style(style), sync=sync, **common),
                                keep_samples=cfg.keep_samples),
        }
        metrics["style_encode"]["cached"] = _metric(
            measure(lambda: stylizer.style_code(style, cache_key="style"), warmup_s=0.0,
                    min_duration_s=min(cfg.seconds, 0.05), min_iterations=cfg.min_iterations),
            keep_samples=cfg.keep_samples)

    if "host" in cfg.figures:  # numpy batch in, numpy out
        progress(f"  {label}: host latency ...")
        m = measure(lambda: pipe.stylize(contents, [code], alpha=cfg.alpha), sync=sync, **common)
        metrics["host"] = _metric(m, batch, cfg.keep_samples)

    if "end_to_end" in cfg.figures:  # PNG decode + stylize + PNG encode, per image
        progress(f"  {label}: end to end ...")

        def end_to_end():
            batch_in = np.stack([_decode_png(png) for _ in range(batch)])
            out = pipe.stylize(batch_in, [code], alpha=cfg.alpha)
            return [_png_bytes(to_uint8(img)) for img in out]

        metrics["end_to_end"] = _metric(measure(end_to_end, sync=sync, **common), batch, cfg.keep_samples)

    if "compute" in cfg.figures:  # each runner fed the inputs the routing gives it
        progress(f"  {label}: per-graph compute ...")
        keep = bool(cfg.no_transfers and cuda)
        recorded: dict[str, dict] = {}

        def record(graph, feeds):
            out = pipe.runners[graph].infer(feeds, keep_on_device=keep)
            recorded.setdefault(graph, feeds)  # the first encoder call is the content
            return out

        to_nchw = lambda a: np.ascontiguousarray(a.transpose(0, 3, 1, 2), dtype=np.float32)  # noqa: E731
        padded = np.stack([pad_to(img, manifest.padded_size(h, w))[0] for img in contents])
        style_in = pad_to(style, manifest.style_size(*style.shape[:2]))[0]
        chain(record, manifest.routing, to_nchw(padded), to_nchw(np.repeat(style_in[None], batch, axis=0)),
              pipe.alpha_array(cfg.alpha))
        compute = {}
        for g in GRAPHS:
            got = {k: tuple(np.shape(v)) for k, v in recorded[g].items()}
            if got != shapes[g]:
                raise ModelError(f"{g}: the derived input shapes {shapes[g]} are not those fed {got}")
            runner, feeds = pipe.runners[g], recorded[g]
            call = lambda runner=runner, feeds=feeds: runner.infer(feeds, keep_on_device=keep)  # noqa: E731
            if events:
                gm = measure_events(call, events, cfg.warmup, cfg.seconds / 3, cfg.min_iterations,
                                     getattr(runner, "cuda_stream", None))
            else:
                gm = measure(call, sync=sync, warmup_s=cfg.warmup, min_duration_s=cfg.seconds / 3,
                             min_iterations=cfg.min_iterations)
            compute[g] = _metric(gm, 0, cfg.keep_samples)
        metrics["compute"] = compute


def bench_case(pipe, size_hw, batch: int, cfg: BenchConfig, peak_tflops: float | None, progress=print) -> dict:
    """One backend at one size and batch: the figures of ``cfg.figures`` (all by default)."""
    from ..core.demo import demo_content, demo_style
    from ..core.images import to_uint8

    h, w = size_hw
    manifest = pipe.manifest
    cuda = pipe.device.startswith("cuda")
    content = np.asarray(demo_content((w, h)), np.float32) / np.float32(255.0)
    style = np.asarray(demo_style((w, h)), np.float32) / np.float32(255.0)
    contents = np.ascontiguousarray(np.repeat(content[None], batch, axis=0))
    png = _png_bytes(to_uint8(content))
    sync = None
    events = None
    if cuda:
        try:
            import torch

            sync = torch.cuda.synchronize
            events = CudaEventTimer(torch)
        except ImportError:
            pass

    shapes = manifest.input_shapes(batch, size_hw)
    flops = graph_flops(manifest, shapes)
    style_in = manifest.input_shapes(1, manifest.style_size(*size_hw))["encoder"]
    style_flops = count_flops(str(manifest.graph_path("encoder")), style_in)["total"]
    totals = {g: flops[g]["total"] for g in GRAPHS}
    total_flops = sum(totals.values())

    result = {
        "backend": pipe.backend, "device": pipe.device,
        "precision": getattr(pipe.runners["encoder"], "precision", None) or (
            manifest.data.get("torch_programs", {}).get("encoder", {}).get("precision", "fp32")
            if pipe.backend == "torch" else manifest.precision),  # torch runs the float32 programs of any export
        "size": [h, w], "batch": batch, "style_size": [h, w],
        "shapes": {g: {k: list(v) for k, v in s.items()} for g, s in shapes.items()},
        "flops": {**totals, "total": total_flops, "style_encoder": style_flops},
        "flops_by_op": flops,
        "compute_timer": "cuda-events" if events else "host-wall-clock",
        "transfers": not (cfg.no_transfers and cuda),
        "cuda_graph": bool(cfg.cuda_graph and cuda
                           and getattr(pipe.runners["encoder"], "supports_cuda_graph", False)),
        "metrics": {}, "efficiency": {}, "memory": {},
    }
    if pipe.backend == "onnxruntime":  # pads kept in ORT's blocked CPU layout, per graph (runtime/backends/nchwc.py)
        result["ort_layout_folds"] = {g: pipe.runners[g].layout_folds for g in GRAPHS}
    metrics = result["metrics"]
    label = f"{pipe.backend}:{pipe.device} {hw_text(size_hw)} x{batch}"
    with MemorySampler(cuda=cuda) as mem:
        _run_figures(pipe, cfg, metrics, label, content, style, contents, png, shapes, sync, events, progress)
    result["memory"] = {
        "peak_rss_mb": mem.peak_rss / 2**20,
        "rss_growth_mb": (mem.peak_rss - mem.start_rss) / 2**20,  # above the RSS when the case began
        "process_peak_rss_mb": process_peak_rss_bytes() / 2**20,
        "device_peak_mb": None if mem.peak_device is None else mem.peak_device / 2**20,
    }
    eff = result["efficiency"]
    for key in ("host", "end_to_end"):
        if key in metrics:
            eff[key] = _efficiency(total_flops, metrics[key]["summary"]["median"], peak_tflops)
    if "compute" in metrics:
        for g in GRAPHS:
            eff[g] = _efficiency(totals[g], metrics["compute"][g]["summary"]["median"], peak_tflops)
    if "style_encode" in metrics:
        eff["style_encode"] = _efficiency(style_flops, metrics["style_encode"]["uncached"]["summary"]["median"],
                                          peak_tflops)
    floor_ms = total_flops / (peak_tflops * 1e12) * 1e3 if peak_tflops else None
    eff["floor_ms"] = floor_ms
    return result


def run_bench(export_dir, cfg: BenchConfig, notice=print, progress=print) -> dict:
    """The whole run: machine info, peak probe per device, every backend x size x batch."""
    from ..export.manifest import load_manifest

    if cfg.mode not in MODES:
        raise ModelError(f"mode must be one of {', '.join(MODES)}, not {cfg.mode!r}")
    manifest = load_manifest(export_dir)
    info = machine_record()
    notice("backends:")
    pipes, unavailable = open_backends(export_dir, cfg.backends, notice, cuda_graphs=cfg.cuda_graph)
    gpu_options = [o for o, on in (("--cuda-graph", cfg.cuda_graph), ("--no-transfers", cfg.no_transfers)) if on]
    for pipe in pipes:
        if gpu_options and not pipe.device.startswith("cuda"):
            notice(f"  {pipe.backend}:{pipe.device}: {' and '.join(gpu_options)} "
                   f"{'do' if len(gpu_options) > 1 else 'does'} not apply on the CPU (ignored)")
        if cfg.cuda_graph and pipe.device.startswith("cuda") and not getattr(pipe.runners["encoder"],
                                                                             "supports_cuda_graph", False):
            notice(f"  {pipe.backend}:{pipe.device}: --cuda-graph is not supported by this backend (ignored)")
    peaks = {}
    for device in sorted({p.device for p in pipes}):
        notice(f"peak probe on {device} ...")
        peak = probe_peak(device, seconds=cfg.peak_seconds)
        peaks[device] = peak.as_dict()
        notice(f"  {device} ({peak.dtype}): matmul {peak.matmul_tflops * 1e3:.0f} GFLOP/s, 3x3 conv "
               f"{peak.conv3x3_tflops * 1e3:.0f} GFLOP/s -> peak {peak.tflops * 1e3:.0f} GFLOP/s")
    if any(not p.device.startswith("cuda") for p in pipes):
        notice("per-graph compute on the CPU is timed with the host wall clock (CUDA events only on a GPU)")
    batches = cfg.batches if cfg.mode == "throughput" else [1]
    if cfg.mode == "latency" and cfg.batches != [1]:
        notice("--mode latency measures batch 1 (single stream); use --mode throughput for larger batches")
    results = []
    try:
        total = len(pipes) * len(cfg.sizes) * len(batches)
        k = 0
        for size in cfg.sizes:
            for batch in batches:
                for pipe in pipes:
                    k += 1
                    progress(f"[{k}/{total}] {pipe.backend}:{pipe.device} {hw_text(size)} batch {batch}")
                    results.append(bench_case(pipe, size, batch, cfg, peaks[pipe.device]["tflops"], progress))
    finally:
        for pipe in pipes:
            pipe.deactivate()
    return {
        "schema": SCHEMA,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": info,
        "export": {"dir": str(Path(export_dir).resolve()), "family": manifest.family,
                   "precision": manifest.precision, "size_multiple": manifest.size_multiple},
        "settings": {"mode": cfg.mode, "seconds": cfg.seconds, "warmup": cfg.warmup,
                     "min_iterations": cfg.min_iterations, "cuda_graph": cfg.cuda_graph,
                     "no_transfers": cfg.no_transfers, "alpha": cfg.alpha, "batches": batches,
                     "sizes": [list(s) for s in cfg.sizes], "flop_convention": FLOP_CONVENTION,
                     "torch_threads": torch_threads()},
        "peak": peaks,
        "unavailable": unavailable,
        "results": results,
    }


def torch_threads() -> int | None:
    try:
        import torch
    except ImportError:
        return None
    return torch.get_num_threads()


# --------------------------------------------------------------------------------------
# Output: table, Markdown, chart, JSON
# --------------------------------------------------------------------------------------
COLUMNS = ("backend", "size", "N", "e2e med", "host med", "p90", "p99", "img/s", "enc", "xform", "dec",
           "style", "GFLOP", "GFLOP/s", "% peak", "RSS MB")


def _row(r: dict) -> tuple[str, ...]:
    m, e = r["metrics"], r["efficiency"]
    host = m["host"]["summary"]
    pct = e["host"]["fraction_of_peak"]
    return (f"{r['backend']}:{r['device']} {r.get('precision') or ''}".rstrip(), hw_text(r["size"]), str(r["batch"]),
            f"{m['end_to_end']['summary']['median']:.1f}", f"{host['median']:.1f}", f"{host['p90']:.1f}",
            f"{host['p99']:.1f}", f"{m['host']['images_per_s']:.2f}",
            *(f"{m['compute'][g]['summary']['median']:.1f}" for g in GRAPHS),
            f"{m['style_encode']['uncached']['summary']['median']:.1f}",
            f"{r['flops']['total'] / 1e9:.1f}", f"{e['host']['tflops'] * 1e3:.0f}",
            "-" if pct is None else f"{100 * pct:.0f}%", f"{r['memory']['peak_rss_mb']:.0f}")


_WIDTHS = (27, 10, 3, 9, 9, 9, 9, 7, 8, 8, 8, 8, 7, 8, 7, 7)


def format_row(r: dict, header: bool = False) -> str:
    line = " ".join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(_row(r), _WIDTHS)))
    if header:
        head = " ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(COLUMNS, _WIDTHS)))
        return head + "   (ms; GFLOP/s and % of the probed peak from the host median)\n" + line
    return line


def format_table(report: dict) -> str:
    lines = [format_row(r, header=(i == 0)) for i, r in enumerate(report["results"])]
    for u in report["unavailable"]:
        lines.append(f"{u['backend']}:{u['device']}: unavailable ({u['reason']})")
    return "\n".join(lines)


def format_markdown(report: dict, title: str | None = None) -> str:
    info = report["machine"]
    gpu = info.get("gpu")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    lines = [f"# {title or 'stylert bench: ' + report['export']['family']}", "",
             f"- machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB"
             + (f"; GPU {gpu['name']} ({gpu.get('memory_gb')} GB, driver {gpu.get('driver')})" if gpu else "; no GPU"),
             f"- versions: {versions}; git {info.get('git_commit')}",
             f"- export: {report['export']['family']}, {report['export']['precision']}; mode "
             f"{report['settings']['mode']}; at least {report['settings']['seconds']} s and "
             f"{report['settings']['min_iterations']} iterations per figure after {report['settings']['warmup']} s "
             "of warm-up",
             f"- FLOPs: {report['settings']['flop_convention']}"]
    for dev, p in report["peak"].items():
        lines.append(f"- measured peak on {dev} ({p['dtype']}): matmul {p['matmul_tflops'] * 1e3:.0f} GFLOP/s, "
                     f"3x3 conv {p['conv3x3_tflops'] * 1e3:.0f} GFLOP/s")
    lines += ["", "Times in ms (median unless marked). e2e: PNG decode + stylize + PNG encode; host: numpy in/out; "
              "enc/xform/dec: each graph alone; style: encoding the style image (a cache hit costs "
              "microseconds).", "",
              "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for r in report["results"]:
        lines.append("| " + " | ".join(_row(r)) + " |")
    lines += ["", "Per graph (each fed directly; compute timer in the last column) and style encoding:", "",
              "| backend | size | N | figure | GFLOP | median ms | p90 ms | p99 ms | GFLOP/s | % peak | timer |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        m, e = r["metrics"], r["efficiency"]
        rows = [(g, r["flops"][g], m["compute"][g]["summary"], e.get(g)) for g in GRAPHS if "compute" in m]
        if "style_encode" in m:
            rows.append(("style encode (uncached)", r["flops"]["style_encoder"],
                         m["style_encode"]["uncached"]["summary"], e.get("style_encode")))
            rows.append(("style code (cache hit)", 0, m["style_encode"]["cached"]["summary"], None))
        for name, fl, s, eff in rows:
            gfs = f"{eff['tflops'] * 1e3:.1f}" if eff and eff["tflops"] is not None else "-"
            pct = f"{100 * eff['fraction_of_peak']:.0f}%" if eff and eff["fraction_of_peak"] is not None else "-"
            lines.append(f"| {r['backend']}:{r['device']} {r.get('precision') or ''} | {hw_text(r['size'])} | "
                         f"{r['batch']} | {name} | "
                         f"{fl / 1e9:.3g} | {s['median']:.3f} | {s['p90']:.3f} | {s['p99']:.3f} | {gfs} | {pct} | "
                         f"{r['compute_timer'] if name in GRAPHS else 'host-wall-clock'} |")
    if report["unavailable"]:
        lines += ["", "Unavailable backends:", ""]
        lines += [f"- `{u['backend']}:{u['device']}`: {u['reason']}" for u in report["unavailable"]]
    return "\n".join(lines) + "\n"


def draw_chart(report: dict, path) -> None:
    """Latency by size per backend (median, p90 whisker) and, with several batches, throughput by batch."""
    from ..core.chart import line_chart

    lat: dict[str, list] = {}
    thr: dict[str, list] = {}
    for r in report["results"]:
        key = f"{r['backend']}:{r['device']} {r.get('precision') or ''}".rstrip()
        s = r["metrics"]["host"]["summary"]
        if r["batch"] == 1:
            lat.setdefault(key, []).append((hw_text(r["size"]), s["median"], s["p90"]))
        thr.setdefault(f"{key} {hw_text(r['size'])}", []).append(
            (f"N={r['batch']}", r["metrics"]["host"]["images_per_s"], None))
    charts = []
    if lat:
        charts.append(line_chart(lat, title=f"{report['export']['family']}: host latency by size (median, p90 whisker)",
                                 ylabel="ms"))
    if any(len(v) > 1 for v in thr.values()) or not charts:
        charts.append(line_chart(thr, title=f"{report['export']['family']}: throughput by batch", ylabel="images/s"))
    write_chart(path, charts)

