"""GPU check: every GPU backend against the PyTorch reference, timed and compared in one process.

    python -m stylert.benchmarks gpu_check -o OUT                 # a CUDA GPU, no network, < 10 min
    python -m stylert.benchmarks gpu_check -o OUT --dry-run       # the same code path on the CPU, tiny

For each family (default ``adain`` and the shipped ``adain-multilevel``), from weights carried as
compact float16 safetensors (``--weights``, written by ``python -m stylert.benchmarks.gpu_tree
weights``; else the public ``.pth`` pair that ``stylert weights fetch`` installs):

1. export the model (``stylert.export.export_model``) into a temporary work folder;
2. time the content path (encoder -> transform with the style code computed once -> decoder, batch 1,
   features kept on the device) at each ``--sizes`` (default 512x512 and 1080x1920, rounded up to the
   family's size multiple; a style of at most ``--style-size``) for each variant:

   - ``pytorch-eager-fp32``: the model in float32 eager mode with TF32 off, the reference;
   - ``inductor-fp32`` / ``inductor-fp16``: AOTInductor engines (``stylert.engines.build``, one profile
     from the smallest image to the largest size); ``--inductor-families`` limits which families;
   - ``onnxruntime-cuda``: the export's graphs on ONNX Runtime's CUDA provider;
   - ``tensorrt-fp16`` (from the fp16 export) / ``tensorrt-int8`` (from an int8 export calibrated on the
     synthetic demo images): TensorRT plans.

   A variant that cannot run here is listed with the reason (not importable, no CUDA provider, build
   error...), never dropped silently. Timing reuses ``stylert bench``'s core
   (``harness.measure_events``: CUDA events on the engine's stream; ``harness.measure``, the host clock,
   on the CPU and for ONNX Runtime, whose stream torch cannot see): median and p90 of at least
   ``--min-iterations`` calls over ``--seconds`` after ``--warmup`` seconds;
3. compare each variant's image with the reference's (same input, same process, same device): PSNR
   (``core.checks.psnr``, clamped 0..1 images) and max abs difference; a variant passes when its PSNR
   reaches ``core.checks.MIN_PSNR_DB`` of its precision (fp32 60 dB, fp16 30 dB, int8 22 dB);
4. write ``OUT/gpu_check.json`` (machine, versions, settings, every row), ``OUT/gpu_check.md`` (the
   table) and ``OUT/latency.png`` (median latency per variant and size, p90 whiskers), rewritten after
   every row so that a run cut short keeps what it measured. ``--budget-s`` (default 480) skips what
   is left, with that reason, once the run has taken that long.

Exit status: 0 when every variant that ran passed its parity check, 1 otherwise, 2 for bad options.
The dry run (``--dry-run``, or ``--quick``: CPU, 32x48 and 48x32, two iterations, inductor fp32 on the
CPU, onnxruntime on the CPU) is what CI runs (tests/test_gpu_check.py). ``OUT``: ``-o``, by default
``benchmarks/results/gpu_check/<machine>/`` (a dry run: a temporary folder). How to run it on a rented GPU
machine: docs/gpu-check.md.
"""

from __future__ import annotations

import datetime
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .harness import (
    CudaEventTimer,
    machine_record,
    measure,
    measure_events,
    results_dir,
    scenario_parser,
    write_chart,
    write_json,
    write_text,
)

NAME = "gpu_check"
VARIANTS = ("pytorch-eager-fp32", "inductor-fp32", "inductor-fp16", "onnxruntime-cuda", "tensorrt-fp16",
            "tensorrt-int8")
DEFAULT_FAMILIES = "adain,adain-multilevel"
DEFAULT_SIZES = "512x512,1080x1920"
PRECISION = {"pytorch-eager-fp32": "fp32", "inductor-fp32": "fp32", "inductor-fp16": "fp16",
             "onnxruntime-cuda": "fp32", "onnxruntime-cpu": "fp32", "tensorrt-fp16": "fp16", "tensorrt-int8": "int8"}


@dataclass
class Settings:
    device: str
    sizes: list[tuple[int, int]]
    style_size: int
    warmup_s: float
    seconds: float
    min_iterations: int
    budget_s: float
    inductor_families: set[str]
    alpha: float = 1.0
    started: float = field(default_factory=time.perf_counter)

    def over_budget(self) -> bool:
        return time.perf_counter() - self.started > self.budget_s


