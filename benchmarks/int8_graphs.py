"""Where the int8 job's compute goes: each graph at float32 and int8, and ways to schedule the job.

    python -m stylert.benchmarks int8_graphs --fp32 exports/adain --int8 exports/adain-int8 \\
        [--size 512] [--images 4] [--rounds 5] [--quick] [-o DIR]

Two questions about the pytorch-AdaIN job (4 contents x 1 style, ``benchmarks/whole_process.py``),
answered in one interleaved run on ONNX Runtime's CPU provider:

- **per graph**: the encoder and the decoder of each export, one SIZE x SIZE image, the median
  over the rounds, each timed call after one untimed call (``harness.interleave``, ``prime``);
- **schedules** of the content path (encoder, then decoder, the transform left out: it is
  float32 in both exports; AdaIN's takes milliseconds, the sanet families' attention is not timed
  here) over ``--images`` images of the int8 export:
  ``sequential`` (one image after another, one session with ONNX Runtime's default intra-op
  threads, what ``stylert stylize`` does), ``batch`` (all images as one batch), ``parallel``
  (two single-thread sessions, each taking half of the images, in two Python threads: ONNX
  Runtime releases the GIL while it runs).

The encoder computes the taps the content image feeds on (the manifest's routing: relu4_1 for
AdaIN, relu4_1 and relu5_1 for the sanet families, every level for adain-multilevel); the decoder
takes the encoder's taps of the same names (its inputs: relu4_1, or every level of the
multi-level families). Images are uniform random in 0..1 (the time of these graphs does not
depend on the pixels).
Writes ``int8_graphs.json`` and ``.md`` (medians, p90, ratios) and ``.png`` (bars) into
``benchmarks/results/int8_graphs/<machine>/`` (``--out``). ``--quick``: 32x32, 2 images, 2 rounds.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import numpy as np

from .harness import interleave, machine_name, machine_record, results_dir, scenario_parser, summarize, write_results

NAME = "int8_graphs"


def _content_taps(export: Path, encoder, decoder) -> list[str]:
    """The encoder outputs of the content path: those the manifest's routing takes from the
    encoder for the content image, and the decoder's inputs (fed with the taps of the same
    names), in the encoder's output order."""
    from ..export.routing import Routing

    wanted = {i.name for i in decoder.get_inputs()}
    manifest = export / "manifest.json"
    if manifest.is_file():
        wanted |= set(Routing(json.loads(manifest.read_text())["routing"]).content_inputs.values())
    outputs = [o.name for o in encoder.get_outputs()]
    missing = sorted({i.name for i in decoder.get_inputs()} - set(outputs))
    if missing:
        raise SystemExit(f"{export}: the decoder's inputs {', '.join(missing)} are not encoder outputs")
    return [o for o in outputs if o in wanted]


