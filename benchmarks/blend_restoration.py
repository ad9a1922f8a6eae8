"""The temporal blend's cost in style against its gain in steadiness, for ways of restoring what
blending takes away, measured side by side in one run on the synthetic pan and zoom clips of
``video_temporal``. Writes ``restoration.{json,md,png}`` into
``benchmarks/results/blend_restoration/<machine>/`` (``--out``).

    STYLERT_WEIGHTS=../shared/weights python -m stylert.benchmarks blend_restoration \\
        --engine EXPORT_DIR --style ../shared/images/style/la_muse.jpg
    python -m stylert.benchmarks blend_restoration --timing-only    # restore_detail alone, one band vs three

``--quick``: clips of 4 frames at 48x64, losses every 2nd frame (the timing: 72x128, 2 rounds).

Variants (each at several weights W, the content statistics unsmoothed so that only the blend acts):

- ``no restoration``: ``O_t = S_t + w_t (warp(O_{t-1}) - S_t)`` (``FlowBlend`` without its last step);
- ``finest band``: that, then the detail restoration on one band (Gaussian sigma 1.5 px: the
  restoration before the three bands);
- ``three bands``: the detail restoration of ``FlowBlend`` (``DETAIL_SIGMAS``, the default);
- ``low-pass blend``: only the low frequencies are blended, ``O_t = S_t + w_t (G * warp(O_{t-1}) -
  G * S_t)`` with ``G`` a Gaussian of sigma 4 px, the strokes left as stylized (a measured
  alternative, not in the library).

Each variant is a ``FlowBlend`` (its weights and shots; the low-pass blend replaces its
``combine``) run over the clip with its precomputed flows (``video_temporal.blend_all``); warping error and losses as in ``video_temporal`` (relative to no blending).
The chart plots style loss against warping error, one line per variant and clip through its
weights; the target of issue "video" (warping error <= 0.7x with style loss <= 1.05x) is the
lower-left box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..core.temporal import DETAIL_SIGMAS, FlowBlend
from .harness import interleave, machine_record, results_dir, scenario_parser, summarize, write_results
from .video_temporal import Losses, blend_all, stylize_all, synthetic_clips

NAME = "blend_restoration"

WEIGHTS = (0.1, 0.2, 0.3, 0.5)
LOWPASS_WEIGHTS = (0.5, 0.7, 0.95)
LOWPASS_SIGMA = 4.0
#: variant -> the ``restore_detail`` sigmas (None: no restoration; "lowpass": the low-pass blend).
VARIANTS = {"no restoration": None, "finest band": (1.5,), "three bands": "default", "low-pass blend": "lowpass"}
TARGET = (0.7, 1.05)


class LowPassBlend(FlowBlend):
    """``FlowBlend``'s weights and shots with the low-pass rule above: only what a Gaussian of sigma
    ``LOWPASS_SIGMA`` keeps is blended, the strokes are left as stylized (no restoration)."""

    def combine(self, stylized, previous, weight):
        from ..core.flow import cv2_module

        cv2 = cv2_module()

        def low(x):
            return cv2.GaussianBlur(x, (0, 0), LOWPASS_SIGMA, borderType=cv2.BORDER_REFLECT)

        return stylized + weight[..., None] * (low(previous) - low(stylized))


def blend_variant(frames, stylized, flows, weight: float, variant) -> list[np.ndarray]:
    """One clip blended by ``FlowBlend`` with the given restoration (``VARIANTS``' values), or by the
    low-pass blend, through ``video_temporal.blend_all`` -> uint8 frames."""
    if variant == "lowpass":
        blender = LowPassBlend(weight)
    else:
        blender = FlowBlend(weight, detail_sigmas=DETAIL_SIGMAS if variant == "default" else (variant or ()))
    return blend_all(frames, stylized, flows, weight, blender=blender)[0]


def measure(pipeline, code, clips, losses, loss_every: int = 8) -> dict:
    from ..core.flow import clip_flows
    from ..core.images import to_uint8
    from ..evaluation.warping import warping_error

    report = {}
    for name, (frames, _cut) in clips.items():
        stylized, _, _, _ = stylize_all(pipeline, code, frames, 0.0)
        flows = clip_flows(frames)
        picks = list(range(loss_every - 1, len(frames), loss_every))

        def score(outs, frames=frames, flows=flows, picks=picks):
            lc = [losses(outs[i], frames[i]) for i in picks]
            return (warping_error(frames, outs, flows=flows).warping_error,
                    float(np.mean([c for c, _ in lc])), float(np.mean([s for _, s in lc])))

        base = score([to_uint8(s) for s in stylized])
        rows = {}
        for label, variant in VARIANTS.items():
            for w in (LOWPASS_WEIGHTS if variant == "lowpass" else WEIGHTS):
                got = score(blend_variant(frames, stylized, flows, w, variant))
                rows[f"{label}|{w}"] = {"variant": label, "blend": w, "warping_error": got[0],
                                        "warping_error_ratio": got[0] / base[0],
                                        "content_loss_ratio": got[1] / base[1], "style_loss_ratio": got[2] / base[2]}
                print(f"  {name} {label:15s} W={w}: warping error {got[0] / base[0]:.3f}x, "
                      f"content {got[1] / base[1]:.3f}x, style {got[2] / base[2]:.3f}x", flush=True)
        report[name] = {"unblended": {"warping_error": base[0], "content_loss": base[1], "style_loss": base[2]},
                        "configs": rows}
    return report


def time_restoration(sizes=((288, 512), (720, 1280)), rounds: int = 5) -> dict:
    """Milliseconds per frame of ``restore_detail`` alone, one band against three, on random frames of
    each size (HxW), the two interleaved ``rounds`` times -> {"HxW": {"finest band": {median, p90, ...}}}."""
    from ..core.temporal import DETAIL_SIGMAS, restore_detail

    rng = np.random.default_rng(0)
    out = {}
    for h, w in sizes:
        blended, stylized = (rng.random((h, w, 3), dtype=np.float32) for _ in range(2))
        where = np.ones((h, w), bool)
        runs = interleave({label: (lambda sigmas=sigmas: restore_detail(blended, stylized, where, sigmas))
                           for label, sigmas in (("finest band", (1.5,)), ("three bands", DETAIL_SIGMAS))},
                          rounds, rotate=False)
        out[f"{h}x{w}"] = {k: summarize(v).as_dict() for k, v in runs.items()}
        print(f"  restore_detail at {h}x{w}: " + ", ".join(f"{k} median {out[f'{h}x{w}'][k]['median']:.0f} ms"
                                                          for k in runs), flush=True)
    return out


def markdown(report: dict) -> str:
    lines = [("# Temporal blend: style cost against steadiness, per restoration (ratios to no blending, "
              "smoothing off)"), "",
             "| clip | variant | W | warping error | content loss | style loss | in target |",
             "|---|---|---|---|---|---|---|"]
    for clip, row in report["clips"].items():
        for r in row["configs"].values():
            ok = r["warping_error_ratio"] <= TARGET[0] and r["style_loss_ratio"] <= TARGET[1]
            lines.append(f"| {clip} | {r['variant']} | {r['blend']} | {r['warping_error_ratio']:.3f}x | "
                         f"{r['content_loss_ratio']:.3f}x | {r['style_loss_ratio']:.3f}x | {'yes' if ok else 'no'} |")
    h, w = report["size"]
    machine = report["machine"].get("cpu", report["machine"])
    lines += ["", f"Machine: {machine}; clips {h}x{w}, {report['frames']} frames; style {report['style']}."]
    return "\n".join(lines) + "\n"


def chart(report: dict):
    """Style loss against warping error, one panel per clip, one line per variant through its weights."""
    from PIL import Image

    from ..evaluation.figures import tradeoff_chart

    panels = []
    for clip, row in report["clips"].items():
        series = {label: [(r["blend"], r["warping_error_ratio"], r["style_loss_ratio"])
                          for r in row["configs"].values() if r["variant"] == label] for label in VARIANTS}
        panels.append(tradeoff_chart(series, title=f"{clip}: style loss against warping error, ratios to unblended "
                                                   f"(target: x <= {TARGET[0]}, y <= {TARGET[1]})",
                                     xlabel="warping error ratio", ylabel="style loss ratio", size=(720, 480),
                                     point_label="W"))
    img = Image.new("RGB", (sum(p.width for p in panels), max(p.height for p in panels)), "white")
    x = 0
    for panel in panels:
        img.paste(panel, (x, 0))
        x += panel.width
    return img


def main(argv=None) -> int:
    ap = scenario_parser(NAME, __doc__)
    ap.add_argument("--engine", type=Path, help="export folder (all but --timing-only)")
    ap.add_argument("--style", type=Path, help="style image (all but --timing-only)")
    ap.add_argument("--images", type=Path, default=None, help="content image folder for the synthetic clips")
    ap.add_argument("--size", default=None, help="HxW the clips are measured at (default 144x256; --quick: 48x64)")
    ap.add_argument("--frames", type=int, default=None, help="default 32 (--quick: 4)")
    ap.add_argument("--timing-only", action="store_true",
                    help="only time restore_detail (one band against three) -> restoration-timing.json")
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds of the timing (default 5; "
                    "--quick: 2)")
    args = ap.parse_args(argv)
    args.size = args.size or ("48x64" if args.quick else "144x256")
    args.frames = args.frames or (4 if args.quick else 32)
    args.rounds = args.rounds or (2 if args.quick else 5)
    info = machine_record()
    out = args.out or results_dir(NAME, info, args.quick)
    if args.timing_only:
        timing = {"machine": info, "rounds": args.rounds, "quick": args.quick,
                  "ms_per_frame": time_restoration(((72, 128),) if args.quick else ((288, 512), (720, 1280)),
                                                   rounds=args.rounds)}
        write_results(out, "restoration-timing", timing)
        return 0
    if args.engine is None or args.style is None:
        ap.error("--engine and --style are needed (or --timing-only)")

    from ..core.images import load_image
    from ..runtime.pipeline import Pipeline

    h, w = (int(v) for v in args.size.split("x"))
    images = args.images or args.style.parent.parent / "content"
    style = load_image(args.style, size=256)
    clips = synthetic_clips(images, (h, w), args.frames)
    with Pipeline.open(args.engine, device="cpu") as pipeline:
        code = pipeline.encode_style(style)
        clip_rows = measure(pipeline, code, clips, Losses((style * 255 + 0.5).astype(np.uint8)),
                            loss_every=2 if args.quick else 8)
    report = {"machine": info, "style": args.style.name, "size": [h, w], "frames": args.frames,
              "quick": args.quick, "lowpass_sigma": LOWPASS_SIGMA,
              "target": {"warping_error_ratio": TARGET[0], "style_loss_ratio": TARGET[1]}, "clips": clip_rows}
    write_results(out, "restoration", report, markdown(report), chart(report))
    return 0


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
