"""INT8 against float32 in one run: speed of the content path, PSNR, content and style losses.

    python -m stylert.benchmarks int8_quality --fp32 exports/adain --int8 exports/adain-int8 \\
        --holdout DIR/holdout [--pairs 8] [--size 512] [--rounds 5] [--curve 4] [--also LABEL=DIR] \\
        [--float-layers LABEL=graph/node,...] [--quick] [-o DIR]

Variants: the float32 export, the int8 export, other int8 exports (``--also``, e.g. an earlier
calibration), int8 graphs rebuilt with chosen Conv layers in float (``--float-layers
LABEL=graph/node,...``) and, with ``--curve K``, int8 graphs rebuilt with the first k = 0..K
layers of the int8 export's sensitivity ranking kept in float (rebuilt variants use the int8
export's calibration images, from its manifest). Each runs with the runtime's ONNX Runtime CPU session
(``SessionFromOnnx``).

- Speed: the content path (encoder on the content, transform, decoder; style codes computed
  once) at SIZE x SIZE, the variants interleaved round by round in one process, so that the
  machine's drift hits them alike; medians and ratios to float32.
- Quality, on holdout pairs (never calibration images), each variant against float32: PSNR of
  the clamped images (mean and worst pair); the losses of ``stylert evaluate``
  (``evaluation.metrics``: content loss at relu4_1 against the content, style loss = mean/std at
  relu1_1..relu4_1 against the style) as ratios to float32's, of the means and the worst pair.

Writes ``int8_quality<tag>.json``, ``.md`` and, with ``--curve``, ``.png`` (the trade-off) into
``benchmarks/results/int8_quality/<machine>/`` (``--out``). ``--quick``: 2 pairs at 32x32, 2 rounds.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
from pathlib import Path

import numpy as np

from ..core.checks import psnr
from ..core.images import collect_images, load_image
from ..export.manifest import load_manifest
from ..export.routing import chain
from ..runtime.backends.onnxrt import SessionFromOnnx
from .harness import interleave, machine_name, machine_record, results_dir, scenario_parser, write_results

NAME = "int8_quality"

GRAPHS = ("encoder", "transform", "decoder")
STYLE_TAPS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


class Variant:
    def __init__(self, name: str, files: dict[str, Path], float_layers: list[str] | None = None):
        self.name, self.files, self.float_layers = name, files, float_layers
        self.sessions = {g: SessionFromOnnx(p)() for g, p in files.items()}
        self.cache: dict[int, dict] = {}
        self.times: list[float] = []

    def __call__(self, graph, feeds):
        key = id(feeds.get("image")) if graph == "encoder" else None
        if key in self.cache:  # the style image: encoded once
            return self.cache[key]
        s = self.sessions[graph]
        names = [o.name for o in s.get_outputs()]
        out = dict(zip(names, s.run(names, {i.name: feeds[i.name] for i in s.get_inputs()})))
        return out

    def style_code(self, style: np.ndarray) -> None:
        self.cache = {id(style): self("encoder", {"image": style})}

    def run(self, routing, content, style, alpha) -> np.ndarray:
        return chain(self, routing, content, style, alpha)


def _pairs(holdout: Path, count: int, size: int):
    root = Path(holdout)
    if (root / "content").is_dir():
        contents, styles = collect_images(root / "content"), collect_images(root / "style")
    else:
        contents = collect_images(root)
        styles = contents[1:] + contents[:1]
    load = lambda p: np.ascontiguousarray(load_image(p, size=size, crop=True).transpose(2, 0, 1)[None])
    return [(contents[i], styles[i % len(styles)], load(contents[i]), load(styles[i % len(styles)]))
            for i in range(min(count, len(contents)))]


def _hwc(image: np.ndarray) -> np.ndarray:
    """[1, 3, H, W] (not clamped) -> [H, W, 3] in 0..1, as ``evaluation.metrics`` takes images."""
    return np.ascontiguousarray(np.clip(image[0], 0, 1).transpose(1, 2, 0), dtype=np.float32)


def _losses(encoder, image: np.ndarray, content_feats: dict, style_targets) -> tuple[float, float]:
    """(content loss at relu4_1, style loss) of ``stylert evaluate`` (``evaluation.metrics``)."""
    from ..evaluation.metrics import StyleTargets, content_loss, style_loss

    feats = encoder.features(_hwc(image))
    return content_loss(feats, content_feats, ("relu4_1",))["relu4_1"], style_loss(StyleTargets.of(feats),
                                                                                   style_targets)


def _calibration_of(int8_manifest: dict):
    """The int8 export's calibration images (from its manifest), to rebuild graphs on the same set."""
    from ..export.quantize import CalibrationSet

    cal = int8_manifest["quantization"]["calibration"]
    root = Path(cal["directory"])
    return CalibrationSet(root, [root / e["file"] for e in cal["content"]],
                          [root / e["file"] for e in cal["style"]], int(cal["pixels"]))


