"""Temporal smoothing and the streaming pipeline, measured: warping error at several strengths, the
content/style losses of smoothed frames against unsmoothed ones, frames/s of the streaming
pipeline against the batch-after-batch one. Writes ``benchmarks/results/video/``.

    PYTHONPATH=.. STYLERT_WEIGHTS=../shared/weights python -m stylert.benchmarks.video_temporal \\
        --engine EXPORT_DIR --clip ../shared/video/cutBunny.mp4 --style ../shared/images/style/la_muse.jpg

Warping error (Lai et al., ECCV 2018), as defined for ``stylert evaluate video``: optical flow
between consecutive *input* frames (OpenCV DIS, preset medium, on grayscale), pixels failing the
forward-backward consistency check (Sundaram et al. 2010: |f_b + f_f(warped)|^2 > 0.01
(|f_b|^2 + |f_f(warped)|^2) + 0.5) masked out, then the mean over unmasked pixels and RGB channels
of the squared difference (0..1) between the previous output frame warped to the current one
and the current output frame; averaged over all consecutive pairs. The input's own warping
error is reported beside it. Needs ``opencv-python-headless``.

Losses (pytorch-AdaIN's, with the public normalised VGG): content loss = mean squared
difference at relu4_1 between the stylized frame and the content frame; style loss = sum over
relu1_1..relu4_1 of the mean squared differences of the per-channel means and stds between the
stylized frame and the style image.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

STRENGTHS = (0.0, 0.6, 0.8, 0.9)
RESULTS = Path(__file__).resolve().parent / "results" / "video"


# ---------------------------------------------------------------------- warping error
def _gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def _flows(inputs: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """For each pair (t-1, t): (warp grid sampling frame t-1 at frame t's pixels [H,W,2], valid mask [H,W])."""
    import cv2

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grays = [_gray(f) for f in inputs]
    h, w = grays[0].shape
    xx, yy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    out = []
    for prev, cur in zip(grays, grays[1:]):
        back = dis.calc(cur, prev, None)  # pixel of t -> its place in t-1
        fwd = dis.calc(prev, cur, None)  # pixel of t-1 -> its place in t
        mx, my = xx + back[..., 0], yy + back[..., 1]
        fwd_at = cv2.remap(fwd, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        err = ((back + fwd_at) ** 2).sum(-1)
        bound = 0.01 * ((back ** 2).sum(-1) + (fwd_at ** 2).sum(-1)) + 0.5
        inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
        out.append((np.stack([mx, my], -1), (err <= bound) & inside))
    return out


def warping_error(outputs: list[np.ndarray], flows) -> float:
    """uint8 [H,W,3] output frames + ``_flows`` of their inputs -> mean masked squared difference (0..1 RGB)."""
    import cv2

    errors = []
    for (grid, valid), prev, cur in zip(flows, outputs, outputs[1:]):
        warped = cv2.remap(prev.astype(np.float32) / 255, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
        diff = ((warped - cur.astype(np.float32) / 255) ** 2).sum(-1)
        errors.append(float((diff * valid).sum() / max(3 * valid.sum(), 1)))
    return float(np.mean(errors))


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


# ---------------------------------------------------------------------- stylizing and losses
def stylize_all(pipeline, code, frames: list[np.ndarray], strength: float, batch: int = 8):
    """uint8 frames -> (uint8 outputs, the smoothing state (cuts, statistics changes) or None at 0)."""
    from ..core.images import to_uint8
    from ..core.temporal import StatisticsEMA

    state = StatisticsEMA(strength) if strength > 0 else None
    outs = []
    for i in range(0, len(frames), batch):
        x = np.stack(frames[i:i + batch]).astype(np.float32) / 255
        outs += [to_uint8(f) for f in pipeline.stylize(x, [code], temporal=state)]
    return outs, state


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


def speed(pipeline, code, src: Path, tmp: Path, batch: int, strength: float, passes: int = 1) -> dict:
    """frames/s of the batch-after-batch path (transform_video) and of the streaming path, same clip."""
    from ..core.images import to_uint8
    from ..runtime.video import stream_video, transform_video

    def old(b):
        return np.stack([to_uint8(f) for f in pipeline.stylize(b.astype(np.float32) / 255, [code])])

    times = {}
    for name in ("old", "stream") * passes:  # interleaved, best of the passes
        dst = tmp / f"{name}.mp4"
        start = time.perf_counter()
        if name == "old":
            n = transform_video(src, dst, old, batch_size=batch, overwrite=True)
        else:
            n = stream_video(src, dst, lambda fr: pipeline.stream(fr, [code], temporal_smoothing=strength,
                                                                  batch_size=batch), overwrite=True)
        times.setdefault(name, []).append(n / (time.perf_counter() - start))
    return {k: max(v) for k, v in times.items()} | {"frames": n, "runs": times}


# ---------------------------------------------------------------------- main
def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", required=True, type=Path)
    ap.add_argument("--clip", required=True, type=Path)
    ap.add_argument("--style", required=True, type=Path)
    ap.add_argument("--images", type=Path, default=None, help="content image folder for the synthetic clips")
    ap.add_argument("--size", default="144x256", help="HxW the clips are measured at")
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--clip-start", type=int, default=0)
    ap.add_argument("--loss-every", type=int, default=8)
    ap.add_argument("--speed-frames", default="288x512:8,720x1280:3", help="HxW:frames,... (frames/s comparison)")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--speed-only", action="store_true", help="only the frames/s comparison -> speed.json")
    ap.add_argument("--passes", type=int, default=1, help="interleaved old/streaming passes per size (best kept)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)

    from ..core.images import load_image
    from ..core.temporal import CUT_THRESHOLD, DEFAULT_STRENGTH
    from ..runtime.pipeline import Pipeline

    h, w = (int(v) for v in args.size.split("x"))
    images = args.images or args.style.parent.parent / "content"
    args.out.mkdir(parents=True, exist_ok=True)
    style = load_image(args.style, size=256)
    style_u8 = (style * 255 + 0.5).astype(np.uint8)
    losses = None if args.speed_only else Losses(style_u8)
    clips = {}
    if not args.speed_only:
        clips["shared clip"] = (clip_frames(args.clip, (h, w), args.frames, args.clip_start), None)
        clips.update(synthetic_clips(images, (h, w), args.frames))
    report = {"machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
              "size": [h, w], "frames": args.frames, "style": args.style.name, "strengths": list(STRENGTHS),
              "cut_threshold": CUT_THRESHOLD, "clips": {}}
    with Pipeline.open(args.engine, device="cpu") as pipeline:
        import os

        report["machine"]["cores"] = os.cpu_count()
        code = pipeline.encode_style(style)
        for name, (frames, cut) in clips.items():
            flows = _flows(frames)
            row = {"input_warping_error": warping_error(frames, flows), "known_cut": cut, "strengths": {}}
            base = None
            for s in STRENGTHS:
                start = time.perf_counter()
                outs, state = stylize_all(pipeline, code, frames, s)
                entry = {"warping_error": warping_error(outs, flows), "seconds": time.perf_counter() - start}
                if state is not None:
                    entry["cuts"] = state.cuts
                    row["statistics_changes"] = state.changes  # the same at every strength
                picks = list(range(0, len(frames), args.loss_every))
                lc = [losses(outs[i], frames[i]) for i in picks]
                entry["content_loss"] = float(np.mean([c for c, _ in lc]))
                entry["style_loss"] = float(np.mean([st for _, st in lc]))
                if base is None:
                    base = entry
                for k in ("warping_error", "content_loss", "style_loss"):
                    entry[f"{k}_ratio"] = entry[k] / base[k]
                row["strengths"][str(s)] = entry
                print(f"{name:12s} S={s:.1f}: warping error {entry['warping_error']:.5f} "
                      f"({entry['warping_error_ratio']:.3f}x), content {entry['content_loss_ratio']:.3f}x, "
                      f"style {entry['style_loss_ratio']:.3f}x, cuts {entry.get('cuts', '-')}", flush=True)
                if s in (0.0, DEFAULT_STRENGTH):
                    found = entry.get("cuts", row.get("strengths", {}).get("0.5", {}).get("cuts", [0]))
                    around = cut if cut is not None else (found[1] if len(found) > 1 else len(frames) // 2)
                    strip = np.concatenate([np.concatenate([frames[i], outs[i]], 0)
                                            for i in range(max(around - 2, 0), min(around + 3, len(frames)))], 1)
                    from PIL import Image

                    slug = name.replace(" ", "_").replace("+", "_")
                    Image.fromarray(strip).save(args.out / f"cut_{slug}_S{s}.jpg", quality=88)
            report["clips"][name] = row
        if not args.skip_speed:
            import tempfile

            report["speed"] = {}
            with tempfile.TemporaryDirectory() as tmp:
                tmp = Path(tmp)
                src_img = _load(images / "chicago.jpg", 900)
                for spec in args.speed_frames.split(","):
                    size, n = spec.split(":")
                    sh, sw = (int(v) for v in size.split("x"))
                    src = _write_clip(tmp / f"src_{size}.mp4", pan(src_img, (sh, sw), int(n), 2.0))
                    r = speed(pipeline, code, src, tmp, 4, DEFAULT_STRENGTH, args.passes)
                    report["speed"][size] = r
                    print(f"{size}: old {r['old']:.3f} frames/s, streaming {r['stream']:.3f} frames/s "
                          f"({r['stream'] / r['old']:.2f}x)", flush=True)
    if args.speed_only:
        speed_report = {k: report[k] for k in ("machine", "speed")}
        (args.out / "speed.json").write_text(json.dumps(speed_report, indent=2) + "\n")
        return
    (args.out / "temporal.json").write_text(json.dumps(report, indent=2) + "\n")
    _chart(report, args.out)


def _chart(report: dict, out: Path) -> None:
    from ..core.chart import line_chart

    series = {name: [(f"S={s}", row["strengths"][str(s)]["warping_error_ratio"], None) for s in report["strengths"]]
              for name, row in report["clips"].items()}
    img = line_chart(series, title="warping error relative to no smoothing (lower is steadier)",
                     ylabel="ratio to S=0")
    img.save(out / "warping_error.png")


if __name__ == "__main__":
    main()
