"""Where an attention-family training step's time goes, and iterations/s of the ways to cut it.

    python -m stylert.benchmarks train_speed                       # sanet, profile + variants
    python -m stylert.benchmarks train_speed --rounds 1 --steps 1 --profile 1x32 --variants fp32,fp32-1t --size 32
    python -m stylert.benchmarks train_speed --quick               # the line above, batch 1

1. Profile: one step (after one untimed) of ``TrainStep`` under ``torch.profiler`` for each BATCHxSIZE of
   ``--profile``; the CPU time of the step's labelled parts (``stylert.training.losses`` / ``step``):
   targets (no-grad encoder passes of content and style), stylize (transform + decoder), output_features
   (encoder pass of the output + content and style losses), identity (the identity losses' two
   transforms, decoders and encoder passes), backward, optimizer.
2. Variants, interleaved: every round runs each variant for ``--steps`` timed steps (after one untimed),
   so that the load of a shared machine falls on all of them alike; the median over rounds of
   iterations/s is reported, with min and max.

       fp32            float32 (the reference), torch's default thread count (one per core)
       fp32-1t         float32 on one thread (on a shared machine, threads that wait for busy cores
                       cost more than they bring)
       bf16-1t         --amp on a CPU with bfloat16 instructions (``stylert.training.precision``)
       cl-1t           float32, model and batches in channels-last memory format
       bf16+cl-1t      both
       id2-1t, bf16+id2-1t   identity losses on every 2nd step (--identity-every 2)

The model is the real warm start (public weights: ``initial_model(from_pretrained=True)``) on real
images of ../shared/images (crops of the same content/style pair batched), so activations and
attention matrices have their real magnitudes (random weights give denormals and skew CPU timings).
Writes JSON + Markdown + a PNG chart (``train_speed-<family>-b<batch>-<size>``) to
``benchmarks/results/train_speed/<machine>/`` (``--out``).
"""

from __future__ import annotations

import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

from .harness import interleave, machine_record, results_dir, scenario_parser, write_results

NAME = "train_speed"
LABELS = ("targets", "stylize", "output_features", "identity", "backward", "optimizer")
VARIANTS = {
    "fp32": dict(amp=False, channels_last=False, identity_every=1, threads=0),
    "fp32-1t": dict(amp=False, channels_last=False, identity_every=1, threads=1),
    "bf16-1t": dict(amp=True, channels_last=False, identity_every=1, threads=1),
    "cl-1t": dict(amp=False, channels_last=True, identity_every=1, threads=1),
    "bf16+cl-1t": dict(amp=True, channels_last=True, identity_every=1, threads=1),
    "id2-1t": dict(amp=False, channels_last=False, identity_every=2, threads=1),
    "bf16+id2-1t": dict(amp=True, channels_last=False, identity_every=2, threads=1),
}


def _batch(n: int, size: int, images: Path):
    import torch

    from ..core.images import load_image

    def crops(path):
        x = torch.from_numpy(load_image(path, size=size, crop=True)).permute(2, 0, 1)
        return torch.stack([x] * n)

    content = sorted((images / "content").glob("*.jpg"))[0]
    style = sorted((images / "style").glob("*.jpg"))[0]
    return crops(content), crops(style)


def _trainer(family: str, amp: bool, channels_last: bool, identity_every: int, threads: int = 0):
    import torch

    from ..training.initial import initial_model
    from ..training.losses import default_loss_weights
    from ..training.step import OptimConfig, TrainStep

    model = initial_model(family, from_pretrained=True, log=lambda _: None)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return TrainStep(model, default_loss_weights(family), OptimConfig(amp=amp, identity_every=identity_every))


def profile(family: str, batch: int, size: int, images: Path) -> dict:
    """CPU milliseconds per labelled part of one step (fp32, one thread)."""
    import torch

    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    trainer = _trainer(family, False, False, 1)
    content, style = _batch(batch, size, images)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    trainer.step(0, content, style)
    start = time.perf_counter()
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        trainer.step(1, content, style)
    wall = time.perf_counter() - start
    torch.set_num_threads(threads)
    totals = {e.key: e.cpu_time_total / 1e3 for e in prof.key_averages() if e.key in LABELS + ("forward",)}
    return {"batch": batch, "size": size, "wall_ms": wall * 1e3, "parts_ms": {k: totals.get(k) for k in LABELS},
            "forward_ms": totals.get("forward")}


