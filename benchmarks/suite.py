"""The README's performance section from one command: every family, the reference and every backend.

    python -m stylert.benchmarks suite [--quick] [--family adain ...] [--shape 512x512 ...] [--out DIR]
        [--precision fp32 --precision fp16 --precision int8 [--calibration DIR] [--int8-float-layers LIST]]

For each family (``adain`` with the public weights, the others with their shipped trained weights
or, where none are shipped, synthetic He-initialised ones, which time the same; each exported once
into a temporary directory, and each table says which weights it ran):

* the PyTorch float32 eager reference, style encoded on every call (as the public reference code);
* the runtime (``Pipeline.stylize``, cached style, numpy in and out) on every backend of
  ``stylert.runtime.pipeline.BACKENDS`` that opens here (ONNX Runtime CPU, torch programs,
  and the engines: TensorRT, inductor... where the machine runs them);

at each ``--precision`` (default fp32; OpenVINO in rows per inference precision, bf16 and f32; fp16
exports run on ONNX Runtime only and int8 exports on ONNX Runtime and OpenVINO, in rows beside the float32 ones with the same statistics; int8 is calibrated on
``--calibration``, by default the shared train-v1 set, with ``--calibration-size`` pairs, and
keeps float the layers of ``--int8-float-layers`` or, without it, those the sensitivity pass
picks, as ``stylert export`` does),

at 256x256, 512x512, 1024x1024 and 1920x1080 (``--quick``: adain alone at 64x64, 0.2 s per figure,
ONNX Runtime and OpenVINO only, no engine to build; give ``--family`` / ``--shape`` / ``--seconds`` to widen it), with the ratio
to the reference, FLOPs of the graphs at that shape and the fraction of the measured peak, and
the peak RSS of each case. Scaling: latency against pixels and against batch, per family; for the
attention families, the attention matrices' memory, measured against the arithmetic
``N * (H/8 * W/8) * (Hs/8 * Ws/8) * 4 bytes`` (+ the relu5_1 term, at H/16), twice (the export's
transform computes the style path and the identity path used for alpha < 1), and the largest size
each family runs at here and on an 80 GB GPU by that arithmetic.

Writes ``benchmarks/results/suite/<machine>/suite.json`` (summaries, no samples), ``suite.md``,
``latency.png`` and ``scaling.png``: small files, committed.
"""

from __future__ import annotations

import gc
import tempfile
import time
from argparse import SUPPRESS
from pathlib import Path

import numpy as np

from ..core.images import SIZE_SPELLING, hw_text, parse_hw
from ..errors import StylertError
from .bench import (
    BenchConfig,
    bench_case,
    default_backends,
    graph_flops,
    open_backends,
    parse_backend,
    torch_threads,
)
from .flops import count_flops
from .harness import (
    MemorySampler,
    machine_record,
    measure,
    probe_peak,
    results_dir,
    scenario_parser,
    write_chart,
    write_json,
    write_text,
)

NAME = "suite"
FULL_SIZES = ["256x256", "512x512", "1024x1024", "1080x1920"]
QUICK_SIZES = ["64x64"]
QUICK_FAMILIES = ["adain"]
QUICK_BACKENDS = ("onnxruntime", "openvino")
GPU_MEMORY_BYTES = 80 * 10**9


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------
def load_family(family: str):
    """(model, weights description), from the family's descriptor (``stylert.models.family``): its
    public weights (adain), else the weights shipped with stylert (``stylert weights list``), else
    synthetic He-initialised weights (which time the same as trained ones; their accuracy figures say
    nothing about a trained model)."""
    from ..models import create_model, get_family, he_init
    from ..models.pretrained import load_reference_model

    descriptor = get_family(family)
    if descriptor.public_weights is not None:
        return load_reference_model(family), f"public weights ({descriptor.public_weights})"
    shipped = descriptor.shipped()
    if shipped is not None:
        return load_reference_model(family), (f"shipped weights {Path(shipped.file).name} (sha256 {shipped.sha256[:12]}, "
                                              f"{shipped.budget})")
    return he_init(create_model(family)), "synthetic (He init): no shipped weights"


# --------------------------------------------------------------------------------------
# Attention memory arithmetic
# --------------------------------------------------------------------------------------
def is_attention(manifest) -> bool:
    """Attention families: their style codes do not blend linearly (the manifest says so)."""
    return not manifest.codes_blend_linearly