def rebuilt_variant(name: str, fp32_dir: Path, calibration, float_layers: list[str], tmp: Path, log) -> Variant:
    """int8 graphs rebuilt from the float32 export with exactly ``float_layers`` ("graph/node") in float."""
    from ..export.quantize import quantize_graphs

    fp32 = load_manifest(fp32_dir)
    d = Path(tempfile.mkdtemp(dir=tmp))
    files = {g: d / f"{g}.onnx" for g in GRAPHS}
    for g in GRAPHS:
        shutil.copy(fp32_dir / f"{g}.onnx", files[g])
    log(f"building {name} ({', '.join(float_layers) or 'no layer'} in float) ...")
    quantize_graphs(files, fp32.routing, len(fp32.data["alpha"]["levels"]), calibration, float_layers=float_layers)
    return Variant(name, files, float_layers)


def curve_variants(fp32_dir: Path, int8_manifest: dict, k_max: int, tmp: Path, log) -> list[Variant]:
    """int8 graphs with the first k (0..k_max) layers of the sensitivity ranking in float."""
    ranking = [s["layer"] for s in int8_manifest["quantization"]["sensitivity"]]
    if not ranking:
        raise SystemExit("the int8 export has no sensitivity ranking (exported with --float-layers): no curve")
    calibration = _calibration_of(int8_manifest)
    return [rebuilt_variant(f"int8, {k} float", fp32_dir, calibration, ranking[:k], tmp, log)
            for k in range(k_max + 1)]


