"""GPU measurement of the AOTInductor engine, in one call: export AdaIN, build, validate, time.

    python -m stylert.benchmarks gpu_inductor       # CUDA: fp16 engine, 512x512 and 1080x1920, batch 1 and 8
    python -m stylert.benchmarks gpu_inductor --device cpu --sizes 64x64 --batches 1   # CPU (fp32)
    python -m stylert.benchmarks gpu_inductor --quick   # the CPU line at 64x64, 2 warm-up + 3 timed calls

Steps:

1. export the public AdaIN weights (``STYLERT_WEIGHTS`` or ``stylert weights fetch``) to
   ``--workdir/adain`` with ``stylert export`` (reused when already there);
2. build the inductor engine (``stylert build --backend inductor``): FP16 with float32
   statistics on CUDA, FP32 on the CPU; one profile from batch 1 at the smallest size to the
   largest batch at the largest size (kept when up to date);
3. validate it with ``stylert compare`` (the float32 PyTorch programs on the CPU as the
   reference): max abs difference and PSNR per graph and end to end; FP16 must reach MIN_PSNR_DB["fp16"] (30 dB) end
   to end and produce no NaN/Inf, or the script stops;
4. time, per size and batch, with CUDA events around each call (GPU time; host clock on the CPU):
   ``engine, cached style`` -- encoder(content) -> transform(style code computed once) -> decoder,
   features kept on the device; the same captured in a CUDA graph and replayed, where capture
   works; ``engine, style each time``; and the PyTorch float32 eager reference with PyTorch's
   default settings (TF32 as PyTorch defaults it), encoding the style each time as the public
   AdaIN code does;
5. print one table and the H100 targets (512x512 within 1.0 ms, 1920x1080 within 6 ms, cached
   style; at least 4x faster than the reference), and write what it printed, with the machine's
   GPU name, to ``benchmarks/results/gpu_inductor/<machine>/gpu_inductor.md`` (and ``.json``; ``--out``).
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np

from .harness import machine_record, results_dir, scenario_parser, write_results

NAME = "gpu_inductor"
TARGETS_MS = {(512, 512): 1.0, (1080, 1920): 6.0}
MIN_SPEEDUP = 4.0


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"512x512,1080x1920"`` -> [(512, 512), (1080, 1920)] (height x width, ``parse_hw``)."""
    from stylert.core.images import parse_hw

    return [parse_hw(part, "--sizes") for part in text.split(",")]


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


class Lines:
    """Prints and remembers every line (the results file is what was printed)."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.extend(str(text).splitlines() or [""])


def load_adain():
    from stylert.models.pretrained import load_public_adain

    return load_public_adain()


def export_once(model, out: Path, say) -> Path:
    from stylert.errors import StylertError
    from stylert.export import export_model
    from stylert.export.manifest import load_manifest

    try:
        load_manifest(out)
        say(f"export: reusing {out}")
        return out
    except StylertError:
        pass
    start = time.perf_counter()
    export_model(model, out, sizes=[(128, 192)], overwrite=out.exists())
    say(f"export: {out} in {time.perf_counter() - start:.1f} s")
    return out


def test_images(size: tuple[int, int]):
    """Content and style for validation: the shared test images where present, else the built-in demo ones."""
    from stylert.core.images import load_image

    shared = Path(__file__).resolve().parents[2] / "shared" / "images"
    h, w = size
    if (shared / "content" / "cornell.jpg").is_file():
        c = load_image(shared / "content" / "cornell.jpg", size=min(h, w), crop=True)
        s = load_image(shared / "style" / "la_muse.jpg", size=min(h, w), crop=True)
        return c, s
    from stylert.core.demo import demo_content, demo_style

    return (np.asarray(demo_content((w, h)), np.float32) / 255.0, np.asarray(demo_style((w, h)), np.float32) / 255.0)


def measure(fn, torch, device: str, warmup: int, iters: int) -> dict:
    """median/p90/min/count (ms) of ``iters`` calls after ``warmup`` untimed ones: CUDA events on the
    current stream on a GPU (``harness.measure_events``), the host clock on the CPU (``harness.measure``)."""
    from .harness import CudaEventTimer, measure_events
    from .harness import measure as host_measure

    for _ in range(warmup):
        fn()
    if device.startswith("cuda"):
        m = measure_events(fn, CudaEventTimer(torch), 0.0, 0.0, iters)
    else:
        m = host_measure(fn, warmup_s=0.0, min_duration_s=0.0, min_iterations=iters, max_iterations=iters)
    s = m.summary
    return {"median_ms": s.median, "p90_ms": s.p90, "min_ms": s.min, "count": s.count}


def engine_calls(pipe, torch, device: str, content, style, alpha: float):
    """(cached-style call, style-each-time call) through the engine's runners, tensors kept on the device."""
    route = pipe.manifest.route
    enc, tr, dec = (pipe.runners[g] for g in ("encoder", "transform", "decoder"))
    for r in (enc, tr, dec):
        r.check_finite = False  # validated above; the timed path is the engine alone
    n = content.shape[0]
    alpha_t = torch.full((len(pipe.alpha_levels),), alpha, dtype=torch.float32, device=device)

    def code_of(style_t):
        out = enc.infer({"image": style_t}, keep_on_device=True)
        return {o: out[o].expand(n, *out[o].shape[1:]).contiguous() for o in route.code_outputs}

    def run(code):
        e = enc.infer({"image": content}, keep_on_device=True)
        t = tr.infer(route.transform_feeds(e, code, alpha_t), keep_on_device=True)
        return dec.infer(route.decoder_feeds(t), keep_on_device=True)[route.result]

    cached = code_of(style)
    return (lambda: run(cached)), (lambda: run(code_of(style)))