def measure(family: str, variants: list[str], batch: int, size: int, rounds: int, steps: int,
            images: Path) -> dict:
    import torch

    content, style = _batch(batch, size, images)
    trainers = {v: _trainer(family, **VARIANTS[v]) for v in variants}
    default_threads = torch.get_num_threads()
    for name, t in trainers.items():
        if VARIANTS[name]["amp"] and not t.precision.enabled:
            raise SystemExit(f"variant {name}: {t.precision.reason}")
    it = {v: 0 for v in variants}
    inputs = {v: (content, style) if not VARIANTS[v]["channels_last"] else
              (content.contiguous(memory_format=torch.channels_last), style.contiguous(memory_format=torch.channels_last))
              for v in variants}

    def before(v):  # untimed (first: allocations; later: the round's warm-up)
        torch.set_num_threads(VARIANTS[v]["threads"] or default_threads)
        trainers[v].step(it[v], *inputs[v])
        it[v] += 1

    def job(v):
        for _ in range(steps):
            trainers[v].step(it[v], *inputs[v])
            it[v] += 1

    times = interleave({v: (lambda v=v: job(v)) for v in variants}, rounds, rotate=False, before=before)
    rates = {v: [steps / (ms / 1e3) for ms in times[v]] for v in variants}
    torch.set_num_threads(default_threads)
    return {v: {"median_it_s": statistics.median(r), "min_it_s": min(r), "max_it_s": max(r), "rounds": r,
                "precision": trainers[v].precision.reason, **VARIANTS[v]} for v, r in rates.items()}


def _markdown(report: dict) -> str:
    m = report["machine"]
    lines = [f"# Training step speed: {report['family']}", "",
             f"{report['date']}, {m['cpu']} ({m['cores']} cores, shared), flags with bf16: "
             f"{', '.join(report['bf16_flags']) or 'none'}; torch {m['versions']['torch']}; commit {m['git_commit']}.",
             f"Command: `{report['command']}`", "", "## Where one float32 step's time goes (CPU ms on one thread, profiler)", "",
             "| batch x size | wall | " + " | ".join(LABELS) + " |", "|---|---|" + "---|" * len(LABELS)]
    for p in report["profile"]:
        parts = " | ".join("-" if p["parts_ms"][k] is None else f"{p['parts_ms'][k]:.0f}" for k in LABELS)
        lines.append(f"| {p['batch']} x {p['size']} | {p['wall_ms']:.0f} | {parts} |")
    lines += ["", "targets, stylize, output_features and identity are the forward pass; backward and optimizer "
              "follow. Profiler times include its own overhead.", "",
              f"## Iterations/s, batch {report['batch']} at {report['size']} px ({report['rounds']} interleaved "
              f"rounds of {report['steps']} steps; median [min, max])", "",
              "| variant | it/s | vs fp32 | each round | precision | identity every | threads |",
              "|---|---|---|---|---|---|---|"]
    base = report["variants"].get("fp32", {}).get("median_it_s")
    for v, r in report["variants"].items():
        ratio = f"{r['median_it_s'] / base:.2f}x" if base else "-"
        rounds = ", ".join(f"{x:.3f}" for x in r["rounds"])
        lines.append(f"| {v} | {r['median_it_s']:.3f} [{r['min_it_s']:.3f}, {r['max_it_s']:.3f}] | {ratio} | {rounds} | "
                     f"{r['precision']} | {r['identity_every']} | {r['threads'] or report['torch_threads']} |")
    return "\n".join(lines) + "\n"


