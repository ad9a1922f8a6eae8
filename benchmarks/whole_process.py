"""The public pytorch-AdaIN job as whole processes: PyTorch reference against exports, interleaved.

    python -m stylert.benchmarks whole_process --int8 exports/adain-int8 --fp32 exports/adain \\
        [-c IMG ... (4)] [-s STYLE] [--size 512] [--rounds 5] [--quick] [-o DIR]

The job of pytorch-AdaIN's ``test.py`` (4 contents x 1 style at SIZE x SIZE, one process that
starts, loads the model, stylizes and writes every image) is run as a fresh process per round
for each variant:

- ``reference``: ``stylert stylize`` without ``--engine`` (the PyTorch reference model with the
  public weights: pytorch-AdaIN's code path);
- ``fp32``: ``stylert stylize --engine FP32 --backend onnxruntime`` (ONNX Runtime CPU);
- ``int8``: ``stylert stylize --engine INT8 --backend onnxruntime``;
- ``fp32 auto`` / ``int8 auto``: the same with the default ``--backend auto`` (``--backends``
  names which of onnxruntime, auto, openvino run; default: onnxruntime and auto).

Each process's peak RSS is read from the kernel when it exits (``wait4``'s ``ru_maxrss``).
``--peak-shape HxW``: one more process per variant stylizes one content resized to HxW (no
crop) and its peak RSS is recorded (the job's 1080x1920 memory).

Variants run in rotating order round by round (``harness.interleave``), so that drift hits them
alike; each process's wall time (start to exit) is kept; medians, percentiles and ratios to the
reference.

Where the time goes (``--phases``, default on): once per variant, a process runs the same job
with a clock around each phase (interpreter start-up is ``python -c pass``; import of click, the
library modules the stylize command runs and the backend; model load; reading the images;
compute; writing PNGs).

Writes ``whole_process.json``, ``.md`` and ``.png`` (median seconds per variant, with the phases
stacked) into ``benchmarks/results/whole_process/<machine>/`` (``--out``). ``--quick``: the first two
contents at 64x64, one round, no phases.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from argparse import SUPPRESS
from pathlib import Path

import numpy as np

from .harness import interleave, machine_name, machine_record, results_dir, scenario_parser, summarize, write_results

NAME = "whole_process"

DEFAULT_CONTENTS = ("chicago.jpg", "cornell.jpg", "golden_gate.jpg", "sailboat.jpg")
DEFAULT_STYLE = "la_muse.jpg"
PHASES = ("interpreter", "import", "load", "read", "compute", "write")


def _shared_images() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "images"


def stylize_command(variant_dir: Path | None, contents, style, out: Path, size: int,
                    backend: str = "onnxruntime", crop: bool = True) -> list[str]:
    cmd = [sys.executable, "-m", "stylert", "--quiet", "stylize", *[a for c in contents for a in ("-c", str(c))],
           "-s", str(style), "-o", str(out), "--content-size", str(size), "--style-size", str(size),
           *(["--crop"] if crop else []), "--overwrite", "--device", "cpu"]
    if variant_dir is not None:
        cmd += ["--engine", str(variant_dir), "--backend", backend]
    return cmd


def _env() -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def run_process(cmd: list[str], env: dict) -> float:
    """Wall seconds of one process from spawn to exit (its peak RSS in MB: ``last_peak_rss_mb``); a
    failure stops the benchmark with its output."""
    global last_peak_rss_mb
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        last_peak_rss_mb = usage.ru_maxrss / 1024  # Linux: kilobytes
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-2000:]}")
    return wall


last_peak_rss_mb = 0.0


def phases_in_process(engine: str | None, contents: list[str], style: str, out: str, size: int,
                      backend: str = "onnxruntime") -> dict:
    """The job with a clock around each phase (what ``stylert stylize`` does, in the same order). The
    import phase imports click (the command line's parser) and the library modules the command runs,
    not the command module itself (benchmarks/ imports no ``commands/``)."""
    t = {}
    start = time.perf_counter()
    import click  # noqa: F401  the command line's parser, which the command loads first
    from stylert.core.images import load_image, save_image
    from stylert.core.stylize import StylizeOptions

    if engine is not None:
        from stylert.runtime.pipeline import Pipeline
        from stylert.runtime.stylizer import RuntimeStylizer
    else:
        from stylert.models.pretrained import load_reference_model
        from stylert.models.stylize import ReferenceStylizer
    t["import"] = time.perf_counter() - start
    start = time.perf_counter()
    if engine is not None:
        runner = RuntimeStylizer(Pipeline.open(engine, backend, "cpu").activate())
    else:
        runner = ReferenceStylizer(load_reference_model(None, ()), "cpu")
    t["load"] = time.perf_counter() - start
    start = time.perf_counter()
    images = [load_image(Path(c), size=size, crop=True) for c in contents]
    style_image = load_image(Path(style), size=size, crop=True)
    t["read"] = time.perf_counter() - start
    start = time.perf_counter()
    results = [runner.stylize(c, [style_image], StylizeOptions(alpha=1.0), style_keys=[Path(style)]) for c in images]
    t["compute"] = time.perf_counter() - start
    start = time.perf_counter()
    for c, r in zip(contents, results):
        save_image(r, Path(out) / f"{Path(c).stem}_stylized_{Path(style).stem}.png", overwrite=True)
    t["write"] = time.perf_counter() - start
    return t


def _chart(rows: list[dict], title: str):
    """One bar per variant: median whole-process seconds, the phases stacked inside it."""
    from PIL import Image, ImageDraw

    colors = {"interpreter": (150, 150, 150), "import": (31, 119, 180), "load": (255, 127, 14),
              "read": (140, 86, 75), "compute": (44, 160, 44), "write": (214, 39, 40)}
    w, h, left, bottom, top = 760, 440, 80, 60, 70
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((left, 10), title, fill="black")
    d.text((left, 28), "bar: median wall time of the whole process; inside: phases measured in one "
                       "timed process", fill="black")
    y_max = max(r["summary_s"]["p90"] for r in rows) * 1.1
    py = lambda v: h - bottom - (h - top - bottom) * v / y_max
    d.line([(left, top), (left, h - bottom), (w - 20, h - bottom)], fill="black")
    for v in np.linspace(0, y_max, 6):
        d.text((8, py(v) - 6), f"{v:.1f} s", fill="black")
    bw = (w - left - 40) / len(rows)
    for k, r in enumerate(rows):
        x0 = left + 20 + k * bw
        x1 = x0 + bw * 0.6
        d.rectangle([x0, py(r["summary_s"]["median"]), x1, py(0)], outline="black")
        base = 0.0
        for name in PHASES:
            v = (r.get("phases_s") or {}).get(name)
            if v is None:
                continue
            d.rectangle([x0 + 4, py(base + v), x1 - 4, py(base)], fill=colors[name])
            base += v
        d.text((x0, h - bottom + 6), r["variant"], fill="black")
        d.text((x0, h - bottom + 22), f"{r['summary_s']['median']:.1f} s, {r['speedup']:.2f}x", fill="black")
    lx = w - 150
    for i, name in enumerate(PHASES):
        d.rectangle([lx, top + 16 * i, lx + 10, top + 16 * i + 10], fill=colors[name])
        d.text((lx + 16, top + 16 * i - 2), name, fill="black")
    return img


def main(argv=None) -> int:
    ap = scenario_parser(NAME, __doc__)
    ap.add_argument("--int8", type=Path, required=True, help="int8 export directory")
    ap.add_argument("--fp32", type=Path, default=None, help="float32 export directory (optional)")
    ap.add_argument("-c", "--content", dest="contents", action="append", type=Path, default=None)
    ap.add_argument("-s", "--style", type=Path, default=None)
    ap.add_argument("--size", type=int, default=None, help="default 512 (--quick: 64)")
    ap.add_argument("--rounds", type=int, default=None, help="default 5 (--quick: 1)")
    ap.add_argument("--no-phases", dest="phases", action="store_false", default=None)
    ap.add_argument("--phases-of", nargs=2, metavar=("ENGINE|-", "OUT"), help=SUPPRESS)
    ap.add_argument("--phases-backend", default="onnxruntime", help=SUPPRESS)
    ap.add_argument("--backends", default="onnxruntime,auto",
                    help="backends of the export variants, comma-separated (onnxruntime, auto, openvino)")
    ap.add_argument("--peak-shape", default=None, metavar="HxW",
                    help="also one process per variant on one content resized to HxW: its peak RSS")
    args = ap.parse_args(argv)
    args.size = args.size or (64 if args.quick else 512)
    args.rounds = args.rounds or (1 if args.quick else 5)
    if args.phases is None:
        args.phases = not args.quick
    images = _shared_images()
    contents = args.contents or [images / "content" / n for n in DEFAULT_CONTENTS[:2 if args.quick else 4]]
    style = args.style or images / "style" / DEFAULT_STYLE
    for p in [*contents, style]:
        if not Path(p).is_file():
            raise SystemExit(f"{p}: not found; pass the images with -c (4 times) and -s")
    if args.phases_of:  # the timed child process
        engine, out = args.phases_of
        print(json.dumps(phases_in_process(None if engine == "-" else engine, [str(c) for c in contents],
                                           str(style), out, args.size, args.phases_backend)))
        return 0
    for d in [args.int8, *([args.fp32] if args.fp32 else [])]:
        if not (d / "manifest.json").is_file():
            raise SystemExit(f"{d}: not an export directory (no manifest.json); make one with "
                             f"stylert export --precision int8 --calibration DIR -o {d}")

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    exports = ([("fp32", args.fp32)] if args.fp32 else []) + [("int8", args.int8)]
    # (name, export dir, backend); ONNX Runtime keeps the plain names of earlier records
    variants = [("reference", None, None)] + [
        (label if b == "onnxruntime" else f"{label} {b}", d, b) for label, d in exports for b in backends]
    env = _env()
    tmp = Path(tempfile.mkdtemp(prefix="stylert-whole-process-"))
    log = lambda m: print(m, flush=True)
    try:
        rss = {name: [] for name, _, _ in variants}

        def job(name, d, b):
            run_process(stylize_command(d, contents, style, tmp / name, args.size, b), env)
            rss[name].append(last_peak_rss_mb)

        log(f"warm-up: one process per variant (file cache, OpenVINO's model cache), {len(contents)} contents x 1 "
            f"style at {args.size}")
        samples = interleave({name: (lambda v=(name, d, b): job(*v)) for name, d, b in variants}, args.rounds,
                             warmup=1, rotate=True, progress=lambda r, got: log(
                                 f"round {r}/{args.rounds}: " + ", ".join(f"{n} {got[n][-1] / 1e3:.2f} s" for n in got)))
        times = {name: [t / 1e3 for t in samples[name]] for name in samples}  # seconds
        for name in rss:
            rss[name] = rss[name][1:]  # the warm-up process's own peak left out
        peak = {}
        if args.peak_shape:
            from PIL import Image

            h, w = (int(v) for v in args.peak_shape.lower().split("x"))
            big = tmp / f"content-{h}x{w}.png"
            with Image.open(contents[0]) as img:
                img.convert("RGB").resize((w, h), Image.LANCZOS).save(big)
            for name, d, b in variants:
                run_process(stylize_command(d, [big], style, tmp / f"{name}-peak", 0, b, crop=False), env)
                peak[name] = last_peak_rss_mb
                log(f"peak RSS at {h}x{w}: {name} {peak[name]:.0f} MB")
        phases = {}
        if args.phases:
            interp = [run_process([sys.executable, "-c", "pass"], env) for _ in range(3)]
            for name, d, b in variants:
                cmd = [sys.executable, "-m", "stylert.benchmarks", NAME, "--int8", str(args.int8),
                       *[a for c in contents for a in ("-c", str(c))], "-s", str(style), "--size", str(args.size),
                       "--phases-of", str(d) if d else "-", str(tmp / name),
                       "--phases-backend", b or "onnxruntime"]
                proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    raise SystemExit(f"phase timing of {name} failed:\n{proc.stderr[-2000:]}")
                phases[name] = {"interpreter": statistics.median(interp),
                                **json.loads(proc.stdout.strip().splitlines()[-1])}
        ref = statistics.median(times["reference"])
        rows = []
        for name, d, b in variants:
            s = summarize(times[name]).as_dict()  # seconds here (the function is unit-free)
            rows.append({"variant": name, "export": str(d) if d else None, "backend": b,
                         "command": " ".join(stylize_command(d, ["C1", "C2", "C3", "C4"], "S", Path("OUT"),
                                                             args.size, b)[1:]),
                         "peak_rss_mb": round(statistics.median(rss[name]), 1),
                         "peak_rss_mb_at_peak_shape": round(peak[name], 1) if name in peak else None,
                         "times_s": [round(t, 3) for t in times[name]],
                         "summary_s": {k: round(v, 3) if isinstance(v, float) else v for k, v in s.items()},
                         "speedup": round(ref / s["median"], 3),
                         "phases_s": {k: round(v, 3) for k, v in phases.get(name, {}).items()} or None})
        info = machine_record()
        report = {"benchmark": "pytorch-AdaIN job as whole processes, interleaved", "size": args.size,
                  "contents": [str(c) for c in contents], "style": str(style), "rounds": args.rounds,
                  "machine": info, "rows": rows, "peak_shape": args.peak_shape, "quick": args.quick,
                  "note": "speedup: the reference's median / the variant's median, from the same run"}
        name = machine_name(info)
        title = (f"# pytorch-AdaIN job ({len(contents)} contents x 1 style at {args.size}x{args.size}) as whole "
                 f"processes ({info.get('cpu', '')}, {info.get('cores')} cores), {args.rounds} interleaved rounds")
        lines = [title, "",
                 "| variant | median s | p90 s | min s | max s | speed-up vs reference | peak RSS MB | "
                 + (f"peak RSS MB at {args.peak_shape} | " if args.peak_shape else "") + " | ".join(PHASES) + " |",
                 "|---|---|---|---|---|---|---|" + ("---|" if args.peak_shape else "") + "---|" * len(PHASES)]
        for r in rows:
            s, p = r["summary_s"], r["phases_s"] or {}
            big = f"{r['peak_rss_mb_at_peak_shape']:.0f} | " if args.peak_shape else ""
            lines.append(f"| {r['variant']} | {s['median']:.2f} | {s['p90']:.2f} | {s['min']:.2f} | {s['max']:.2f} | "
                         f"{r['speedup']:.2f}x | {r['peak_rss_mb']:.0f} | {big}"
                         + " | ".join(f"{p[k]:.2f}" if k in p else "-" for k in PHASES) + " |")
        lines += ["", "Phases (seconds) from one extra timed process per variant; interpreter = `python -c pass`. "
                  "Peak RSS: the process's, from the "
                  "kernel at exit (median over the rounds)."]
        print("\n".join(lines))
        write_results(args.out or results_dir(NAME, info, args.quick), NAME, report, "\n".join(lines),
                      _chart(rows, f"whole-process pytorch-AdaIN job, {args.size}x{args.size} ({name})"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
