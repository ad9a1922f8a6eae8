"""Temporal smoothing, flow-guided blending and the streaming pipeline, measured: warping error for
blend weights W (with the content statistics unsmoothed, and smoothed at the default strength),
in both blend spaces (``image``: output frames, ``FlowBlend``; ``feature``: the decoder's inputs,
``FeatureBlend``), the content/style losses of those frames relative to the plain ones, frames of
each clip around its cut, and frames/s of the streaming pipeline against the batch-after-batch one
with blending off and on. Writes ``benchmarks/results/video_temporal/<machine>/`` (``--out``).

    STYLERT_WEIGHTS=../shared/weights python -m stylert.benchmarks video_temporal \\
        --engine EXPORT_DIR --clip ../shared/video/cutBunny.mp4 --style ../shared/images/style/la_muse.jpg

``--quick``: clips of 4 frames at 48x64, losses every 2nd frame, speed on one 72x128 clip of 4
frames, one run.

Warping error: ``stylert.evaluation.warping`` (Lai et al., ECCV 2018: DIS flow on the *input*
frames, forward-backward occlusion mask, mean masked squared RGB difference 0..1 between each
output frame and the previous output warped to it). The input flows are computed once per clip
(``stylert.core.flow.clip_flows``) and serve every configuration, and the blending itself
(``FlowBlend.update(..., flow=)``, what ``--temporal-blend`` computes frame by frame). The
blending and the metric use the same flow, so the metric cannot see that flow's errors: the
frame strips (``cut_*.jpg``) are there to show them. Needs ``opencv-python-headless``.

Feature-space blending: each frame's decoder inputs are recorded once per smoothing strength
(``Pipeline.stylize(..., decoder_hook=)``), blended with ``FeatureBlend`` (the same flows) for
each W, and decoded (``Pipeline.decode``), which is what ``Pipeline.stream(...,
temporal_blend_space="feature")`` runs frame by frame.

Losses (pytorch-AdaIN's, with the public normalised VGG): content loss = mean squared
difference at relu4_1 between the stylized frame and the content frame; style loss = sum over
relu1_1..relu4_1 of the mean squared differences of the per-channel means and stds between the
stylized frame and the style image.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np

from .harness import (
    interleave,
    machine_record,
    results_dir,
    scenario_parser,
    write_chart,
    write_image,
    write_json,
)

NAME = "video_temporal"
BLENDS = (0.0, 0.2, 0.3, 0.5, 0.7, 0.9)
#: The image-space weights of the ``cut_*.jpg`` strips (as before the feature space was measured).
STRIP_BLENDS = (0.0, 0.2, 0.3, 0.5, 0.7)
FEATURE_BLENDS = (0.3, 0.5, 0.7, 0.9)


# ---------------------------------------------------------------------- clips
def _load(path, short: int) -> np.ndarray:
    from ..core.images import load_image

    return (load_image(path, size=short) * 255 + 0.5).astype(np.uint8)


def _resize(img: np.ndarray, hw) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((hw[1], hw[0]), Image.BICUBIC))


def pan(img: np.ndarray, hw, frames: int, step: float) -> list[np.ndarray]:
    """A window of size hw sliding right by ``step`` px per frame. Whole pixels: a sub-pixel step
    alternates sharp and interpolated (blurred) frames, a flicker of the input itself."""
    import cv2

    h, w = hw
    out = []
    for i in range(frames):
        m = np.float32([[1, 0, -i * step], [0, 1, 0]])
        out.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def zoom(img: np.ndarray, hw, frames: int, rate: float) -> list[np.ndarray]:
    """Zooming in on the centre by ``rate`` per frame."""
    import cv2

    h, w = hw
    ih, iw = img.shape[:2]
    out = []
    for i in range(frames):
        s = rate ** i * max(h / ih, w / iw)
        m = np.float32([[s, 0, w / 2 - s * iw / 2], [0, s, h / 2 - s * ih / 2]])
        out.append(cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out


def synthetic_clips(images: Path, hw, frames: int) -> dict[str, tuple[list[np.ndarray], int]]:
    """name -> (frames, index of the first frame after the cut)."""
    a = _load(images / "chicago.jpg", hw[0] + 64)
    b = _load(images / "flowers.jpg", hw[0] + 64)
    c = _load(images / "golden_gate.jpg", hw[0] + 64)
    half = frames // 2
    return {
        "pan+cut": (pan(a, hw, half, 3) + pan(b, hw, frames - half, 3), half),
        "zoom+cut": (zoom(c, hw, half, 1.012) + zoom(a, hw, frames - half, 1.012), half),
    }


def clip_frames(path: Path, hw, frames: int, start: int = 0) -> list[np.ndarray]:
    from ..runtime.video import iter_frames

    out = []
    for i, f in enumerate(iter_frames(path)):
        if i >= start:
            out.append(_resize(f, hw))
        if len(out) == frames:
            break
    return out


# ---------------------------------------------------------------------- stylizing, blending, losses
def stylize_all(pipeline, code, frames: list[np.ndarray], strength: float, batch: int = 8):
    """uint8 frames -> (float32 [H, W, 3] 0..1 outputs, the smoothing state (its cuts) or None at 0,
    each frame's decoder inputs {name: [C, h, w]}, the padded size they were computed at)."""
    from ..core.temporal import StatisticsEMA

    state = StatisticsEMA(strength) if strength > 0 else None
    outs, feeds, padded = [], [], []

    def record(inputs, size):
        feeds.extend({k: v[i] for k, v in inputs.items()} for i in range(len(next(iter(inputs.values())))))
        padded.append(size)
        return inputs

    for i in range(0, len(frames), batch):
        x = np.stack(frames[i:i + batch]).astype(np.float32) / 255
        outs += list(pipeline.stylize(x, [code], temporal=state, decoder_hook=record))
    return outs, state, feeds, padded[0]


def blend_all(frames, stylized, flows, weight: float, statistics_cuts=(), blender=None):
    """``FlowBlend`` over a clip with its precomputed flows, as ``Pipeline.stream(temporal_blend=)``
    runs it (statistics cuts passed on) -> (uint8 frames, the blender (cuts, reliable fractions) or None).
    ``blender``: a fresh ``FlowBlend`` (or subclass) to use instead of ``FlowBlend(weight)``."""
    from ..core.images import to_uint8
    from ..core.temporal import FlowBlend

    if weight == 0:
        return [to_uint8(s) for s in stylized], None
    blender = blender if blender is not None else FlowBlend(weight)
    outs = [to_uint8(blender.update(f, s, cut=i in statistics_cuts, flow=flows[i - 1] if i else None))
            for i, (f, s) in enumerate(zip(frames, stylized))]
    return outs, blender


def feature_blend_all(pipeline, frames, feeds, padded, flows, weight: float, statistics_cuts=(), batch: int = 8):
    """``FeatureBlend`` over a clip's recorded decoder inputs with its precomputed flows, then the decoder,
    as ``Pipeline.stream(temporal_blend=W, temporal_blend_space="feature")`` runs it -> (uint8 frames,
    the blender, seconds blending, seconds decoding)."""
    from ..core.images import to_uint8
    from ..core.temporal import FeatureBlend

    blender = FeatureBlend(weight)
    start = time.perf_counter()
    blended = [blender.update(f, x, padded, cut=i in statistics_cuts, flow=flows[i - 1] if i else None)
               for i, (f, x) in enumerate(zip(frames, feeds))]
    blend_seconds = time.perf_counter() - start
    start = time.perf_counter()
    outs = []
    for i in range(0, len(frames), batch):
        part = blended[i:i + batch]
        outs += [to_uint8(o) for o in pipeline.decode({k: np.stack([b[k] for b in part]) for k in part[0]},
                                                      frames[0].shape[:2])]
    return outs, blender, blend_seconds, time.perf_counter() - start


class Losses:
    """pytorch-AdaIN's content (relu4_1) and style (relu1_1..relu4_1 mean/std) losses with the public VGG."""

    def __init__(self, style: np.ndarray):
        import torch

        from ..models.adain import calc_mean_std
        from ..models.pretrained import load_reference_model

        self.torch, self.stats = torch, calc_mean_std
        self.encoder = load_reference_model(None, ()).encoder.eval()
        self.taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
        self.style = self._feats(style)

    def _feats(self, img):
        t = self.torch.from_numpy(np.ascontiguousarray(img.astype(np.float32).transpose(2, 0, 1) / 255))[None]
        with self.torch.inference_mode():
            return self.encoder(t, self.taps)

    def __call__(self, stylized: np.ndarray, content: np.ndarray) -> tuple[float, float]:
        o, c = self._feats(stylized), self._feats(content)
        content_loss = float(((o["relu4_1"] - c["relu4_1"]) ** 2).mean())
        style_loss = 0.0
        for t in self.taps:
            (om, osd), (sm, ssd) = self.stats(o[t]), self.stats(self.style[t])
            style_loss += float(((om - sm) ** 2).mean() + ((osd - ssd) ** 2).mean())
        return content_loss, style_loss


# ---------------------------------------------------------------------- frames/s
def _write_clip(path: Path, frames: list[np.ndarray], fps: int = 24) -> Path:
    import av

    with av.open(str(path), mode="w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path



def _speed_clips(images: Path, speed_frames: str, tmp: Path):
    """(``HxW``, clip path) per ``--speed-frames`` entry ``HxW:N``: a pan over chicago.jpg, N frames, in ``tmp``."""
    src_img = _load(images / "chicago.jpg", 900)
    for spec in speed_frames.split(","):
        size, n = spec.split(":")
        sh, sw = (int(v) for v in size.split("x"))
        yield size, _write_clip(tmp / f"src_{size}.mp4", pan(src_img, (sh, sw), int(n), 2.0))

def speed(pipeline, code, src: Path, tmp: Path, batch: int, strength: float, blend: float, runs: int) -> dict:
    """frames/s of the batch-after-batch path (``transform_video``) and of the streaming path
    (``stream_video`` + ``Pipeline.stream``), each with blending off and at ``blend``, smoothing
    ``strength`` in all four; runs interleaved (each configuration once per round), median kept."""
    from ..core.images import to_uint8
    from ..core.temporal import StatisticsEMA
    from ..runtime.video import stream_video, transform_video

    configs = [("batch", 0.0), ("stream", 0.0), ("batch", blend), ("stream", blend)]
    frames = {}

    def run(path, w):
        dst = tmp / f"{path}_{w}.mp4"
        if path == "batch":
            state = StatisticsEMA(strength) if strength > 0 else None

            def fn(b, state=state):
                return np.stack([to_uint8(f) for f in
                                 pipeline.stylize(b.astype(np.float32) / 255, [code], temporal=state)])

            frames[(path, w)] = transform_video(src, dst, fn, batch_size=batch, overwrite=True, temporal_blend=w)
        else:
            frames[(path, w)] = stream_video(src, dst, lambda fr, w=w: pipeline.stream(
                fr, [code], temporal_smoothing=strength, temporal_blend=w, batch_size=batch), overwrite=True)

    times = interleave({f"{path} W={w}": (lambda c=(path, w): run(*c)) for path, w in configs}, runs, rotate=False)
    n = frames[configs[-1]]
    rates = {k: [n / (ms / 1e3) for ms in v] for k, v in times.items()}
    return {"median": {k: statistics.median(v) for k, v in rates.items()}, "runs": rates, "frames": n}


def speed_by_backend(args, images: Path, style: np.ndarray) -> dict:
    """frames/s of ``speed`` per backend (``--backend``), the backends one after the other on the same
    clips in one process: {label: {size: speed(...), "runs_in": precision, "auto": line or None}}."""
    import tempfile

    from ..core.temporal import DEFAULT_BLEND, DEFAULT_STRENGTH
    from ..runtime.pipeline import Pipeline

    out: dict = {}
    pipes = {}
    try:
        for label in args.backend:
            backend, _, precision = label.partition("@")
            pipes[label] = Pipeline.open(args.engine, backend, "cpu", precision=precision or None).activate()
            out[label] = {"backend": pipes[label].backend, "runs_in": pipes[label].precision,
                          "auto": pipes[label].choice}
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            for size, src in _speed_clips(images, args.speed_frames, tmp):
                for label, pipe in pipes.items():
                    r = speed(pipe, pipe.encode_style(style), src, tmp, 4, DEFAULT_STRENGTH, DEFAULT_BLEND, args.runs)
                    out[label][size] = r
                    print(f"{label} {size}: " + ", ".join(f"{k} {v:.3f} frames/s" for k, v in r["median"].items()),
                          flush=True)
    finally:
        for pipe in pipes.values():
            pipe.deactivate()
    return out


# ---------------------------------------------------------------------- main
def _strip(rows: list[list[np.ndarray]], around: int, count: int) -> np.ndarray:
    """Frames around-3 .. around+2 (the first frame after the cut is the 4th) of each row, rows top to bottom."""
    picks = range(max(around - 3, 0), min(around + 3, count))
    return np.concatenate([np.concatenate([row[i] for i in picks], 1) for row in rows], 0)


def measure_clip(pipeline, code, frames, cut, losses, loss_every: int, strength: float) -> tuple[dict, dict]:
    """One clip: every (smoothing, blend) configuration -> (report row, uint8 outputs per configuration)."""
    from ..core.flow import clip_flows
    from ..evaluation.warping import warping_error

    start = time.perf_counter()
    flows = clip_flows(frames)
    row = {"known_cut": cut, "flow_seconds": time.perf_counter() - start,
           "visible_fraction": [p.visible_fraction for p in flows], "configs": {}}
    outputs, base = {}, None
    picks = list(range(loss_every - 1, len(frames), loss_every))  # not shot starts (never blended)
    for s in (0.0, strength):
        stylized, state, feeds, padded = stylize_all(pipeline, code, frames, s)
        statistics_cuts = set(state.cuts[1:]) if state is not None else set()
        if state is not None:
            row["statistics_cuts"] = state.cuts
        runs = [("image", w) for w in BLENDS] + [("feature", w) for w in FEATURE_BLENDS]
        for space, w in runs:
            start = time.perf_counter()
            if space == "image":
                outs, blender = blend_all(frames, stylized, flows, w, statistics_cuts)
                timing = {"blend_seconds": time.perf_counter() - start}
            else:
                outs, blender, blend_s, decode_s = feature_blend_all(pipeline, frames, feeds, padded, flows, w,
                                                                     statistics_cuts)
                timing = {"blend_seconds": blend_s, "decode_seconds": decode_s}
            result = warping_error(frames, outs, flows=flows)
            lc = [losses(outs[i], frames[i]) for i in picks]
            entry = {"smoothing": s, "blend": w, "space": space, "warping_error": result.warping_error,
                     "content_loss": float(np.mean([c for c, _ in lc])),
                     "style_loss": float(np.mean([st for _, st in lc])), **timing}
            row["input_warping_error"] = result.input_warping_error
            if blender is not None:
                entry["blend_cuts"] = blender.cuts
                entry["reliable_fraction"] = blender.reliable
            if base is None:
                base = entry
            for k in ("warping_error", "content_loss", "style_loss"):
                entry[f"{k}_ratio"] = entry[k] / base[k]
            key = config_key(s, w, space)
            row["configs"][key] = entry
            outputs[key] = outs
            print(f"  S={s:.1f} W={w:.2f} {space:7s}: warping error {entry['warping_error']:.5f} "
                  f"({entry['warping_error_ratio']:.3f}x), content {entry['content_loss_ratio']:.3f}x, "
                  f"style {entry['style_loss_ratio']:.3f}x, blend cuts {entry.get('blend_cuts', '-')}", flush=True)
    return row, outputs


def config_key(strength: float, weight: float, space: str = "image") -> str:
    """The key of one configuration in ``temporal.json``: ``S=0.8,W=0.3`` (image space, the keys of
    the runs before the feature space existed), ``S=0.8,W=0.3,space=feature``."""
    return f"S={strength},W={weight}" + ("" if space == "image" else f",space={space}")


def main(argv=None) -> int:
    ap = scenario_parser(NAME, __doc__)
    ap.add_argument("--engine", required=True, type=Path, help="export folder")
    ap.add_argument("--clip", type=Path, default=None, help="a real clip (with a cut) besides the synthetic ones; "
                    "without it, the synthetic clips only")
    ap.add_argument("--style", required=True, type=Path, help="style image")
    ap.add_argument("--images", type=Path, default=None, help="content image folder for the synthetic clips")
    ap.add_argument("--size", default=None, help="HxW the clips are measured at (default 144x256; --quick 48x64)")
    ap.add_argument("--frames", type=int, default=None, help="default 32 (--quick: 4)")
    ap.add_argument("--clip-start", type=int, default=0)
    ap.add_argument("--loss-every", type=int, default=None, help="default 8 (--quick: 2)")
    ap.add_argument("--speed-frames", default=None, help="HxW:frames,... (frames/s comparison; default "
                    "288x512:4,720x1280:2, --quick: 72x128:4)")
    ap.add_argument("--runs", type=int, default=None, help="interleaved runs of each speed configuration (median "
                    "kept; default 3, --quick: 1)")
    ap.add_argument("--speed-only", action="store_true", help="only the frames/s comparison -> speed.json")
    ap.add_argument("--backend", action="append", default=None, metavar="NAME[@PRECISION]",
                    help="--speed-only: measure on these backends side by side (auto, onnxruntime, openvino, "
                         "openvino@f32, ...), interleaved per size -> speed.json's speed_by_backend")
    args = ap.parse_args(argv)
    for key, full, small in (("size", "144x256", "48x64"), ("frames", 32, 4), ("loss_every", 8, 2),
                             ("speed_frames", "288x512:4,720x1280:2", "72x128:4"), ("runs", 3, 1)):
        if getattr(args, key) is None:
            setattr(args, key, small if args.quick else full)

    from ..core.images import load_image
    from ..core.temporal import (
        BLEND_CUT_FRACTION,
        DEFAULT_BLEND,
        DEFAULT_STRENGTH,
        INPUT_TOLERANCE,
    )
    from ..runtime.pipeline import Pipeline

    h, w = (int(v) for v in args.size.split("x"))
    images = args.images or args.style.parent.parent / "content"
    args.out = args.out or results_dir(NAME, None, args.quick)
    args.out.mkdir(parents=True, exist_ok=True)
    style = load_image(args.style, size=256)
    style_u8 = (style * 255 + 0.5).astype(np.uint8)
    report = {"machine": machine_record(), "quick": args.quick, "style": args.style.name, "smoothing": DEFAULT_STRENGTH,
              "default_blend": DEFAULT_BLEND, "blend_cut_fraction": BLEND_CUT_FRACTION,
              "input_tolerance": INPUT_TOLERANCE}
    if args.speed_only and args.backend:
        report["speed_by_backend"] = speed_by_backend(args, images, style)
        report.update(batch=4, runs=args.runs)
        write_json(args.out / "speed.json", report)
        return 0
    with Pipeline.open(args.engine, device="cpu") as pipeline:
        code = pipeline.encode_style(style)
        if args.speed_only:
            import tempfile

            report["speed"] = {}
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                for size, src in _speed_clips(images, args.speed_frames, tmp):
                    r = speed(pipeline, code, src, tmp, 4, DEFAULT_STRENGTH, DEFAULT_BLEND, args.runs)
                    report["speed"][size] = r
                    m = r["median"]
                    print(f"{size}: " + ", ".join(f"{k} {v:.3f} frames/s" for k, v in m.items()), flush=True)
            report.update(batch=4, runs=args.runs)
            write_json(args.out / "speed.json", report)
            return 0
        losses = Losses(style_u8)
        clips = {"shared clip": (clip_frames(args.clip, (h, w), args.frames, args.clip_start), None)} if args.clip else {}
        clips.update(synthetic_clips(images, (h, w), args.frames))
        report.update(size=[h, w], frames=args.frames, clip_start=args.clip_start, blends=list(BLENDS),
                      feature_blends=list(FEATURE_BLENDS), clips={})
        for old in args.out.glob("cut_*.jpg"):
            old.unlink()
        for name, (frames, cut) in clips.items():
            print(name, flush=True)
            row, outputs = measure_clip(pipeline, code, frames, cut, losses, args.loss_every, DEFAULT_STRENGTH)
            report["clips"][name] = row
            around = cut if cut is not None else (row["statistics_cuts"][1:] or [len(frames) // 2])[0]
            s = DEFAULT_STRENGTH
            rows = [frames] + [outputs[config_key(s, wt)] for wt in STRIP_BLENDS]  # input, then W from 0 up
            slug = name.replace(" ", "_").replace("+", "_")
            write_image(args.out / f"cut_{slug}.jpg", _strip(rows, around, len(frames)), quality=75)
            # feature space: input, W=0, image W=0.3, then feature W from 0.3 up
            rows = [frames, outputs[config_key(s, 0.0)], outputs[config_key(s, 0.3)]] + \
                [outputs[config_key(s, wt, "feature")] for wt in FEATURE_BLENDS]
            write_image(args.out / f"cut_feature_{slug}.jpg", _strip(rows, around, len(frames)), quality=75)
    write_json(args.out / "temporal.json", report)
    _chart(report, args.out)
    print(f"wrote {args.out}/temporal.json, warping_error.png, style_loss_spaces.png, cut_*.jpg")
    return 0


def _chart(report: dict, out: Path) -> None:
    from ..core.chart import line_chart

    series = {}
    for name, row in report["clips"].items():
        for s in (0.0, report["smoothing"]):
            series[f"{name} S={s}"] = [(f"W={w}", row["configs"][f"S={s},W={w}"]["warping_error_ratio"], None)
                                      for w in report["blends"]]
    img = line_chart(series, title="warping error relative to no blending, no smoothing (lower is steadier)",
                     ylabel="ratio", size=(820, 440))
    write_chart(out / "warping_error.png", img)
    if "feature_blends" not in report:
        return
    s = report["smoothing"]
    series = {}
    for name, row in report["clips"].items():
        for space, weights in (("image", report["blends"]), ("feature", report["feature_blends"])):
            series[f"{name} {space}"] = [(f"W={w}", row["configs"][config_key(s, w, space)]["style_loss_ratio"], None)
                                         for w in weights if w > 0]
    img = line_chart(series, title=f"style loss relative to no blending (S={s}), image vs feature space",
                     ylabel="ratio", size=(820, 440))
    write_chart(out / "style_loss_spaces.png", img)


if __name__ == "__main__":
    from .harness import run_as_main

    run_as_main(NAME)
