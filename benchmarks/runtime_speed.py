"""The runtime on ONNX Runtime (CPU, cached style) against the PyTorch float32 eager reference
(style encoded on every call, as pytorch-AdaIN's test.py does), side by side in one run, with the
FLOP floor of the graphs on this machine's measured peak.

    python -m stylert.benchmarks runtime_speed [--export DIR] [--size 512] [--seconds 10] [--quick]

Three variants: the reference; the runtime on the graph ONNX Runtime optimizes by itself
(``STYLERT_ORT_FOLD=0``); the runtime as shipped (ORT's blocked layout kept across pads,
``runtime/backends/nchwc.py``). The peak is probed before and after them; the higher counts.
Prints a table and writes ``benchmarks/results/runtime_speed/<machine>/runtime_speed.json``. Needs the
public AdaIN weights for the reference (``stylert weights fetch`` or ``STYLERT_WEIGHTS``); ``--export``
names an AdaIN export to time (default: export one now). ``--quick``: 64x64, 0.2 s per variant,
0.2 s peak probes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .bench import graph_flops
from .harness import machine_record, measure, probe_peak, results_dir, scenario_parser, write_results

NAME = "runtime_speed"


def main(argv=None) -> dict:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--export", type=Path, default=None, help="AdaIN export directory (default: export now)")
    parser.add_argument("--size", type=int, default=None, help="content and style are size x size (default 512)")
    parser.add_argument("--seconds", type=float, default=None, help="minimum measured time per variant (default 10)")
    args = parser.parse_args(argv)
    n = args.size or (64 if args.quick else 512)
    seconds = args.seconds if args.seconds is not None else (0.2 if args.quick else 10.0)
    probe_s, warmup_s = (0.2, 0.2) if args.quick else (3.0, 2.0)

    import torch

    from ..core.demo import demo_content, demo_style
    from ..models.pretrained import load_public_adain
    from ..models.stylize import ReferenceStylizer
    from ..runtime.pipeline import Pipeline

    info = machine_record()
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['memory_gb']} GB; torch {info['versions']['torch']}, "
          f"onnxruntime {info['versions']['onnxruntime']}; torch threads {torch.get_num_threads()}")
    peak_before = probe_peak("cpu", seconds=probe_s)
    print(f"peak probe (float32): matmul {peak_before.matmul_tflops * 1e3:.0f} GFLOP/s, 3x3 conv "
          f"{peak_before.conv3x3_tflops * 1e3:.0f} GFLOP/s")

    model = load_public_adain()
    tmp = None
    export_dir = args.export
    if export_dir is None:
        from ..export import export_model

        tmp = tempfile.TemporaryDirectory(prefix="stylert-speed-")
        export_dir = Path(tmp.name) / "adain"
        print("exporting the AdaIN model ...")
        export_model(model, export_dir, sizes=[(128, 192)])

    content = np.asarray(demo_content((n, n)), np.float32) / 255.0
    style = np.asarray(demo_style((n, n)), np.float32) / 255.0
    reference = ReferenceStylizer(model, "cpu")
    results = {}
    rt_name = "runtime onnxruntime cpu, cached style"
    plain_name = "runtime onnxruntime cpu, cached style, ORT graph as-is"
    with Pipeline.open(export_dir, "onnxruntime", "cpu") as pipeline, \
            Pipeline.open(export_dir, "onnxruntime", "cpu", ort_fold=False) as plain:
        folds = {g: r.layout_folds for g, r in pipeline.runners.items()}
        print(f"reflection pads kept in ONNX Runtime's blocked layout (runtime/backends/nchwc.py): {folds}")
        code = pipeline.encode_style(style)
        out_rt = pipeline.stylize(content, [code])
        out_plain = plain.stylize(content, [code])
        out_ref = np.clip(reference.stylize(content, [style]), 0, 1)
        agreement = float(np.abs(out_rt - out_ref).max())
        fold_identical = bool(np.array_equal(out_rt, out_plain))
        print(f"max |runtime - reference| {agreement:.1e}; folded layout == ORT's own graph: {fold_identical}")
        variants = {
            "pytorch eager fp32, style encoded per call": lambda: reference.stylize(content, [style]),
            plain_name: lambda: plain.stylize(content, [code]),
            rt_name: lambda: pipeline.stylize(content, [code]),
        }
        for name, fn in variants.items():
            m = measure(fn, warmup_s=warmup_s, min_duration_s=seconds, min_iterations=5)
            results[name] = {"summary": m.summary.as_dict(), "samples_ms": m.samples_ms}
            s = m.summary
            print(f"  {name:56s} median {s.median:8.1f} ms  p90 {s.p90:8.1f}  min {s.min:8.1f}  (n={s.count})")
        manifest = pipeline.manifest
        # the content path's three graphs at n x n, batch 1 (the style code is cached: no style encoder)
        flops = {g: c["total"] for g, c in graph_flops(manifest, manifest.input_shapes(1, (n, n))).items()}
    total = sum(flops.values())
    # Probed again after the timed runs; the higher of the two counts (the stricter floor on a noisy machine).
    peak_after = probe_peak("cpu", seconds=probe_s)
    peak = max(peak_before, peak_after, key=lambda p: p.tflops)
    print(f"peak probe again: matmul {peak_after.matmul_tflops * 1e3:.0f} GFLOP/s, 3x3 conv "
          f"{peak_after.conv3x3_tflops * 1e3:.0f} GFLOP/s -> peak {peak.tflops * 1e3:.0f} GFLOP/s (the higher probe)")
    floor_ms = total / (peak.tflops * 1e12) * 1e3
    ref_ms = results["pytorch eager fp32, style encoded per call"]["summary"]["median"]
    rt_ms = results[rt_name]["summary"]["median"]
    plain_ms = results[plain_name]["summary"]["median"]
    report = {
        "machine": info,
        "peak": peak.as_dict(),
        "peak_probes": [peak_before.as_dict(), peak_after.as_dict()],
        "size": [n, n], "quick": args.quick,
        "flops": {**flops, "total": total},
        "floor_ms": floor_ms,
        "results": results,
        "speedup_vs_reference": ref_ms / rt_ms,
        "runtime_over_floor": rt_ms / floor_ms,
        "max_abs_runtime_vs_reference": agreement,
        "ort_layout_folds": folds,
        "folded_equals_ort_graph": fold_identical,
        "fold_speedup": plain_ms / rt_ms,
    }
    print(f"FLOPs of the content path at {n}x{n} (encoder + transform + decoder): {total / 1e9:.1f} GFLOP "
          f"-> floor {floor_ms:.0f} ms at {peak.tflops * 1e3:.0f} GFLOP/s")
    print(f"runtime vs reference: {ref_ms / rt_ms:.2f}x faster (target >= 1.5x); runtime / floor: "
          f"{rt_ms / floor_ms:.2f}x (target <= 1.3x); max |runtime - reference| {agreement:.1e}")
    print(f"ORT's own graph: {plain_ms:.0f} ms = {plain_ms / floor_ms:.2f}x the floor; keeping its blocked layout "
          f"across pads: {plain_ms / rt_ms:.2f}x faster")
    write_results(args.out or results_dir(NAME, info, args.quick), NAME, report)
    if tmp is not None:
        tmp.cleanup()
    return report


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