def _sessions(export: Path, threads: int | None = None):
    """(encoder, decoder, the encoder outputs of the content path) of one export."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    encoder, decoder = (ort.InferenceSession(str(export / f"{g}.onnx"), options, providers=["CPUExecutionProvider"])
                        for g in ("encoder", "decoder"))
    return encoder, decoder, _content_taps(export, encoder, decoder)


def _encode(sessions, image: np.ndarray) -> dict[str, np.ndarray]:
    encoder, _, taps = sessions
    return dict(zip(taps, encoder.run(taps, {encoder.get_inputs()[0].name: image})))


def _decode(sessions, taps: dict[str, np.ndarray]) -> np.ndarray:
    decoder = sessions[1]
    return decoder.run(None, {i.name: taps[i.name] for i in decoder.get_inputs()})[0]


def _content_path(sessions, image: np.ndarray) -> np.ndarray:
    """Encoder then decoder, the transform left out; ``image`` N x 3 x H x W float32."""
    return _decode(sessions, _encode(sessions, image))


def _chart(rows: list[dict], title: str):
    """One horizontal bar per measurement, its median in ms (the p90 as a tick)."""
    from PIL import Image, ImageDraw

    w, left, row_h, top = 820, 260, 26, 50
    h = top + row_h * len(rows) + 30
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((10, 10), title, fill="black")
    d.text((10, 26), "bar: median ms; tick: p90", fill="black")
    x_max = max(r["p90_ms"] for r in rows) * 1.1
    px = lambda v: left + (w - left - 90) * v / x_max
    for k, r in enumerate(rows):
        y = top + k * row_h
        color = (44, 160, 44) if "int8" in r["name"] else (31, 119, 180)
        d.rectangle([left, y + 4, px(r["median_ms"]), y + row_h - 4], fill=color)
        d.line([(px(r["p90_ms"]), y + 2), (px(r["p90_ms"]), y + row_h - 2)], fill="black")
        d.text((10, y + 7), r["name"], fill="black")
        d.text((px(r["p90_ms"]) + 6, y + 7), f"{r['median_ms']:.0f} ms", fill="black")
    return img


def main(argv=None) -> int:
    ap = scenario_parser(NAME, __doc__)
    ap.add_argument("--fp32", type=Path, required=True, help="float32 export directory (any family)")
    ap.add_argument("--int8", type=Path, required=True, help="int8 export directory of the same model")
    ap.add_argument("--size", type=int, default=None, help="default 512 (--quick: 32)")
    ap.add_argument("--images", type=int, default=None, help="contents in the scheduled job (even; default 4, "
                    "--quick: 2)")
    ap.add_argument("--rounds", type=int, default=None, help="default 5 (--quick: 2)")
    args = ap.parse_args(argv)
    args.size = args.size or (32 if args.quick else 512)
    args.images = args.images or (2 if args.quick else 4)
    args.rounds = args.rounds or (2 if args.quick else 5)
    if args.images < 2 or args.images % 2:
        ap.error("--images must be even and at least 2 (the parallel schedule halves it)")
    for d in (args.fp32, args.int8):
        if not all((d / f"{g}.onnx").is_file() for g in ("encoder", "decoder")):
            ap.error(f"{d} is not an export directory (no encoder.onnx/decoder.onnx): pass `stylert export -o` folders")

    rng = np.random.default_rng(0)
    one = rng.random((1, 3, args.size, args.size), dtype=np.float32)
    images = [rng.random((1, 3, args.size, args.size), dtype=np.float32) for _ in range(args.images)]
    graphs = {"fp32": _sessions(args.fp32), "int8": _sessions(args.int8)}
    feature = {p: _encode(s, one) for p, s in graphs.items()}
    single = (_sessions(args.int8, threads=1), _sessions(args.int8, threads=1))
    half = args.images // 2

    def parallel():
        workers = [threading.Thread(target=lambda s=s, part=part: [_content_path(s, x) for x in part])
                   for s, part in zip(single, (images[:half], images[half:]))]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    jobs = {}
    for p, s in graphs.items():
        jobs[f"{p} encoder"] = lambda s=s: _encode(s, one)
        jobs[f"{p} decoder"] = lambda s=s, p=p: _decode(s, feature[p])
    jobs["int8 job: sequential"] = lambda: [_content_path(graphs["int8"], x) for x in images]
    jobs["int8 job: batch"] = lambda: _content_path(graphs["int8"], np.concatenate(images))
    jobs["int8 job: parallel 2 x 1 thread"] = parallel

    samples = interleave(jobs, args.rounds, rotate=True, prime=True, progress=lambda r, got: print(
        f"round {r}/{args.rounds}: " + ", ".join(f"{n} {got[n][-1]:.0f} ms" for n in jobs), flush=True))

    rows = []
    for name, s in samples.items():
        summary = summarize(s)
        rows.append({"name": name, "median_ms": summary.median, "p90_ms": summary.p90, "min_ms": summary.min,
                     "runs": summary.count})
    by = {r["name"]: r for r in rows}
    for r in rows:
        p, _, what = r["name"].partition(" ")
        if what in ("encoder", "decoder"):
            r["fp32_over_int8"] = by[f"fp32 {what}"]["median_ms"] / by[f"int8 {what}"]["median_ms"]
        if r["name"].startswith("int8 job"):
            r["time_vs_sequential"] = r["median_ms"] / by["int8 job: sequential"]["median_ms"]

    info = machine_record()
    name = machine_name(info)
    result = {"benchmark": "int8_graphs", "size": args.size, "images": args.images, "rounds": args.rounds,
              "quick": args.quick, "fp32": str(args.fp32), "int8": str(args.int8), "machine": info, "rows": rows,
              "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    title = (f"# int8 graphs and job schedules, {args.size}x{args.size}, {args.rounds} interleaved rounds "
             f"({info.get('cpu', name)})")
    lines = [title, "",
             "| measurement | median ms | p90 ms | min ms | fp32 / int8 | time / sequential |", "|---|---|---|---|---|---|"]
    for r in rows:
        ratio = f"{r['fp32_over_int8']:.2f}x" if "fp32_over_int8" in r else ""
        rel = f"{r['time_vs_sequential']:.2f}x" if "time_vs_sequential" in r else ""
        lines.append(f"| {r['name']} | {r['median_ms']:.1f} | {r['p90_ms']:.1f} | {r['min_ms']:.1f} | {ratio} | {rel} |")
    lines += ["", (f"The job: {args.images} contents, encoder + decoder each (the transform left out). "
                   "`python -m stylert.benchmarks int8_graphs --fp32 ... --int8 ...`")]
    print("\n".join(lines))
    write_results(args.out or results_dir(NAME, info, args.quick), NAME, result, "\n".join(lines),
                  _chart(rows, f"int8 graphs and schedules at {args.size}x{args.size} ({name})"))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