def _chart(rows: list[dict], title: str):
    """Speed-up (x) against PSNR (y): mean and worst pair, one labelled point per variant."""
    from PIL import Image, ImageDraw

    w, h, left, bottom, top, right = 760, 460, 70, 50, 70, 40
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    xs = [r["speedup"] for r in rows] + [1.0, 1.5]
    ys = [r["psnr_db_min"] for r in rows] + [r["psnr_db_mean"] for r in rows] + [30.0]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(ys) - 1.0, max(ys) + 1.0
    px = lambda x: left + (w - left - right) * (x - x0) / (x1 - x0)
    py = lambda y: h - bottom - (h - top - bottom) * (y - y0) / (y1 - y0)
    d.text((left, 10), title, fill="black")
    d.text((left, 28), "blue: PSNR mean over holdout pairs; orange: worst pair", fill="black")
    d.text((6, top - 16), "PSNR dB vs float32", fill="black")
    d.line([(left, top), (left, h - bottom), (w - right, h - bottom)], fill="black")
    d.line([(px(1.5), top), (px(1.5), h - bottom)], fill=(200, 200, 200))
    d.line([(left, py(30.0)), (w - right, py(30.0))], fill=(200, 200, 200))
    d.text((px(1.5) + 3, top), "1.5x", fill="gray")
    d.text((w - right - 40, py(30.0) - 14), "30 dB", fill="gray")
    d.text((w // 2 - 100, h - 22), "speed-up over float32 (content path)", fill="black")
    for v in np.linspace(y0, y1, 6):
        d.text((6, py(v) - 6), f"{v:.1f}", fill="black")
    for v in np.linspace(x0, x1, 6):
        d.text((px(v) - 10, h - bottom + 6), f"{v:.2f}", fill="black")
    for key, color, labelled in (("psnr_db_mean", (31, 119, 180), True), ("psnr_db_min", (255, 127, 14), False)):
        pts = [(px(r["speedup"]), py(r[key])) for r in rows]
        curve = [p for r, p in zip(rows, pts) if r["variant"].endswith(" float")]  # the 0..K points, joined
        if len(curve) > 1:
            d.line(curve, fill=color, width=2)
        for r, (cx, cy) in zip(rows, pts):
            d.ellipse([cx - 4, cy - 4, cx + 4, cy + 4], fill=color)
            if labelled:
                d.text((cx + 6, cy - 14 if r["variant"].endswith(" float") else cy + 4), r["variant"], fill="black")
    return img


def main(argv=None) -> int:
    ap = scenario_parser(NAME, __doc__)
    ap.add_argument("--fp32", type=Path, required=True)
    ap.add_argument("--int8", type=Path, required=True)
    ap.add_argument("--holdout", type=Path, required=True)
    ap.add_argument("--pairs", type=int, default=None, help="default 8 (--quick: 2)")
    ap.add_argument("--size", type=int, default=None, help="default 512 (--quick: 32)")
    ap.add_argument("--rounds", type=int, default=None, help="default 5 (--quick: 2)")
    ap.add_argument("--curve", type=int, default=0, help="also int8 with 0..K sensitive layers in float")
    ap.add_argument("--also", action="append", default=[], metavar="LABEL=DIR", help="another int8 export to compare")
    ap.add_argument("--float-layers", dest="float_sets", action="append", default=[], metavar="LABEL=LAYERS",
                    help="int8 rebuilt on the export's calibration images with these Conv layers in float "
                         "(graph/node, comma-separated, or 'none')")
    ap.add_argument("--tag", default="", help="suffix of the result files (int8_quality<tag>.json)")
    args = ap.parse_args(argv)
    args.pairs = args.pairs or (2 if args.quick else 8)
    args.size = args.size or (32 if args.quick else 512)
    args.rounds = args.rounds or (2 if args.quick else 5)
    log = lambda m: print(m, flush=True)

    from ..evaluation.metrics import CONTENT_TAPS, MetricEncoder, StyleTargets

    int8_manifest = load_manifest(args.int8).data
    fp32_manifest = load_manifest(args.fp32)
    routing = fp32_manifest.routing
    alpha = np.ones(len(fp32_manifest.data["alpha"]["levels"]), np.float32)
    encoder = MetricEncoder()
    also = []
    for value in args.also:
        label, sep, folder = value.partition("=")
        if not sep or not (Path(folder) / "manifest.json").is_file():
            raise SystemExit(f"--also {value}: expected LABEL=DIR with DIR an export (manifest.json)")
        also.append((label, Path(folder)))
    from ..export.quantize import read_layers

    float_sets = []
    for value in args.float_sets:
        label, sep, layers = value.partition("=")
        if not sep or not label:
            raise SystemExit(f"--float-layers {value}: expected LABEL=LAYERS, e.g. last=decoder/node_conv2d_8")
        float_sets.append((label, read_layers(layers)))
    tmp = Path(tempfile.mkdtemp(prefix="stylert-int8-bench-"))
    try:
        variants = [Variant("fp32", {g: args.fp32 / f"{g}.onnx" for g in GRAPHS}),
                    Variant("int8 (export)", {g: args.int8 / f"{g}.onnx" for g in GRAPHS},
                            int8_manifest["quantization"]["float_layers"])]
        variants += [Variant(label, {g: d / f"{g}.onnx" for g in GRAPHS},
                             load_manifest(d).data["quantization"]["float_layers"]) for label, d in also]
        if float_sets:
            calibration = _calibration_of(int8_manifest)
            variants += [rebuilt_variant(label, args.fp32, calibration, layers, tmp, log) for label, layers in float_sets]
        if args.curve:
            variants += curve_variants(args.fp32, int8_manifest, args.curve, tmp, log)
        pairs = _pairs(args.holdout, args.pairs, args.size)
        log(f"quality on {len(pairs)} holdout pairs at {args.size}x{args.size} ...")
        quality = {v.name: {"psnr": [], "content": [], "style": []} for v in variants}
        for cpath, spath, content, style in pairs:
            content_feats = encoder.features(_hwc(content), CONTENT_TAPS)
            style_targets = StyleTargets.of(encoder.features(_hwc(style)))
            want = None
            for v in variants:
                v.cache = {}
                image = v.run(routing, content, style, alpha)
                if want is None:
                    want = image
                quality[v.name]["psnr"].append(psnr(np.clip(image, 0, 1), np.clip(want, 0, 1)))
                c, s = _losses(encoder, image, content_feats, style_targets)
                quality[v.name]["content"].append(c)
                quality[v.name]["style"].append(s)
        log(f"speed: content path at {args.size}x{args.size}, {args.rounds} interleaved rounds ...")
        content, style = pairs[0][2], pairs[0][3]
        for v in variants:
            v.style_code(style)
        times = interleave({v.name: (lambda v=v: v.run(routing, content, style, alpha)) for v in variants},
                           args.rounds, warmup=1, rotate=False)
        for v in variants:
            v.times = [t / 1e3 for t in times[v.name]]
        fp32_ms = statistics.median(variants[0].times) * 1e3
        rows = []
        base = quality["fp32"]
        for v in variants:
            q = quality[v.name]
            ms = statistics.median(v.times) * 1e3
            finite = [p for p in q["psnr"] if np.isfinite(p)]
            rows.append({
                "variant": v.name, "float_layers": v.float_layers, "median_ms": round(ms, 1),
                "times_ms": [round(t * 1e3, 1) for t in v.times], "speedup": round(fp32_ms / ms, 3),
                "psnr_db_mean": round(float(np.mean(finite)), 2) if finite else None,
                "psnr_db_min": round(float(min(finite)), 2) if finite else float("inf"),
                "psnr_db_per_pair": [round(float(p), 2) if np.isfinite(p) else None for p in q["psnr"]],
                "content_loss_ratio": round(float(np.mean(q["content"]) / np.mean(base["content"])), 4),
                "style_loss_ratio": round(float(np.mean(q["style"]) / np.mean(base["style"])), 4),
                "style_loss_ratio_per_pair": [round(a / b, 4) for a, b in zip(q["style"], base["style"])],
                "content_loss_ratio_per_pair": [round(a / b, 4) for a, b in zip(q["content"], base["content"])],
            })
        info = machine_record(lscpu=True)
        report = {"benchmark": "int8 vs float32, one run, interleaved", "size": args.size, "rounds": args.rounds,
                  "holdout": str(args.holdout), "pairs": [[str(c), str(s)] for c, s, _, _ in pairs],
                  "int8_export": str(args.int8), "calibration": int8_manifest["quantization"]["calibration"]["count"],
                  "quick": args.quick, "machine": info, "rows": rows}
        name = machine_name(info)
        lines = [(f"# INT8 vs float32 ({info.get('cpu', '')}), {args.size}x{args.size}, {len(pairs)} holdout pairs, "
                  f"{args.rounds} interleaved rounds"), "",
                 ("| variant | median ms | speed-up | PSNR mean / min dB | content loss / fp32 | style loss / fp32 "
                  "| style loss / fp32, worst pair |"),
                 "|---|---|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['variant']} | {r['median_ms']} | {r['speedup']:.2f}x | {r['psnr_db_mean']} / "
                         f"{r['psnr_db_min']} | {r['content_loss_ratio']:.3f} | {r['style_loss_ratio']:.3f} | "
                         f"{max(r['style_loss_ratio_per_pair'], key=lambda x: abs(x - 1)):.3f} |")
        print("\n".join(lines))
        chart = _chart([r for r in rows if r["variant"].startswith("int8, ")],
                       f"int8 trade-off: layers kept in float ({args.size}x{args.size}, {name})") if args.curve else None
        write_results(args.out or results_dir(NAME, info, args.quick), f"{NAME}{args.tag}", report,
                      "\n".join(lines), chart)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