class Skip(Exception):
    """A variant that cannot run here; the message is the reason in the report."""


def _db(value) -> str:
    """A parity PSNR for people: None (identical images) is inf."""
    return "inf" if value is None else (value if isinstance(value, str) else f"{value:g}")


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:300] if text else ''}"


# --------------------------------------------------------------------------------------
# Models and inputs
# --------------------------------------------------------------------------------------
def weight_files(weights: Path | None) -> tuple[Path, Path]:
    """(encoder, decoder): the compact float16 copies in ``weights`` where given, else the public pair."""
    if weights is not None:
        files = (weights / "vgg_normalised.safetensors", weights / "decoder.safetensors")
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            from ..errors import WeightsError

            raise WeightsError(f"no compact weights {', '.join(missing)}", path=weights,
                               fix="python -m stylert.benchmarks.gpu_tree weights --out DIR")
        return files
    from ..models.pretrained import public_adain_files

    return public_adain_files()


def load_family(family: str, files: tuple[Path, Path]):
    """The float32 CPU model of ``family``: AdaIN from ``files``, a shipped family from its shipped
    file with ``files[0]`` as the public encoder."""
    from ..models.checkpoints import load_model

    if family == "adain":
        return load_model(list(files), "adain")
    from ..models.trained import load_shipped

    return load_shipped(family, public_encoder=files[0])


