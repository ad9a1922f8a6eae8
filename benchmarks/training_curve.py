"""The ratios to AdaIN of a training run's checkpoints on held-out pairs, against training steps.

    python -m stylert.benchmarks training_curve RUN_DIR [RUN_DIR ...] -c holdout/content -s holdout/style \\
        --paired --steps 0,40,80 --content-size 256 [--quick] [--out DIR]

For each run folder (``stylert train --out``) and each step in ``--steps`` whose ``checkpoints/step_N.pt``
exists (default: every checkpoint), ``stylert evaluate run`` scores the checkpoint and AdaIN (public
weights, the baseline) on the same pairs at alpha 1; this collects, per run and step, the ratios
content loss relu4_1, style loss and Gram loss to AdaIN's (``report.json``'s ``ratio_to_baseline``),
and writes ``curve.json``, ``curve.md`` (with the targets: Gram <= 1.0x, style <= 1.3x, content <=
1.3x) and ``curve.png`` (ratios against steps, one line per run and metric). Each evaluation's own
report stays in ``OUT/eval/``. ``OUT``: ``benchmarks/results/training_curve/<machine>/`` unless ``--out``.
``--quick``: each run's last checkpoint only (unless ``--steps``), at 64 px.
"""

from __future__ import annotations

import re
from pathlib import Path

from .harness import machine_record, results_dir, scenario_parser, write_results

NAME = "training_curve"
TARGETS = {"gram_loss": 1.0, "style_loss": 1.3, "content_loss": 1.3}
COLORS = {"gram_loss": (214, 39, 40), "style_loss": (31, 119, 180), "content_loss": (44, 160, 44)}
DASHES = [None, 6, 2]


def checkpoints(run: Path, steps: list[int] | None) -> dict[int, Path]:
    found = {int(m.group(1)): p for p in sorted((run / "checkpoints").glob("step_*.pt"))
             if (m := re.fullmatch(r"step_(\d+)\.pt", p.name))}
    return {s: p for s, p in sorted(found.items()) if steps is None or s in steps}


def evaluate(ckpts: dict[str, Path], contents, styles, paired: bool, size: int, out: Path) -> dict:
    """``stylert evaluate run`` of AdaIN + ``ckpts`` (label -> file); returns {label: ratios}."""
    import json
    import subprocess
    import sys

    args = ["-q", "evaluate", "run", "-o", str(out), "--model", "adain", "--alpha", "1", "--overwrite",
            "--content-size", str(size), "--style-size", str(size), "--no-save-images", "--device", "cpu"]
    for c in contents:
        args += ["-c", str(c)]
    for s in styles:
        args += ["-s", str(s)]
    if paired:
        args.append("--paired")
    for label, path in ckpts.items():
        args += ["--checkpoint", f"{label}={path}"]
    result = subprocess.run([sys.executable, "-m", "stylert", *args], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stdout + result.stderr)
    report = json.loads((out / "report.json").read_text())
    ratios = {}
    for m in report["means"]:
        r = m["ratio_to_baseline"]
        ratios[m["model"]] = {"content_loss": r["content_loss"]["relu4_1"], "style_loss": r["style_loss"],
                              "gram_loss": r["gram_loss"], "pairs": m["pairs"],
                              "metrics": {"content_loss": m["metrics"]["content_loss"]["relu4_1"],
                                          "style_loss": m["metrics"]["style_loss"],
                                          "gram_loss": m["metrics"]["gram_loss"]}}
    return ratios