def attention_bytes(manifest, size_hw, batch: int = 1) -> int:
    """float32 bytes of the attention matrices of one transform call, content and style of ``size_hw``:
    half of ``stylert.core.budget``'s attention estimate (which holds them as logits and softmax).
    0 for families without attention."""
    return manifest.footprint.estimate(size_hw, size_hw, batch).attention // 2


def largest_16x9(manifest, budget_bytes: float, fused: bool = False) -> tuple[int, int]:
    """The largest 16:9 content (= style) size, in steps of the size multiple, whose estimated memory
    (``stylert.core.budget``: activations + attention as logits and softmax; ``fused``: a fused
    softmax, which holds the matrices once) fits in ``budget_bytes``."""
    m = manifest.size_multiple
    footprint = manifest.footprint
    best = (0, 0)
    w = m
    while w < 50_000:
        h = max(m, round(w * 9 / 16 / m) * m)
        need = footprint.estimate((h, w), (h, w))
        if need.activations + (need.attention // 2 if fused else need.attention) > budget_bytes:
            break
        best = (h, w)
        w += m
    return best


def _available_memory() -> int:
    """Bytes this process may still allocate (``stylert.core.budget.available_bytes``: free memory,
    an address-space limit, STYLERT_MEMORY_BYTES); 8 GiB where none of them is known."""
    from ..core.budget import available_bytes

    free, _ = available_bytes()
    return free if free is not None else 8 * 2**30


# --------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------
def reference_case(model, size_hw, cfg: BenchConfig, flops_total: int, peak_tflops: float) -> dict:
    """The PyTorch float32 eager reference, batch 1, style encoded on every call."""
    from ..core.demo import demo_content, demo_style
    from ..models.stylize import ReferenceStylizer

    h, w = size_hw
    content = np.asarray(demo_content((w, h)), np.float32) / np.float32(255.0)
    style = np.asarray(demo_style((w, h)), np.float32) / np.float32(255.0)
    ref = ReferenceStylizer(model, "cpu")
    with MemorySampler() as mem:
        m = measure(lambda: ref.stylize(content, [style]), warmup_s=cfg.warmup, min_duration_s=cfg.seconds,
                    min_iterations=cfg.min_iterations)
    s = m.summary
    achieved = flops_total / (s.median * 1e-3) / 1e12
    return {"engine": "reference", "device": "cpu", "size": [h, w], "batch": 1, "summary": s.as_dict(),
            "images_per_s": len(m.samples_ms) / m.wall_s, "flops_total": flops_total, "tflops": achieved,
            "fraction_of_peak": achieved / peak_tflops, "peak_rss_mb": mem.peak_rss / 2**20,
            "rss_growth_mb": (mem.peak_rss - mem.start_rss) / 2**20}


def runtime_entry(r: dict) -> dict:
    """A bench_case result reduced to the suite's small record (no samples)."""
    host = r["metrics"]["host"]
    entry = {"engine": r["backend"], "device": r["device"], "precision": r["precision"], "size": r["size"],
             "batch": r["batch"], "summary": host["summary"], "images_per_s": host["images_per_s"],
             "flops_total": r["flops"]["total"],
             "flops": {g: r["flops"][g] for g in ("encoder", "transform", "decoder")},
             "tflops": r["efficiency"]["host"]["tflops"],
             "fraction_of_peak": r["efficiency"]["host"]["fraction_of_peak"],
             "peak_rss_mb": r["memory"]["peak_rss_mb"], "rss_growth_mb": r["memory"]["rss_growth_mb"],
             "device_peak_mb": r["memory"]["device_peak_mb"]}
    if "compute" in r["metrics"]:
        entry["compute_median_ms"] = {g: v["summary"]["median"] for g, v in r["metrics"]["compute"].items()}
    return entry


def _label(e: dict) -> str:
    if e["engine"] == "reference":
        return "reference"
    precision = e.get("precision")
    return f"{e['engine']}:{e['device']}" + (f" {precision}" if precision and precision != "fp32" else "")


def _row(e: dict, ref_ms: float | None) -> str:
    s = e["summary"]
    ratio = f"{ref_ms / s['median']:.2f}x" if ref_ms and e["engine"] != "reference" else "1.00x" if ref_ms else "-"
    return (f"{_label(e):22s} {hw_text(e['size']):>10s} {e['batch']:>3d} {s['median']:9.1f} {s['p90']:9.1f} "
            f"{s['p99']:9.1f} {e['images_per_s']:7.2f} {ratio:>7s} {e['flops_total'] / 1e9:8.1f} "
            f"{100 * e['fraction_of_peak']:6.0f}% {e['peak_rss_mb']:8.0f}")


HEADER = (f"{'engine':22s} {'size':>10s} {'N':>3s} {'median':>9s} {'p90':>9s} {'p99':>9s} {'img/s':>7s} "
          f"{'vs ref':>7s} {'GFLOP':>8s} {'%peak':>7s} {'RSS MB':>8s}")


def build_engines_for(export_dir, backends, say) -> list[dict]:
    """Build the engines (``stylert build``) of the engine backends asked for that this machine can
    build; returns the builds that failed or cannot run here (recorded as unavailable)."""
    from ..engines.build import BuildOptions, build_engines, engines_available

    problems = []
    available = engines_available()
    for name, device in backends:
        if name not in available:
            continue  # not an engine backend (onnxruntime, torch)
        if available[name] is not None:
            continue  # open_backends records why it is unavailable
        say(f"  building {name} engines ({device}) ...")
        started = time.perf_counter()
        try:
            result = build_engines(export_dir, BuildOptions(backend=name, device=device), log=lambda m: None)
        except StylertError as err:
            problems.append({"backend": name, "device": device, "reason": f"build failed: {err}"})
            say(f"  {name}: build failed: {err}")
            continue
        say(f"  {name} engines built in {time.perf_counter() - started:.0f} s ({result.engine.precision})")
    return problems


DEFAULT_CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "train-v1"


def export_precisions(model, tmp: Path, family: str, precisions, backends, say, calibration=None,
                      float_layers=None) -> list[tuple[str, Path, list]]:
    """(precision, export dir, its backends) for each precision: float32 on every backend asked for,
    fp16 on the ONNX Runtime ones and int8 on ONNX Runtime and OpenVINO (the torch backend runs float32
    programs of any export)."""
    from ..export import export_model

    m = model.size_multiple
    exports = []
    for precision in precisions:
        export_dir = tmp / f"{family}-{precision}"
        say(f"\n== {family}: exporting {precision} ...")
        started = time.perf_counter()
        export_model(model, export_dir, sizes=[(4 * m, 6 * m)], precision=precision,
                     calibration=calibration if precision == "int8" else None,
                     float_layers=float_layers if precision == "int8" else None)
        say(f"  exported in {time.perf_counter() - started:.0f} s")
        # int8 (QDQ) exports also run on OpenVINO (its integer kernels); fp16 exports on ONNX Runtime only
        runs = ("onnxruntime", "openvino") if precision == "int8" else ("onnxruntime",)
        on = backends if precision == "fp32" else [b for b in backends if b[0].split("@")[0] in runs]
        exports.append((precision, export_dir, on))
    return exports


def run_family(family: str, sizes, batches, batch_size, cfg: BenchConfig, backends, peaks, say,
               attention_limit: float | None = None, precisions=("fp32",), calibration=None,
               float_layers=None) -> dict:

    model, weights = load_family(family)
    record = {"family": family, "weights": weights, "cases": [], "batch_scaling": [], "skipped": [],
              "unavailable": []}
    with tempfile.TemporaryDirectory(prefix=f"stylert-suite-{family}-") as tmp:
        say(f"\n== {family} ({weights})")
        pipes = []
        for precision, export_dir, on in export_precisions(model, Path(tmp), family, precisions, backends, say,
                                                           calibration, float_layers):
            failed_builds = build_engines_for(export_dir, on, say) if precision == "fp32" else []
            failed = {(f["backend"], f["device"]) for f in failed_builds}
            opened, unavailable = open_backends(export_dir, [b for b in on if b not in failed], notice=say)
            pipes += opened
            record["unavailable"] += unavailable + failed_builds
        manifest = pipes[0].manifest if pipes else None
        try:
            if manifest is not None:
                record["attention"] = is_attention(manifest)
                if record["attention"]:
                    # the same rule that skips a size below: 2 x the matrices (logits and softmax) in 80% of free RAM
                    free = _available_memory()
                    record["memory_available_gb"] = free / 1e9
                    record["largest_here_16x9"] = largest_16x9(manifest, free * 0.8)
                    record["largest_80gb_16x9"] = largest_16x9(manifest, GPU_MEMORY_BYTES * 0.9, fused=True)
                    record["largest_80gb_16x9_unfused"] = largest_16x9(manifest, GPU_MEMORY_BYTES * 0.9)
            say(HEADER)
            for size in sizes:
                predicted = attention_bytes(manifest, size) if manifest else 0
                # the estimate of stylert.core.budget (what `stylert stylize` checks), in 80% of free RAM
                need = manifest.footprint.estimate(size, size).total if predicted else 0
                if predicted and need > 0.8 * _available_memory():
                    reason = (f"needs ~{need / 1e9:.1f} GB (2 x {predicted / 1e9:.1f} GB of attention "
                              f"matrices, and activations), {_available_memory() / 1e9:.1f} GB available")
                    record["skipped"].append({"size": list(size), "reason": reason})
                    say(f"{family} {hw_text(size)}: skipped ({reason})")
                    continue
                if predicted and attention_limit is not None and predicted > attention_limit:
                    reason = (f"attention matrices {predicted / 1e9:.1f} GB, over --attention-limit-gb "
                              f"{attention_limit / 1e9:g} (this run's time budget; memory would allow it)")
                    record["skipped"].append({"size": list(size), "reason": reason})
                    say(f"{family} {hw_text(size)}: skipped ({reason})")
                    continue
                shapes = manifest.input_shapes(1, size)
                flops = graph_flops(manifest, shapes)
                total = sum(flops[g]["total"] for g in flops)
                style_in = manifest.input_shapes(1, manifest.style_size(*size))["encoder"]
                hs, ws = manifest.style_size(*size)
                style_flops = count_flops(str(manifest.graph_path("encoder")), {k: (1, 3, hs, ws) for k in style_in})["total"]
                ref = reference_case(model, size, cfg, total + style_flops, peaks["cpu"]["tflops"])
                ref["attention_bytes"] = predicted
                record["cases"].append(ref)
                say(_row(ref, ref["summary"]["median"]))
                for pipe in pipes:
                    r = runtime_entry(bench_case(pipe, size, 1, cfg, peaks[pipe.device]["tflops"],
                                                 progress=lambda *_: None))
                    r["attention_bytes"] = predicted
                    r["speedup_vs_reference"] = ref["summary"]["median"] / r["summary"]["median"]
                    record["cases"].append(r)
                    say(_row(r, ref["summary"]["median"]))
                gc.collect()
            if pipes:
                pipe = pipes[0]
                for b in batches:
                    r = runtime_entry(bench_case(pipe, batch_size, b, cfg, peaks[pipe.device]["tflops"],
                                                 progress=lambda *_: None))
                    r["attention_bytes"] = attention_bytes(manifest, batch_size, b)
                    record["batch_scaling"].append(r)
                    say(_row(r, None))
        finally:
            for pipe in pipes:
                pipe.deactivate()
    del model
    gc.collect()
    return record


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------
def format_markdown(report: dict) -> str:
    info = report["machine"]
    gpu = info.get("gpu")
    lines = ["# stylert performance", "",
             f"Machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB"
             + (f" (CPU flags: {' '.join(info['cpu_flags'])})" if info.get("cpu_flags") else "")
             + (f"; GPU {gpu['name']}" if gpu else "; no GPU") + ". "
             + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v) + f"; git {info.get('git_commit')}.",
             "",
             f"Produced by `{report['command']}` in {report['duration_s'] / 60:.1f} min. Each figure: "
             f"{report['settings']['warmup']} s of warm-up (excluded), then at least {report['settings']['seconds']} s "
             f"and {report['settings']['min_iterations']} iterations; times in ms, batch 1 unless stated. "
             "reference = PyTorch float32 eager, style encoded on every call (as the public code); the runtime "
             "rows use a cached style code, numpy in and out. FLOPs counted from the ONNX graphs at the "
             "measured shape (2 per multiply-add; the reference also counts the style encoder); % peak = "
             "achieved FLOP/s over the peak measured at the start:"]
    for dev, p in report["peak"].items():
        lines.append(f"{dev} {p['dtype']}: matmul {p['matmul_tflops'] * 1e3:.0f} GFLOP/s, "
                     f"3x3 conv {p['conv3x3_tflops'] * 1e3:.0f} GFLOP/s.")
    for note in report.get("notes", []):
        lines += ["", f"Note: {note}."]
    for fam in report["families"]:
        lines += ["", f"## {fam['family']} ({fam['weights']})", "",
                  "| engine | size | median | p90 | p99 | img/s | vs reference | GFLOP | % peak | peak RSS MB |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        ref_ms = {}
        for e in fam["cases"]:
            s = e["summary"]
            key = tuple(e["size"])
            if e["engine"] == "reference":
                ref_ms[key] = s["median"]
            ratio = f"{ref_ms[key] / s['median']:.2f}x" if key in ref_ms else "-"
            lines.append(f"| {_label(e)} | {hw_text(e['size'])} | {s['median']:.1f} | {s['p90']:.1f} | "
                         f"{s['p99']:.1f} | {e['images_per_s']:.2f} | {ratio} | {e['flops_total'] / 1e9:.1f} | "
                         f"{100 * e['fraction_of_peak']:.0f}% | {e['peak_rss_mb']:.0f} |")
        for sk in fam["skipped"]:
            lines.append(f"| - | {hw_text(sk['size'])} | skipped: {sk['reason']} | | | | | | | |")
        if fam["batch_scaling"]:
            b0 = fam["batch_scaling"][0]
            lines += ["", f"Batch scaling ({_label(b0)}, {hw_text(b0['size'])}): "
                      + ", ".join(f"N={e['batch']}: {e['summary']['median']:.0f} ms, {e['images_per_s']:.2f} img/s"
                                  for e in fam["batch_scaling"]) + "."]
        if fam["unavailable"]:
            lines += ["", "Unavailable here: " + "; ".join(f"`{u['backend']}:{u['device']}` ({u['reason']})"
                                                          for u in fam["unavailable"]) + "."]
    lines += ["", "## Scaling", "",
              "Latency against pixels (runtime on the first backend, batch 1): ms per megapixel.", "",
              "| family | " + " | ".join(report["sizes"]) + " |", "|---|" + "---|" * len(report["sizes"])]
    for fam in report["families"]:
        first = next((e for e in fam["cases"] if e["engine"] != "reference"), None)
        cells = []
        for st in report["sizes"]:
            e = next((c for c in fam["cases"] if first and _label(c) == _label(first) and hw_text(c["size"]) == st),
                     None)
            mp = e["size"][0] * e["size"][1] / 1e6 if e else 0
            cells.append(f"{e['summary']['median']:.0f} ms ({e['summary']['median'] / mp:.0f} ms/MP)" if e else "-")
        lines.append(f"| {fam['family']} | " + " | ".join(cells) + " |")
    attention = [f for f in report["families"] if f.get("attention")]
    if attention:
        lines += ["", "### Attention memory", "",
                  "The attention families hold, per transform call, N x (H/8 x W/8) x (Hs/8 x Ws/8) x 4 bytes at "
                  "relu4_1 plus the same at H/16 for relu5_1, twice (the exported transform computes the style "
                  "path and the identity path used for alpha < 1); content and style of the same size here, so "
                  "the memory grows with the square of the pixels. Measured beside it: the process's peak RSS "
                  "during the case and its growth above the RSS when the case began (ONNX Runtime keeps its "
                  "arena between cases, so growth shows new allocations only):", "",
                  "| family | engine | size | batch | attention matrices (arithmetic) | peak RSS | RSS growth |",
                  "|---|---|---|---|---|---|---|"]
        for fam in attention:
            for e in fam["cases"] + fam["batch_scaling"]:
                lines.append(f"| {fam['family']} | {_label(e)} | {hw_text(e['size'])} | {e['batch']} | "
                             f"{e['attention_bytes'] / 2**20:.1f} MiB | {e['peak_rss_mb']:.0f} MiB | "
                             f"{e.get('rss_growth_mb', 0):.0f} MiB |")
        lines += ["", "Largest 16:9 size whose attention fits (same arithmetic; content = style size). Here: twice "
                  "the matrices (ONNX Runtime and the reference keep the logits and the softmax) in 80% of the "
                  "free memory, the rule that skipped sizes above. On an 80 GB GPU (90% of it): the matrices "
                  "alone (an engine that fuses the softmax into the matmul) and twice them (unfused):", "",
                  "| family | largest measured here | fits here (free memory) | 80 GB GPU, fused "
                  "| 80 GB GPU, unfused |",
                  "|---|---|---|---|---|"]
        for fam in attention:
            ran = [e["size"] for e in fam["cases"]]
            biggest = max(ran, key=lambda s: s[0] * s[1]) if ran else None
            here, gpu80 = fam.get("largest_here_16x9", (0, 0)), fam.get("largest_80gb_16x9", (0, 0))
            unfused = fam.get("largest_80gb_16x9_unfused", (0, 0))
            free = f" ({fam['memory_available_gb']:.1f} GB free)" if "memory_available_gb" in fam else ""
            lines.append(f"| {fam['family']} | {hw_text(biggest) if biggest else '-'} | {hw_text(here)}{free} | "
                         f"{hw_text(gpu80)} | {hw_text(unfused)} |")
        lines += ["", "AdaIN families keep no attention matrix: their memory grows linearly with the pixels "
                  "(activations of the encoder and decoder)."]
    return "\n".join(lines) + "\n"


def draw_charts(report: dict, out: Path) -> list[Path]:
    from ..core.chart import line_chart

    def stack(charts, path):
        return write_chart(path, charts)

    latency, scaling = [], []
    for fam in report["families"]:
        series: dict[str, list] = {}
        for e in fam["cases"]:
            series.setdefault(_label(e), []).append((hw_text(e["size"]), e["summary"]["median"], e["summary"]["p90"]))
        if series:
            latency.append(line_chart(series, title=f"{fam['family']}: latency by size (median, p90 whisker)",
                                      ylabel="ms", size=(720, 300)))
    pix: dict[str, list] = {}
    thr: dict[str, list] = {}
    for fam in report["families"]:
        first = next((e for e in fam["cases"] if e["engine"] != "reference"), None)
        for e in fam["cases"]:
            if first and _label(e) == _label(first):
                pix.setdefault(fam["family"], []).append((f"{e['size'][0] * e['size'][1] / 1e6:.2f}MP",
                                                          e["summary"]["median"], e["summary"]["p90"]))
        for e in fam["batch_scaling"]:
            thr.setdefault(fam["family"], []).append((f"N={e['batch']}", e["images_per_s"], None))
    if pix:
        scaling.append(line_chart(pix, title="runtime latency against pixels (median, p90)", ylabel="ms",
                                  size=(720, 300)))
    if thr:
        scaling.append(line_chart(thr, title="runtime throughput against batch", ylabel="images/s", size=(720, 300)))
    paths = []
    if latency:
        paths.append(stack(latency, out / "latency.png"))
    if scaling:
        paths.append(stack(scaling, out / "scaling.png"))
    return paths


def main(argv=None) -> dict:
    from ..models.registry import list_families

    parser = scenario_parser(NAME, __doc__, out=False,
                             quick_help="adain at 64x64 only, 0.2 s per figure, ONNX Runtime and OpenVINO only")
    parser.add_argument("--family", action="append", default=None, help="families (default: all)")
    parser.add_argument("--shape", action="append", default=None, help="HxW (height first), repeatable")
    parser.add_argument("--size", action="append", default=None, help=SUPPRESS)
    parser.add_argument("--backend", action="append", default=None, help="NAME[:DEVICE] (default: all)")
    parser.add_argument("--seconds", type=float, default=None, help="minimum measured time per figure")
    parser.add_argument("--min-iterations", type=int, default=None, help="minimum iterations per figure")
    parser.add_argument("--no-compute", action="store_true",
                        help="host latency only (skip the per-graph compute figure: about half the time)")
    parser.add_argument("--attention-limit-gb", type=float, default=None,
                        help="skip sizes whose attention matrices exceed this (a time budget; default: memory only)")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="folder (default: benchmarks/results/suite/<machine>)")
    parser.add_argument("--precision", action="append", choices=("fp32", "fp16", "int8"), default=None,
                        help="export precisions measured, repeatable (default: fp32); fp16/int8 on ONNX Runtime")
    parser.add_argument("--calibration", type=Path, default=None,
                        help=f"int8 calibration images (default: {DEFAULT_CALIBRATION})")
    parser.add_argument("--calibration-size", type=int, default=8, help="int8 calibration pairs")
    parser.add_argument("--int8-float-layers", default=None, metavar="LIST",
                        help="int8: layers kept float (as stylert export --float-layers; default: the sensitivity "
                             "pass)")
    args = parser.parse_args(argv)
    precisions = list(dict.fromkeys(args.precision or ["fp32"]))
    if precisions[0] != "fp32":
        precisions = ["fp32"] + [p for p in precisions if p != "fp32"]  # the float32 rows come first
    calibration = None
    if "int8" in precisions:
        from ..export.quantize import calibration_set, read_layers

        calibration = calibration_set(args.calibration or DEFAULT_CALIBRATION, args.calibration_size)
        float_layers = read_layers(args.int8_float_layers)
    else:
        float_layers = None

    started = time.time()
    quick = args.quick
    if args.size:
        parser.error(f"--size (WIDTHxHEIGHT) is gone: sizes are {SIZE_SPELLING}; e.g. --shape 1080x1920")
    sizes = [parse_hw(s) for s in (args.shape or (QUICK_SIZES if quick else FULL_SIZES))]
    cfg = BenchConfig(backends=[], sizes=sizes, seconds=args.seconds or (0.2 if quick else 5.0),
                      warmup=0.1 if quick else 1.0, min_iterations=args.min_iterations or (3 if quick else 5),
                      keep_samples=False, figures=("host",) if quick or args.no_compute else ("host", "compute"))
    backends = [parse_backend(b) for b in args.backend] if args.backend else default_backends()
    if quick and not args.backend:  # no engine builds (minutes) and no torch programs: full runs only
        backends = [b for b in backends if b[0].split("@")[0] in QUICK_BACKENDS]
    batches = [1, 2] if quick else [1, 2, 4]
    batch_size = (64, 64) if quick else (512, 512)
    info = machine_record()
    out = args.out or results_dir(NAME, info, args.quick)
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; "
          f"{'GPU ' + info['gpu']['name'] if info.get('gpu') else 'no GPU'}; results -> {out}")
    peaks = {}
    devices = ["cpu"] + (["cuda"] if info.get("gpu") else [])
    for dev in devices:
        p = probe_peak(dev, seconds=0.2 if quick else 2.0)
        peaks[dev] = p.as_dict()
        print(f"peak {dev} ({p.dtype}): matmul {p.matmul_tflops * 1e3:.0f} GFLOP/s, "
              f"3x3 conv {p.conv3x3_tflops * 1e3:.0f} GFLOP/s")
    families = []
    for family in args.family or (QUICK_FAMILIES if quick else list_families()):
        try:
            families.append(run_family(family, sizes, batches, batch_size, cfg, backends, peaks, print,
                                       attention_limit=args.attention_limit_gb and args.attention_limit_gb * 1e9,
                                       precisions=precisions, calibration=calibration, float_layers=float_layers))
        except StylertError as err:
            print(f"{family}: not measured ({err})")
            families.append({"family": family, "weights": "-", "cases": [], "batch_scaling": [], "skipped": [],
                             "unavailable": [], "error": str(err)})
    command = "python -m stylert.benchmarks suite" + (" " + " ".join(argv) if argv else "")
    if argv is None:
        import sys

        command = "python -m stylert.benchmarks suite" + "".join(" " + a for a in sys.argv[1:])
    report = {"schema": "stylert-suite/1", "command": command, "machine": info, "peak": peaks,
              "settings": {"seconds": cfg.seconds, "warmup": cfg.warmup, "min_iterations": cfg.min_iterations,
                           "quick": quick, "batches": batches, "batch_size": list(batch_size),
                           "figures": list(cfg.figures), "attention_limit_gb": args.attention_limit_gb,
                           "torch_threads": torch_threads(), "precisions": precisions,
                           "int8_calibration": calibration.to_json() if calibration else None},
              "sizes": [hw_text(s) for s in sizes], "families": families, "duration_s": time.time() - started}
    write_json(out / "suite.json", report)
    write_text(out / "suite.md", format_markdown(report))
    charts = draw_charts(report, out)
    print(f"\nwrote {out / 'suite.json'}, {out / 'suite.md'}, " + ", ".join(str(p) for p in charts))
    return report


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