def _round_up(v: int, m: int) -> int:
    return -(-v // m) * m


def images(hw: tuple[int, int], style_size: int, multiple: int) -> tuple[np.ndarray, np.ndarray]:
    """Content [1,3,H,W] and style [1,3,h,w] float32 0..1 from the built-in demo pictures (no files):
    the style scaled to a longest side of at most ``style_size``, both sides multiples of ``multiple``
    (as the pipeline pads a style)."""
    from ..core.demo import demo_content, demo_style

    h, w = hw
    f = min(1.0, style_size / max(h, w))
    hs, ws = (max(2 * multiple, _round_up(round(d * f), multiple)) for d in (h, w))
    c = np.asarray(demo_content((w, h)), np.float32) / np.float32(255)
    s = np.asarray(demo_style((ws, hs)), np.float32) / np.float32(255)
    return (np.ascontiguousarray(c.transpose(2, 0, 1)[None]), np.ascontiguousarray(s.transpose(2, 0, 1)[None]))


# --------------------------------------------------------------------------------------
# Content paths
# --------------------------------------------------------------------------------------
def reference_path(model, torch, device: str, content: np.ndarray, style: np.ndarray, alpha: float):
    """(call, to_host) of the PyTorch eager content path, the style code computed once."""
    c = torch.from_numpy(content).to(device)
    with torch.inference_mode():
        code = model.encode_style(torch.from_numpy(style).to(device))

    def run():
        with torch.inference_mode():
            return model.decode(model.transfer(model.encode(c), code, alpha))

    return run, lambda out: out.detach().float().cpu().numpy()


def engine_path(pipe, torch, device: str, content: np.ndarray, style: np.ndarray, alpha: float):
    """(call, to_host) of the content path through an export's runners: encoder(content) ->
    transform(style code computed once, copied out of the encoder's buffers) -> decoder, every
    feature kept on the device."""
    route = pipe.route
    enc, tr, dec = (pipe.runners[g] for g in ("encoder", "transform", "decoder"))
    alpha_arr = pipe.alpha_array(alpha)
    if pipe.backend == "onnxruntime":
        if device.startswith("cuda"):  # uploaded once, as the engines' inputs are
            from ..core.providers import device_index, onnxruntime

            c = onnxruntime().OrtValue.ortvalue_from_numpy(content, "cuda", device_index(device))
        else:
            c = content
        s = style
    else:
        c, s = torch.from_numpy(content).to(device), torch.from_numpy(style).to(device)
    out = enc.infer({"image": s}, keep_on_device=True)
    code = {o: (out[o].clone() if hasattr(out[o], "clone") else out[o]) for o in route.code_outputs}

    def run():
        e = enc.infer({"image": c}, keep_on_device=True)
        t = tr.infer(route.transform_feeds(e, code, alpha_arr), keep_on_device=True)
        return dec.infer(route.decoder_feeds(t), keep_on_device=True)[route.result]

    return run, lambda value: np.asarray(dec.to_host(value), np.float32)


def time_call(fn, torch, settings: Settings, host_clock: bool, stream=None) -> dict:
    """median/p90/min/count (ms) of ``fn`` with ``stylert bench``'s timing core."""
    if settings.device.startswith("cuda") and not host_clock:
        m = measure_events(fn, CudaEventTimer(torch), settings.warmup_s, settings.seconds,
                            settings.min_iterations, stream)
        timer = "cuda-events"
    else:
        sync = torch.cuda.synchronize if settings.device.startswith("cuda") else None
        m = measure(fn, warmup_s=settings.warmup_s, min_duration_s=settings.seconds,
                    min_iterations=settings.min_iterations, sync=sync)
        timer = "host-wall-clock"
    s = m.summary
    return {"median_ms": s.median, "p90_ms": s.p90, "min_ms": s.min, "count": s.count, "timer": timer}


def parity(got: np.ndarray, want: np.ndarray, precision: str) -> dict:
    """PSNR (clamped 0..1 images), max abs difference and the verdict against MIN_PSNR_DB[precision]."""
    from ..core.checks import MIN_PSNR_DB, psnr

    g, w = np.clip(got, 0, 1), np.clip(want, 0, 1)
    if g.shape != w.shape:
        return {"psnr_db": None, "max_abs_diff": None, "min_psnr_db": MIN_PSNR_DB[precision], "ok": False,
                "note": f"shape {g.shape} vs the reference's {w.shape}"}
    value = psnr(g, w)
    finite = bool(np.isfinite(got).all())
    shown = round(float(value), 2) if np.isfinite(value) else (None if value == np.inf else "nan")  # None: equal
    return {"psnr_db": shown,
            "max_abs_diff": float(np.abs(g - w).max()), "min_psnr_db": MIN_PSNR_DB[precision],
            "ok": finite and value >= MIN_PSNR_DB[precision], "finite": finite}


# --------------------------------------------------------------------------------------
# Engines
# --------------------------------------------------------------------------------------
def _profile(model, settings: Settings) -> dict:
    m = model.size_multiple
    hs = [_round_up(h, m) for h, _ in settings.sizes]
    ws = [_round_up(w, m) for _, w in settings.sizes]
    lo = 2 * m
    return {"min": [f"1x3x{lo}x{lo}"], "opt": [f"1x3x{hs[0]}x{ws[0]}"],
            "max": [f"1x3x{max(hs + [settings.style_size])}x{max(ws + [settings.style_size])}"]}


def open_variant(variant: str, family: str, model, exports: dict, work: Path, settings: Settings, say):
    """The activated Pipeline of an engine variant, or Skip with the reason."""
    from ..engines.build import build_engines
    from ..runtime.engine_manifest import BuildOptions
    from ..runtime.pipeline import Pipeline

    device = settings.device
    backend, _, precision = variant.partition("-")
    if backend == "inductor":
        if family not in settings.inductor_families:
            raise Skip(f"not asked for {family} (--inductor-families {','.join(sorted(settings.inductor_families))})")
        if precision == "fp16" and not device.startswith("cuda"):
            raise Skip("FP16 AOTInductor engines are built for CUDA GPUs")
        export = exports_for(family, "fp32", model, exports, work, say)
    elif backend == "onnxruntime":
        from ..core.providers import cuda_provider_loads, onnxruntime

        if device.startswith("cuda"):
            ort = onnxruntime()
            if not cuda_provider_loads():
                raise Skip(f"onnxruntime {ort.__version__} has no working CUDA provider here (providers: "
                           f"{', '.join(ort.get_available_providers())}); pip install onnxruntime-gpu")
        return Pipeline.open(exports_for(family, "fp32", model, exports, work, say), "onnxruntime", device).activate()
    else:  # tensorrt
        if not device.startswith("cuda"):
            raise Skip("TensorRT plans run on CUDA GPUs")
        try:
            import tensorrt  # noqa: F401
        except ImportError as err:
            raise Skip(f"tensorrt is not importable ({_first_line(err)})") from None
        export = exports_for(family, precision, model, exports, work, say)
    options = BuildOptions(backend=backend, precision=precision, device=device, **_profile(model, settings))
    start = time.perf_counter()
    build_engines(export, options, log=say)
    say(f"  {variant}: built in {time.perf_counter() - start:.1f} s")
    return Pipeline.open(export, backend, device).activate()


def exports_for(family: str, precision: str, model, exports: dict, work: Path, say) -> Path:
    """The export of ``family`` at ``precision`` (made once): fp32, fp16 (float32 statistics and
    softmax in the graph) or int8 (calibrated on 8 pairs of synthetic demo images)."""
    key = (family, precision)
    if key in exports:
        return exports[key]
    from ..export import export_model

    out = work / f"{family}-{precision}"
    calibration = None
    if precision == "int8":
        from ..core.demo import demo_content, demo_style
        from ..export.quantize import calibration_set

        cal = work / "calibration"
        for i in range(8):
            (cal / "content").mkdir(parents=True, exist_ok=True)
            (cal / "style").mkdir(parents=True, exist_ok=True)
            demo_content((256, 256), seed=i).save(cal / "content" / f"{i}.png")
            demo_style((256, 256), seed=i).save(cal / "style" / f"{i}.png")
        calibration = calibration_set(cal)
    start = time.perf_counter()
    m = model.size_multiple
    export_model(model, out, precision=precision, sizes=[(4 * m, 6 * m)], overwrite=True, calibration=calibration)
    say(f"  export {family} {precision}: {time.perf_counter() - start:.1f} s")
    exports[key] = out
    return out


# --------------------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------------------
def run_family(family: str, files, settings: Settings, work: Path, report: dict, save, say) -> None:
    import torch

    model = load_family(family, files)
    exports: dict = {}
    m = model.size_multiple
    sizes = [(_round_up(h, m), _round_up(w, m)) for h, w in settings.sizes]
    inputs = {hw: images(hw, settings.style_size, m) for hw in sizes}
    refs: dict = {}
    variants = list(VARIANTS)
    if not settings.device.startswith("cuda"):
        variants[variants.index("onnxruntime-cuda")] = "onnxruntime-cpu"
    for variant in variants:
        pipe = None
        try:
            if settings.over_budget():
                raise Skip(f"the time budget (--budget-s {settings.budget_s:g}) was spent")
            if variant == "pytorch-eager-fp32":
                ref_model = load_family(family, files).to(settings.device).eval()
            else:
                pipe = open_variant(variant, family, model, exports, work, settings, say)
            for hw in sizes:
                content, style = inputs[hw]
                if pipe is None:
                    fn, host = reference_path(ref_model, torch, settings.device, content, style, settings.alpha)
                    stream, host_clock = None, False
                else:
                    fn, host = engine_path(pipe, torch, settings.device, content, style, settings.alpha)
                    stream = getattr(pipe.runners["decoder"], "cuda_stream", None)
                    host_clock = pipe.backend == "onnxruntime"
                out = host(fn())
                if pipe is None:
                    refs[hw] = out
                row = {"family": family, "variant": variant, "size": f"{hw[0]}x{hw[1]}",
                       "style": f"{style.shape[2]}x{style.shape[3]}", "precision": PRECISION[variant],
                       "timing": time_call(fn, torch, settings, host_clock, stream),
                       "parity": parity(out, refs[hw], PRECISION[variant])}
                report["rows"].append(row)
                p = row["parity"]
                say(f"  {family} {variant} {row['size']}: median {row['timing']['median_ms']:.3f} ms "
                    f"(p90 {row['timing']['p90_ms']:.3f}, {row['timing']['timer']}); PSNR {_db(p['psnr_db'])} dB "
                    f"(min {p['min_psnr_db']}), max abs diff {p['max_abs_diff']:.3g}: {'ok' if p['ok'] else 'FAILED'}")
                save()
            if pipe is None:
                del ref_model
        except Skip as why:
            report["skipped"].append({"family": family, "variant": variant, "reason": str(why)})
            say(f"  {family} {variant}: skipped: {why}")
            save()
        except Exception as err:  # a variant that fails is reported, and the others still run
            report["errors"].append({"family": family, "variant": variant, "error": _first_line(err),
                                     "traceback": traceback.format_exc(limit=6)})
            say(f"  {family} {variant}: ERROR {_first_line(err)}")
            save()
        finally:
            if pipe is not None:
                pipe.deactivate()
            if settings.device.startswith("cuda"):
                torch.cuda.empty_cache()


def markdown(report: dict) -> str:
    s = report["settings"]
    lines = [f"# GPU check: {report['machine_label']}", "",
             f"{report['created']}; torch {report['versions'].get('torch')}, CUDA {report['versions'].get('cuda')}, "
             f"onnxruntime {report['versions'].get('onnxruntime')}, tensorrt {report['versions'].get('tensorrt')}; "
             f"git {report['machine'].get('git_commit')}; {'DRY RUN (CPU, tiny sizes)' if s['dry_run'] else ''}",
             "",
             f"Content path, batch 1, style code cached; median of >= {s['min_iterations']} calls over "
             f"{s['seconds']} s after {s['warmup_s']} s warm-up. Reference: PyTorch eager fp32 (TF32 off), same "
             "process and device. Parity: PSNR of the clamped image against the reference (pass: at least the "
             "minimum of the precision) and max abs difference.", "",
             "| family | variant | size (style) | median ms | p90 ms | timer | speedup | PSNR dB (min) | max abs diff | |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ref = {(r["family"], r["size"]): r["timing"]["median_ms"] for r in report["rows"]
           if r["variant"] == "pytorch-eager-fp32"}
    for r in report["rows"]:
        t, p = r["timing"], r["parity"]
        base = ref.get((r["family"], r["size"]))
        lines.append(f"| {r['family']} | {r['variant']} | {r['size']} ({r['style']}) | {t['median_ms']:.3f} | "
                     f"{t['p90_ms']:.3f} | {t['timer']} | {base / t['median_ms']:.2f}x | "
                     f"{_db(p['psnr_db'])} ({p['min_psnr_db']:g}) | "
                     f"{p['max_abs_diff']:.3g} | {'ok' if p['ok'] else 'FAILED'} |" if base else "")
    if report["skipped"] or report["errors"]:
        lines += ["", "Not run:", ""]
        lines += [f"- {x['family']} {x['variant']}: skipped: {x['reason']}" for x in report["skipped"]]
        lines += [f"- {x['family']} {x['variant']}: ERROR {x['error']}" for x in report["errors"]]
    return "\n".join(line for line in lines if line is not None) + "\n"


def draw_latency(report: dict, path: Path) -> None:
    """Median latency per variant and size (p90 whiskers), one panel per family (``core.chart``)."""
    from ..core.chart import line_chart

    charts = []
    for family in dict.fromkeys(r["family"] for r in report["rows"]):
        series: dict = {}
        for r in report["rows"]:
            if r["family"] == family:
                series.setdefault(r["variant"], []).append((r["size"], r["timing"]["median_ms"], r["timing"]["p90_ms"]))
        charts.append(line_chart(series, title=f"{family}: content path latency (median, p90 whisker)", ylabel="ms"))
    if not charts:
        return
    write_chart(path, charts)


def versions() -> dict:
    out = {}
    for name in ("torch", "onnxruntime", "onnx", "tensorrt", "numpy"):
        try:
            out[name] = __import__(name).__version__
        except Exception:  # absent or broken: recorded as such
            out[name] = None
    try:
        import torch

        out["cuda"] = torch.version.cuda
    except ImportError:
        out["cuda"] = None
    return out


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__, quick_help="the dry run (--dry-run)",
                             out_help="folder for gpu_check.json/.md and latency.png (default: "
                                      "benchmarks/results/gpu_check/<machine>; a dry run: a temporary folder)")
    parser.add_argument("--dry-run", action="store_true", help="the same path on the CPU, tiny sizes, 2 iterations")
    parser.add_argument("--weights", help="folder of the compact float16 weights (gpu_tree weights); "
                                          "default: .gpu-weights in the repository where present, else the public pair")
    parser.add_argument("--families", default=DEFAULT_FAMILIES)
    parser.add_argument("--inductor-families", default="adain", help="families that get AOTInductor builds")
    parser.add_argument("--sizes", default=None, help=f"HxW list (default {DEFAULT_SIZES}; dry run 32x48,48x32)")
    parser.add_argument("--style-size", type=int, default=None, help="longest style side (default 512; dry run 32)")
    parser.add_argument("--warmup", type=float, default=None, help="seconds (default 1; dry run 0)")
    parser.add_argument("--seconds", type=float, default=None, help="per measurement (default 2; dry run 0)")
    parser.add_argument("--min-iterations", type=int, default=None, help="default 20; dry run 2")
    parser.add_argument("--budget-s", type=float, default=480.0, help="skip what is left after this many seconds")
    parser.add_argument("--workdir", help="exports and engines (default: a temporary folder, removed after)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier gpu_check.json in OUT")
    args = parser.parse_args(argv)

    from ..core.images import parse_hw
    from ..errors import StylertError

    dry = args.dry_run or args.quick
    out = Path(args.out) if args.out else results_dir(NAME, None, dry)
    temporary = dry and not args.out  # a dry run's own temporary folder: replaced
    if (out / "gpu_check.json").exists() and not args.overwrite and not temporary:
        print(f"gpu_check: {out / 'gpu_check.json'}: already exists (fix: --overwrite, or another -o)", file=sys.stderr)
        return 2
    try:
        import torch
    except ImportError:
        print("gpu_check: torch is not installed (fix: pip install torch)", file=sys.stderr)
        return 2
    device = "cpu" if dry else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible to torch (fix: run it on a GPU machine, or --dry-run)", file=sys.stderr)
        return 2
    try:
        sizes = [parse_hw(p, "--sizes") for p in (args.sizes or ("32x48,48x32" if dry else DEFAULT_SIZES)).split(",")]
    except StylertError as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return 2
    settings = Settings(device=device, sizes=sizes, style_size=args.style_size or (32 if dry else 512),
                        warmup_s=args.warmup if args.warmup is not None else (0.0 if dry else 1.0),
                        seconds=args.seconds if args.seconds is not None else (0.0 if dry else 2.0),
                        min_iterations=args.min_iterations or (2 if dry else 20), budget_s=args.budget_s,
                        inductor_families={f for f in args.inductor_families.split(",") if f})
    repo = Path(__file__).resolve().parents[1]
    weights = Path(args.weights) if args.weights else (repo / ".gpu-weights" if (repo / ".gpu-weights").is_dir() else None)
    torch.backends.cuda.matmul.allow_tf32 = False  # the reference is float32, not TF32
    torch.backends.cudnn.allow_tf32 = False

    info = machine_record()
    gpu = (info.get("gpu") or {}).get("name") if device == "cuda" else None
    report = {"schema": "stylert-gpu-check/1",
              "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "machine": info, "machine_label": gpu or f"CPU {info.get('cpu')}", "versions": versions(),
              "settings": {"dry_run": dry, "device": device, "sizes": [f"{h}x{w}" for h, w in sizes],
                           "style_size": settings.style_size, "warmup_s": settings.warmup_s,
                           "seconds": settings.seconds, "min_iterations": settings.min_iterations,
                           "alpha": settings.alpha, "tf32": False, "batch": 1,
                           "weights": str(weights) if weights else "public .pth pair"},
              "rows": [], "skipped": [], "errors": []}
    out.mkdir(parents=True, exist_ok=True)

    def save():
        write_json(out / "gpu_check.json", report)
        write_text(out / "gpu_check.md", markdown(report))

    def say(text):
        print(text, flush=True)

    say(f"GPU check on {report['machine_label']} ({device}); versions {report['versions']}")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="stylert-gpu-check-"))
    try:
        files = weight_files(weights)
        for family in [f for f in args.families.split(",") if f]:
            say(f"{family}:")
            run_family(family, files, settings, work, report, save, say)
    except StylertError as err:
        report["errors"].append({"family": None, "variant": None, "error": str(err)})
        save()
        print(f"gpu_check: {err}", file=sys.stderr)
        return 1
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    report["wall_s"] = round(time.perf_counter() - settings.started, 1)
    save()
    try:
        draw_latency(report, out / "latency.png")
    except ImportError as err:
        say(f"latency.png not drawn: {_first_line(err)}")
    failed = [r for r in report["rows"] if not r["parity"]["ok"]]
    say(markdown(report))
    say(f"wrote {out / 'gpu_check.json'}, {out / 'gpu_check.md'}, {out / 'latency.png'} in {report['wall_s']} s")
    return 1 if failed or report["errors"] else 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
