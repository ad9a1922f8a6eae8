"""Load on the Triton ``stylize`` model with perf_analyzer, beside the in-process runtime, in one run.

    python -m stylert.benchmarks serving_load --export DIR [--backend python] [--size 512]
           [--concurrency 1,2,4,8] [--python-env ENV] [--perf-analyzer PATH]

What it does: writes a repository for the export (``--backend``, one named style encoded from
``--style``), starts ``tritonserver`` on free 127.0.0.1 ports, checks one served image against the
runtime (PSNR), runs ``perf_analyzer`` (gRPC, synchronous requests, count windows) on ``stylize``
at each concurrency with one ``size`` x ``size`` content and the named style, then times the
in-process runtime (``Pipeline.stylize`` with the same cached style code, one stream) on the same
machine, and stops the server. Writes ``serving_load.json``, ``serving_load.md`` and
``serving_load.png`` (throughput and p50 latency with p99 whiskers) into
``benchmarks/results/serving_load/<machine>/`` (``--out``). ``--quick``: 64x64, concurrency 1, one
window, 1 s of the runtime (a server is still started: minutes of set-up are not saved).

perf_analyzer: ``--perf-analyzer PATH``, else on PATH. ``benchmarks/get_perf_analyzer.sh`` fetches
the one matching the nvidia-pytriton server (2.51) from the tritonclient 2.51.0 wheel; the NGC
``tritonserver:<yy.mm>-py3-sdk`` container has it too. Its folder is put on LD_LIBRARY_PATH.

On a GPU machine (in the NGC container, whose tritonserver has every backend)::

    python -m stylert.benchmarks serving_load --export DIR --backend onnxruntime --device gpu \\
        --runtime-backend onnxruntime --runtime-device cuda
    python -m stylert.benchmarks serving_load --export DIR --backend tensorrt --device gpu \\
        --runtime-backend tensorrt --runtime-device cuda          # after `stylert build DIR`
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .harness import machine_name, machine_record, measure, results_dir, scenario_parser, write_results

NAME = "serving_load"
SHARED_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def _images(size: int, content: Path | None, style: Path | None):
    """uint8 content (size x size) and float style (short side ``size``): files, else ../shared, else noise."""
    from ..core.images import load_image, to_uint8

    content = content or SHARED_IMAGES / "content" / "chicago.jpg"
    style = style or SHARED_IMAGES / "style" / "mondrian.jpg"
    if content.is_file() and style.is_file():
        return to_uint8(load_image(content, size=size, crop=True)), style
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8), None


def _perf_analyzer(explicit: str | None) -> Path:
    found = explicit or shutil.which("perf_analyzer")
    if not found or not Path(found).is_file():
        raise SystemExit("error: perf_analyzer not found (fix: bash benchmarks/get_perf_analyzer.sh DIR, then "
                         "--perf-analyzer DIR/perf_analyzer; or run in the NGC tritonserver -sdk container)")
    return Path(found).resolve()


def run_perf_analyzer(pa: Path, url: str, data_file: Path, concurrency: int, requests: int, trials: int,
                      work: Path) -> dict:
    """One concurrency level -> throughput (infer/s) and client latency percentiles (ms)."""
    csv_file = work / f"pa-c{concurrency}.csv"
    cmd = [str(pa), "-m", "stylize", "-u", url, "-i", "grpc", "--input-data", str(data_file),
           "--concurrency-range", f"{concurrency}:{concurrency}", "--measurement-mode", "count_windows",
           "--measurement-request-count", str(requests), "--stability-percentage", "100", "--max-trials", str(trials),
           "--percentile", "50", "-f", str(csv_file)]
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(pa.parent), env.get("LD_LIBRARY_PATH")]))
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode != 0 or not csv_file.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        if "stable measurement" in " ".join(tail) and requests < 64:  # busy machine: longer windows, once
            print(f"  concurrency {concurrency}: not stable with {requests} requests per window; "
                  f"trying {2 * requests}", flush=True)
            return run_perf_analyzer(pa, url, data_file, concurrency, 2 * requests, trials, work)
        raise SystemExit(f"error: perf_analyzer failed at concurrency {concurrency}: {' | '.join(tail)}")
    with open(csv_file, newline="") as f:
        row = next(csv.DictReader(f))
    us = 1e-3
    return {"concurrency": concurrency, "throughput": float(row["Inferences/Second"]),
            "p50_ms": float(row["p50 latency"]) * us, "p90_ms": float(row["p90 latency"]) * us,
            "p99_ms": float(row["p99 latency"]) * us,
            "server_compute_ms": float(row["Server Compute Infer"]) * us,
            "server_queue_ms": float(row["Server Queue"]) * us, "wall_s": round(time.perf_counter() - start, 1),
            "requests_per_window": requests,
            "command": " ".join(cmd)}


def runtime_throughput(export: Path, backend: str, device: str, content: np.ndarray, style_code_image,
                       seconds: float) -> dict:
    """The in-process runtime on the same content and a cached style code: one stream."""
    from ..runtime.pipeline import Pipeline

    x = content.astype(np.float32) / np.float32(255)
    with Pipeline.open(export, backend, device) as p:
        code = p.encode_style(style_code_image)
        m = measure(lambda: p.stylize(x, [code]), warmup_s=0.0, min_duration_s=seconds, min_iterations=3)
        s = m.summary
        return {"backend": backend, "device": p.device, "iterations": s.count,
                "throughput": s.count / m.wall_s, "p50_ms": s.median, "p90_ms": s.p90, "p99_ms": s.p99}


def draw(result: dict) -> list:
    from ..core.chart import line_chart

    rows = result["triton"]
    rt = result["runtime"]
    served = f"Triton {result['backend']}"
    local = "runtime, 1 stream"
    thr = line_chart({served: [(f"c={r['concurrency']}", r["throughput"], None) for r in rows],
                      local: [(f"c={r['concurrency']}", rt["throughput"], None) for r in rows]},
                     title=f"stylize {result['size']}x{result['size']}: images/s vs perf_analyzer concurrency "
                           f"({result['machine_name']}; runtime: in-process {rt['backend']} {rt['device']})",
                     ylabel="images/s")
    lat = line_chart({f"{served} p50/p99": [(f"c={r['concurrency']}", r["p50_ms"] / 1e3, r["p99_ms"] / 1e3)
                                                     for r in rows],
                      f"{local}": [(f"c={r['concurrency']}", rt["p50_ms"] / 1e3, None) for r in rows]},
                     title="latency per request: p50, whisker to p99 (s)", ylabel="seconds")
    return [thr, lat]


def markdown(result: dict) -> str:
    rt = result["runtime"]
    agree = "identical" if result["psnr_db"] is None else f"PSNR {result['psnr_db']:.1f} dB"
    lines = [f"# Serving load: `stylize` at {result['size']}x{result['size']} ({result['machine_name']})", "",
             f"Triton {result['backend']} flavour, {result['instances']} instance(s) per model on "
             f"{result['device'].upper()}, named style; perf_analyzer over gRPC, synchronous requests. Served image vs "
             f"runtime: {agree}. Load average at start: {result['load_average']}.", "",
             "| concurrency | images/s | p50 ms | p90 ms | p99 ms | server compute ms | server queue ms |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["triton"]:
        lines.append(f"| {r['concurrency']} | {r['throughput']:.3f} | {r['p50_ms']:.0f} | {r['p90_ms']:.0f} | "
                     f"{r['p99_ms']:.0f} | {r['server_compute_ms']:.0f} | {r['server_queue_ms']:.0f} |")
    lines += ["", f"In-process runtime ({rt['backend']} {rt['device']}, one stream, cached style code, "
                  f"{rt['iterations']} images): {rt['throughput']:.3f} images/s, p50 {rt['p50_ms']:.0f} ms, "
                  f"p99 {rt['p99_ms']:.0f} ms.", "", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--export", type=Path, required=True, help="export directory (stylert export -o DIR)")
    parser.add_argument("--backend", choices=["python", "onnxruntime", "tensorrt"], default="python")
    parser.add_argument("--device", choices=["cpu", "gpu"], default=None, help="graph models' instances")
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--size", type=int, default=None, help="default 512 (--quick: 64)")
    parser.add_argument("--concurrency", default=None, help="default 1,2,4,8 (--quick: 1)")
    parser.add_argument("--requests", type=int, default=4,
                        help="requests per perf_analyzer window (at least the concurrency; doubled once if unstable)")
    parser.add_argument("--trials", type=int, default=None, help="perf_analyzer windows per concurrency (default 3; "
                        "--quick: 1)")
    parser.add_argument("--content", type=Path, default=None)
    parser.add_argument("--style", type=Path, default=None)
    parser.add_argument("--runtime-backend", default="onnxruntime")
    parser.add_argument("--runtime-device", default="cpu")
    parser.add_argument("--runtime-seconds", type=float, default=None, help="default 20 (--quick: 1)")
    parser.add_argument("--python-env", default=os.environ.get("STYLERT_TRITON_PYTHON_ENV"))
    parser.add_argument("--tritonserver", default=None)
    parser.add_argument("--perf-analyzer", default=None)
    args = parser.parse_args(argv)
    for key, full, small in (("size", 512, 64), ("concurrency", "1,2,4,8", "1"), ("trials", 3, 1),
                             ("runtime_seconds", 20.0, 1.0)):
        if getattr(args, key) is None:
            setattr(args, key, small if args.quick else full)

    from ..core.images import load_image
    from ..serving.client import StylizeClient
    from ..serving.repository import RepositoryOptions, write_repository
    from ..serving.server import TritonServer, free_port

    pa = _perf_analyzer(args.perf_analyzer)
    levels = [int(c) for c in args.concurrency.split(",")]
    info = machine_record()
    name = machine_name(info)
    out = args.out or results_dir(NAME, info, args.quick)
    content, style_path = _images(args.size, args.content, args.style)
    work = Path(tempfile.mkdtemp(prefix="stylert-serving-load-"))
    try:
        styles = [("bench", style_path)] if style_path else []
        if not styles:  # no image files: a noise style, stored as a code file
            from PIL import Image

            noise = np.random.default_rng(1).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
            style_path = work / "noise.png"
            Image.fromarray(noise).save(style_path)
            styles = [("bench", style_path)]
        repo = write_repository(args.export, work / "repo", RepositoryOptions(
            backend=args.backend, device=args.device, instances=args.instances, styles=styles, style_size=args.size))
        data_file = work / "input.json"
        data_file.write_text(json.dumps({"data": [{
            "content": {"content": content.reshape(-1).tolist(), "shape": list(content.shape)},
            "style_name": {"content": ["bench"], "shape": [1]}}]}))
        style_image = load_image(style_path, size=args.size)
        load = os.getloadavg()
        server = TritonServer(repo, python_env=args.python_env, executable=args.tritonserver, http_port=free_port(),
                              grpc_port=free_port(), metrics_port=free_port())
        print(f"{name}: starting tritonserver ({args.backend}) ...", flush=True)
        server.start(timeout=600)
        try:
            with StylizeClient(server.grpc_url) as client:
                served = client.stylize(content, style_name="bench")
            grpc = server.grpc_url.split("//", 1)[1]
            rows = []
            for c in levels:
                # a window holds at least one request per connection, or its latencies are partial
                rows.append(run_perf_analyzer(pa, grpc, data_file, c, max(args.requests, c), args.trials, work))
                r = rows[-1]
                print(f"  concurrency {c}: {r['throughput']:.3f} images/s, p50 {r['p50_ms']:.0f} ms, "
                      f"p99 {r['p99_ms']:.0f} ms ({r['wall_s']} s)", flush=True)
        finally:
            server.stop()
        print("in-process runtime ...", flush=True)
        rt = runtime_throughput(args.export, args.runtime_backend, args.runtime_device, content, style_image,
                                args.runtime_seconds)
        print(f"  runtime: {rt['throughput']:.3f} images/s, p50 {rt['p50_ms']:.0f} ms", flush=True)
        from ..core.images import to_uint8
        from ..runtime.pipeline import Pipeline

        with Pipeline.open(args.export, "onnxruntime", "cpu") as p:
            local = to_uint8(p.stylize(content.astype(np.float32) / np.float32(255), [p.encode_style(style_image)]))
        mse = float(np.mean((served.astype(np.float64) - local.astype(np.float64)) ** 2)) / 255**2
        result = {
            "benchmark": "serving_load", "machine": info, "machine_name": name, "size": args.size,
            "backend": args.backend, "device": args.device or ("cpu" if args.backend == "python" else "gpu"),
            "instances": args.instances, "quick": args.quick, "load_average": [round(v, 2) for v in load],
            "psnr_db": None if mse == 0 else round(float(10 * np.log10(1 / mse)), 2),  # None: identical
            "triton": rows, "runtime": rt,
            "command": "python -m stylert.benchmarks serving_load " + " ".join(
                a if " " not in a else repr(a) for a in (argv if argv is not None else sys.argv[1:])),
        }
        print(markdown(result))
        write_results(out, NAME, result, markdown(result), draw(result))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