def reference_call(model, torch, content, style, alpha: float):
    """The PyTorch float32 eager reference, style encoded each call (the public AdaIN code's way)."""

    def run():
        with torch.inference_mode():
            feats = model.encode(content)
            code = model.encode_style(style)
            if code[next(iter(code))].shape[0] != content.shape[0]:
                code = {k: v.expand(content.shape[0], *v.shape[1:]) for k, v in code.items()}
            return model.decode(model.transfer(feats, code, alpha))

    return run


def try_cuda_graph(torch, fn, device: str):
    """``fn`` captured in a CUDA graph (replayed per call), or None where capture fails."""
    if not device.startswith("cuda"):
        return None
    try:
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                fn()
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            fn()
        return graph.replay
    except Exception as err:  # capture is best effort: report and go on without it
        print(f"  (CUDA graph capture not possible: {type(err).__name__}: {str(err).splitlines()[0][:120]})")
        return None


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--device", default=None, choices=["cuda", "cpu"], help="default cuda (--quick: cpu)")
    parser.add_argument("--precision", default=None, choices=["fp16", "fp32"],
                        help="default fp16 on CUDA, fp32 on the CPU")
    parser.add_argument("--sizes", default=None, help="HxW list (default 512x512,1080x1920; --quick: 64x64)")
    parser.add_argument("--batches", default=None, help="default 1,8 (--quick: 1)")
    parser.add_argument("--workdir", default="/tmp/stylert-gpu-inductor", help="export + engines go here")
    parser.add_argument("--warmup", type=int, default=None, help="default 10 (--quick: 2)")
    parser.add_argument("--iters", type=int, default=None, help="default 50 (--quick: 3)")
    parser.add_argument("--alpha", type=float, default=1.0)
    parser.add_argument("--validate-size", type=int, default=None, help="short side of the validation images "
                        "(default 512; --quick: 64)")
    parser.add_argument("--save", action=argparse.BooleanOptionalAction, default=None,
                        help="write the results (default: on CUDA only)")
    args = parser.parse_args(argv)
    for key, full, small in (("device", "cuda", "cpu"), ("sizes", "512x512,1080x1920", "64x64"), ("batches", "1,8", "1"),
                             ("warmup", 10, 2), ("iters", 50, 3), ("validate_size", 512, 64)):
        if getattr(args, key) is None:
            setattr(args, key, small if args.quick else full)

    import torch

    from stylert.core.checks import MIN_PSNR_DB
    from stylert.core.images import pad_to_multiple
    from stylert.engines.build import build_engines, format_build
    from stylert.runtime.compare import compare, format_checks
    from stylert.runtime.engine_manifest import BuildOptions
    from stylert.runtime.pipeline import Pipeline

    say = Lines()
    device = args.device
    if device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU visible to torch: run with --device cpu for the reduced CPU mode", file=sys.stderr)
        return 2
    precision = args.precision or ("fp16" if device == "cuda" else "fp32")
    sizes, batches = parse_sizes(args.sizes), [int(b) for b in args.batches.split(",")]
    info = machine_record()
    gpu = info["gpu"]["name"] if info.get("gpu") else None
    say(f"# stylert AOTInductor engine, {precision} on {gpu or 'CPU ' + info['cpu']} "
        f"({datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')})")
    say(f"torch {torch.__version__}, CUDA {torch.version.cuda}, git {info.get('git_commit')}")

    # 1. export
    model = load_adain()
    work = Path(args.workdir)
    export_dir = export_once(model, work / "adain", say)

    # 2. build
    m = 8
    max_h = _round_up(max(h for h, _ in sizes), m)
    max_w = _round_up(max(w for _, w in sizes), m)
    opt_h, opt_w = sizes[0]
    options = BuildOptions(backend="inductor", precision=precision, device=device,
                           min=["1x3x16x16"], opt=[f"1x3x{opt_h}x{opt_w}"],
                           max=[f"{max(batches)}x3x{max(max_h, args.validate_size)}x{max(max_w, args.validate_size)}"])
    start = time.perf_counter()
    result = build_engines(export_dir, options, log=say)
    say(format_build(result))
    say(f"build: {time.perf_counter() - start:.1f} s")

    # 3. validate against the float32 PyTorch reference
    content, style = test_images((args.validate_size, args.validate_size))
    content = pad_to_multiple(content, m)[0]  # the content path at the engine's own multiple
    checks = compare(export_dir, [("inductor", device)], content, style, alpha=0.8)
    say("validation against the float32 PyTorch programs (CPU):")
    say(format_checks(checks))
    end_to_end = [c for c in checks if c.graph == "end-to-end"][0]
    failed = [c for c in checks if not c.ok]
    if not end_to_end.finite or (precision == "fp16" and end_to_end.psnr < MIN_PSNR_DB["fp16"]) or failed:
        say(f"VALIDATION FAILED ({len(failed)} checks): not timing")
        return 1

    # 4. time
    model = model.to(device).eval()
    rows = []
    with Pipeline.open(export_dir, "inductor", device) as pipe:
        gen = torch.Generator().manual_seed(0)
        for (h, w) in sizes:
            for n in batches:
                c = torch.rand(n, 3, h, w, generator=gen).to(device)
                s = torch.rand(1, 3, min(h, 512), min(w, 512), generator=gen).to(device)
                cached, each_time = engine_calls(pipe, torch, device, c, s, args.alpha)
                row = {"size": f"{h}x{w}", "batch": n}
                row["engine_cached"] = measure(cached, torch, device, args.warmup, args.iters)
                graph = try_cuda_graph(torch, cached, device)
                row["engine_cached_graph"] = measure(graph, torch, device, args.warmup, args.iters) if graph else None
                row["engine_style_each_time"] = measure(each_time, torch, device, args.warmup, args.iters)
                ref = reference_call(model, torch, c, s, args.alpha)
                row["reference_fp32_eager"] = measure(ref, torch, device, max(2, args.warmup // 2),
                                                      max(5, args.iters // 2))
                rows.append(row)
                best = min(x["median_ms"] for x in (row["engine_cached"], row["engine_cached_graph"]) if x)
                say(f"  {h}x{w} batch {n}: engine (cached style) {row['engine_cached']['median_ms']:.3f} ms"
                    + (f", CUDA graph {row['engine_cached_graph']['median_ms']:.3f} ms" if graph else "")
                    + f", style each time {row['engine_style_each_time']['median_ms']:.3f} ms; reference "
                    f"{row['reference_fp32_eager']['median_ms']:.3f} ms; speedup "
                    f"{row['reference_fp32_eager']['median_ms'] / best:.1f}x")
                del c, s, cached, each_time, ref, graph

    # 5. report
    kind = "GPU time, CUDA events" if device == "cuda" else "host wall clock"
    say("")
    say(f"## median per call ({kind}), {args.iters} iterations after {args.warmup} warm-up")
    say("| size | batch | engine, cached style | + CUDA graph | engine, style each time | PyTorch fp32 eager "
        "(style each time) | speedup (cached) | speedup (each time) |")
    say("|---|---|---|---|---|---|---|---|")
    verdicts = []
    for r in rows:
        ref = r["reference_fp32_eager"]["median_ms"]
        cached = min(x["median_ms"] for x in (r["engine_cached"], r["engine_cached_graph"]) if x)
        graph = f"{r['engine_cached_graph']['median_ms']:.3f}" if r["engine_cached_graph"] else "-"
        say(f"| {r['size']} | {r['batch']} | {r['engine_cached']['median_ms']:.3f} | {graph} | "
            f"{r['engine_style_each_time']['median_ms']:.3f} | {ref:.3f} | {ref / cached:.1f}x | "
            f"{ref / r['engine_style_each_time']['median_ms']:.1f}x |")
        h, w = (int(v) for v in r["size"].split("x"))
        target = TARGETS_MS.get((h, w)) or TARGETS_MS.get((w, h))
        if device == "cuda" and r["batch"] == 1 and target:
            verdicts.append(f"{r['size']} batch 1: {cached:.3f} ms (target {target} ms on an H100): "
                            f"{'met' if cached <= target else 'NOT met'}; speedup {ref / cached:.1f}x "
                            f"(target {MIN_SPEEDUP:g}x): {'met' if ref / cached >= MIN_SPEEDUP else 'NOT met'}")
    if verdicts:
        say("")
        say(f"targets (measured on {gpu}; they are stated for an H100):")
        for v in verdicts:
            say(f"- {v}")
    if args.save if args.save is not None else (device == "cuda" or args.out is not None):
        report = {"machine": info, "precision": precision, "device": device, "quick": args.quick, "rows": rows,
                  "validation": [c.__dict__ for c in checks], "engine": result.engine.data}
        write_results(args.out or results_dir(NAME, info, args.quick), NAME, report, "\n".join(say.lines))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