def chart(curves: dict[str, dict[int, dict]], title: str):
    from PIL import Image, ImageDraw

    w, h, left, right, top, bottom = 820, 460, 70, 230, 50, 50
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    d.text((left, 10), title, fill="black")
    steps = [s for c in curves.values() for s in c]
    values = [r[k] for c in curves.values() for r in c.values() for k in TARGETS] + list(TARGETS.values())
    x_max, y_max = max(max(steps), 1), max(values) * 1.1
    px = lambda s: left + (w - left - right) * s / x_max  # noqa: E731
    py = lambda v: h - bottom - (h - top - bottom) * v / y_max  # noqa: E731
    d.line([(left, top), (left, h - bottom), (w - right, h - bottom)], fill="black")
    for i in range(6):
        v = y_max * i / 5
        d.text((8, py(v) - 6), f"{v:.2f}x", fill="black")
        s = x_max * i / 5
        d.text((px(s) - 10, h - bottom + 6), f"{s:.0f}", fill="black")
    d.text(((w - right) // 2, h - 20), "training step", fill="black")
    for key, target in TARGETS.items():
        d.line([(left, py(target)), (w - right, py(target))], fill=tuple(c // 2 + 127 for c in COLORS[key]))
    legend = 0
    for n, (run, curve) in enumerate(curves.items()):
        pts = sorted(curve.items())
        for key in TARGETS:
            xy = [(px(s), py(r[key])) for s, r in pts]
            if len(xy) > 1:
                d.line(xy, fill=COLORS[key], width=2 if n == 0 else 1)
            for x, y in xy:
                d.ellipse([x - 3, y - 3, x + 3, y + 3], outline=COLORS[key], fill=COLORS[key] if n == 0 else "white")
            d.text((w - right + 10, top + 16 * legend), f"{run}: {key.replace('_loss', '')}"
                   + (" (filled)" if n == 0 else " (open)"), fill=COLORS[key])
            legend += 1
    d.text((w - right + 10, top + 16 * legend + 8), "pale lines: targets", fill="black")
    return img


def main(argv=None) -> int:
    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("-c", "--content", action="append", required=True)
    parser.add_argument("-s", "--style", action="append", required=True)
    parser.add_argument("--paired", action="store_true")
    parser.add_argument("--steps", default=None, help="comma-separated steps (default: every checkpoint)")
    parser.add_argument("--content-size", type=int, default=None, help="default 256 (--quick: 64)")
    args = parser.parse_args(argv)
    args.content_size = args.content_size or (64 if args.quick else 256)
    steps = None if args.steps is None else [int(s) for s in args.steps.split(",")]
    info = machine_record()
    args.out = args.out or results_dir(NAME, info, args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    curves: dict[str, dict[int, dict]] = {}
    for run in args.runs:
        found = checkpoints(run, steps)
        if args.quick and steps is None and found:
            found = dict([list(found.items())[-1]])
        ckpts = {f"{run.name}-{s}": p for s, p in found.items()}
        if not ckpts:
            raise SystemExit(f"{run}: no checkpoints/step_N.pt" + (f" for steps {args.steps}" if steps else ""))
        ratios = evaluate(ckpts, args.content, args.style, args.paired, args.content_size,
                          args.out / "eval" / run.name)
        curves[run.name] = {int(label.rsplit("-", 1)[1]): ratios[label] for label in ckpts}
        for s, r in curves[run.name].items():
            print(f"{run.name} step {s}: content {r['content_loss']:.2f}x style {r['style_loss']:.2f}x "
                  f"gram {r['gram_loss']:.2f}x", flush=True)
    lines = ["# Ratios to AdaIN (public weights) against training steps", "",
             f"`python -m stylert.benchmarks training_curve {' '.join(str(r) for r in args.runs)} ...` at "
             f"{args.content_size} px, alpha 1; targets: Gram <= 1.0x, style <= 1.3x, content relu4_1 <= 1.3x.", "",
             "| run | step | content relu4_1 | style | Gram |", "|---|---|---|---|---|"]
    for run, curve in curves.items():
        for s, r in sorted(curve.items()):
            lines.append(f"| {run} | {s} | {r['content_loss']:.2f}x | {r['style_loss']:.2f}x | {r['gram_loss']:.2f}x |")
    write_results(args.out, "curve", {"targets": TARGETS, "content_size": args.content_size, "quick": args.quick,
                                      "machine": info, "curves": curves}, "\n".join(lines),
                  chart(curves, "ratio to AdaIN on held-out pairs (alpha 1) vs training step"))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