def _chart(report: dict):
    """One bar per variant: median iterations/s, a line from min to max over the rounds (PIL)."""
    from PIL import Image, ImageDraw

    names = list(report["variants"])
    w, h, left, bottom, top = 140 + 110 * len(names), 380, 70, 60, 60
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    m = report["machine"]
    d.text((left, 10), f"{report['family']} training step, batch {report['batch']} at {report['size']} px: "
                       "iterations/s (median; line: min..max of the rounds)", fill="black")
    d.text((left, 28), f"{m['cpu']} ({m['cores']} shared cores), {report['date']}", fill="black")
    y_max = max(r["max_it_s"] for r in report["variants"].values()) * 1.15
    py = lambda v: h - bottom - (h - top - bottom) * v / y_max
    d.line([(left, top), (left, h - bottom), (w - 20, h - bottom)], fill="black")
    for i in range(6):
        v = y_max * i / 5
        d.text((8, py(v) - 6), f"{v:.3f}", fill="black")
    base = report["variants"].get("fp32", {}).get("median_it_s")
    for k, name in enumerate(names):
        r = report["variants"][name]
        x0 = left + 20 + k * 110
        d.rectangle([x0, py(r["median_it_s"]), x0 + 70, py(0)], fill=(76, 114, 176))
        d.line([(x0 + 35, py(r["min_it_s"])), (x0 + 35, py(r["max_it_s"]))], fill="black", width=2)
        d.text((x0, h - bottom + 6), name, fill="black")
        d.text((x0, h - bottom + 22), f"{r['median_it_s']:.3f}" + (f" {r['median_it_s'] / base:.2f}x" if base else ""),
               fill="black")
    return img


def main(argv: list[str] | None = None) -> int:
    import sys

    parser = scenario_parser(NAME, __doc__)
    parser.add_argument("--family", default="sanet", choices=("sanet", "sanet-multilevel"))
    parser.add_argument("--profile", default=None, help="BATCHxSIZE,... to profile ('' for none; default "
                        "4x128,8x128,4x256, --quick: 1x32)")
    parser.add_argument("--variants", default=None, help=f"default {','.join(VARIANTS)} (--quick: fp32,fp32-1t)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 4 (--quick: 1)")
    parser.add_argument("--size", type=int, default=None, help="default 128 (--quick: 32)")
    parser.add_argument("--rounds", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--steps", type=int, default=None, help="default 3 (--quick: 1)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--images", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "images")
    args = parser.parse_args(argv)
    for key, full, small in (("profile", "4x128,8x128,4x256", "1x32"),
                             ("variants", ",".join(VARIANTS), "fp32,fp32-1t"),
                             ("batch_size", 4, 1), ("size", 128, 32), ("rounds", 3, 1), ("steps", 3, 1)):
        if getattr(args, key) is None:
            setattr(args, key, small if args.quick else full)

    import torch

    from ..training.precision import BF16_FLAGS, cpu_flags

    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}")
    flags = cpu_flags()
    report = {"benchmark": "train_speed", "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": "python -m stylert.benchmarks train_speed " + " ".join(argv if argv is not None else sys.argv[1:]),
              "machine": machine_record(), "quick": args.quick, "bf16_flags": [f for f in BF16_FLAGS if f in flags],
              "torch_threads": torch.get_num_threads(), "family": args.family, "batch": args.batch_size,
              "size": args.size, "rounds": args.rounds, "steps": args.steps, "profile": []}
    for spec in [s for s in args.profile.split(",") if s]:
        b, s = (int(x) for x in spec.lower().split("x"))
        p = profile(args.family, b, s, args.images)
        report["profile"].append(p)
        print(f"profile {b}x{s}: wall {p['wall_ms']:.0f} ms, " + ", ".join(
            f"{k} {v:.0f}" for k, v in p["parts_ms"].items() if v is not None), flush=True)
    report["variants"] = measure(args.family, variants, args.batch_size, args.size, args.rounds, args.steps,
                                 args.images)
    for v, r in report["variants"].items():
        print(f"{v:14s} {r['median_it_s']:.3f} it/s [{r['min_it_s']:.3f}, {r['max_it_s']:.3f}]", flush=True)
    stem = f"train_speed-{args.family}-b{args.batch_size}-{args.size}"
    write_results(args.out or results_dir(NAME, report["machine"], args.quick), stem, report, _markdown(report),
                  _chart(report))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
