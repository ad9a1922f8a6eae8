"""stylert evaluate: each metric against a hand computation, orderings on the real weights, the JSON
shapes, the report folder, and one-line errors for bad inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from stylert.cli import main
from stylert.evaluation import metrics as M
from stylert.evaluation import warping as W

pytest.importorskip("skimage")
pytest.importorskip("cv2")


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def one_line_error(result, *fragments):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


# --------------------------------------------------------------------------- hand computations


def feats(**taps):
    return {k: torch.tensor(v, dtype=torch.float32) for k, v in taps.items()}


def test_content_loss_is_the_mean_squared_difference_per_tap():
    o = feats(relu2_1=[[[[1.0, 2.0], [3.0, 4.0]]]], relu3_1=[[[[1.0]], [[3.0]]]], relu4_1=[[[[2.0, 2.0]]]])
    c = feats(relu2_1=[[[[0.0, 0.0], [0.0, 0.0]]]], relu3_1=[[[[0.0]], [[1.0]]]], relu4_1=[[[[2.0, 2.0]]]])
    assert M.content_loss(o, c) == pytest.approx({"relu2_1": 7.5, "relu3_1": 2.5, "relu4_1": 0.0})


def test_style_loss_is_pytorch_adain_calc_style_loss_summed_over_relu1_1_to_relu4_1():
    # Channel 0 of the output: [1, 3] -> mean 2, unbiased var 2; channel 1: [5, 5] -> mean 5, var 0.
    # Style: both channels [0, 0] -> mean 0, var 0. sigma = sqrt(var + 1e-5).
    out = [[[[1.0, 3.0]], [[5.0, 5.0]]]]
    sty = [[[[0.0, 0.0]], [[0.0, 0.0]]]]
    eps = 1e-5
    per_tap = ((2 - 0) ** 2 + (5 - 0) ** 2) / 2 + ((math.sqrt(2 + eps) - math.sqrt(eps)) ** 2 + 0.0) / 2
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
    o = M.StyleTargets.of({**{t: torch.tensor(out) for t in taps}, "relu5_1": torch.tensor(out) * 10})
    s = M.StyleTargets.of({**{t: torch.tensor(sty) for t in taps}, "relu5_1": torch.tensor(sty)})
    assert M.style_loss(o, s) == pytest.approx(4 * per_tap, rel=1e-6)
    relu5 = ((20 - 0) ** 2 + (50 - 0) ** 2) / 2 + (math.sqrt(200 + eps) - math.sqrt(eps)) ** 2 / 2
    assert M.style_loss(o, s, ("relu5_1",)) == pytest.approx(relu5, rel=1e-6)


def test_gram_matrix_and_gram_loss_by_hand():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # N=1, C=2, H=1, W=2
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / (2 * 1 * 2)
    assert torch.allclose(M.gram_matrix(f), expected)
    zero = torch.zeros_like(f)
    taps = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
    o = M.StyleTargets.of({t: f for t in taps})
    s = M.StyleTargets.of({t: zero for t in taps})
    per_tap = float(((expected) ** 2).mean())  # (1.25^2 + 2 * 2.75^2 + 6.25^2) / 4
    assert per_tap == pytest.approx((1.25**2 + 2 * 2.75**2 + 6.25**2) / 4)
    assert M.gram_loss(o, s) == pytest.approx(5 * per_tap, rel=1e-6)


def test_ssim_of_flat_images_is_the_luminance_term_of_their_709_grey():
    # Flat images: no variance, so SSIM = (2 x y + C1) / (x^2 + y^2 + C1), C1 = (0.01 * 1)^2.
    a = np.broadcast_to(np.float32([0.8, 0.2, 0.1]), (16, 16, 3)).copy()
    b = np.broadcast_to(np.float32([0.1, 0.3, 0.9]), (16, 16, 3)).copy()
    x = 0.2125 * 0.8 + 0.7154 * 0.2 + 0.0721 * 0.1
    y = 0.2125 * 0.1 + 0.7154 * 0.3 + 0.0721 * 0.9
    c1 = 0.01**2
    assert M.ssim(a, b) == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1), rel=1e-5)
    assert M.ssim(a, a) == pytest.approx(1.0)


def test_psnr_by_hand():
    a = np.full((4, 4, 3), 0.5, np.float32)
    assert M.psnr(a + np.float32(0.1), a) == pytest.approx(20.0, abs=1e-4)  # MSE 0.01
    assert M.psnr(a, a) == math.inf
    assert M.json_number({"psnr": math.inf, "ssim": 0.5}) == {"psnr": "inf", "ssim": 0.5}


def test_warp_follows_the_flow_and_the_occlusion_check_rejects_inconsistent_flow():
    rng = np.random.default_rng(0)
    image = rng.random((8, 10, 3)).astype(np.float32)
    flow = np.zeros((8, 10, 2), np.float32)
    flow[..., 0] = 2.0  # out(x, y) = image(x + 2, y)
    assert np.array_equal(W.warp(image, flow)[:, :8], image[:, 2:])
    # Consistent pair: backward +2 px in x, forward -2 px -> visible where x + 2 stays inside (x <= 7).
    mask = W.visible_mask(flow, -flow)
    assert mask[:, :8].all() and not mask[:, 8:].any()
    # Inconsistent: forward flow also +2 -> |b + f_w|^2 = 16 > 0.01 * 8 + 0.5 everywhere.
    assert not W.visible_mask(flow, flow).any()


def test_pair_error_is_the_mean_over_visible_pixels_and_channels():
    prev = np.zeros((4, 4, 3), np.float32)
    cur = np.zeros((4, 4, 3), np.float32)
    cur[0, 0] = [0.3, 0.0, 0.0]  # visible
    cur[3, 3] = [1.0, 1.0, 1.0]  # occluded: must not count
    mask = np.ones((4, 4), np.float32)
    mask[3, 3] = 0
    zero = np.zeros((4, 4, 2), np.float32)
    assert W.pair_error(prev, cur, zero, mask) == pytest.approx(0.09 / (15 * 3))
    assert W.pair_error(prev, cur, zero, np.zeros((4, 4), np.float32)) is None


# --------------------------------------------------------------------------- videos


def write_video(path, frames, fps=10):
    av = pytest.importorskip("av")
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv444p"
        stream.options = {"crf": "0"}  # lossless: frames come back as written
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def moving_texture(n=10, h=48, w=64, step=2):
    """A smooth random texture panning ``step`` px per frame: flow is easy and exact."""
    rng = np.random.default_rng(1)
    big = Image.fromarray(rng.integers(0, 256, (h // 4, (w + n * step) // 4, 3), dtype=np.uint8))
    big = np.asarray(big.resize(((w + n * step), h), Image.BICUBIC))
    return [np.ascontiguousarray(big[:, i * step : i * step + w]) for i in range(n)]


def test_still_video_has_zero_warping_error_and_shuffled_frames_a_much_larger_one(tmp_path):
    frames = moving_texture()
    still = write_video(tmp_path / "still.mp4", [frames[0]] * 6)
    result = invoke("evaluate", "video", "--input", still, "--stylized", still, "--json", tmp_path / "w.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "w.json").read_text())
    assert data["metrics"]["warping_error"] == pytest.approx(0.0, abs=1e-9)
    assert data["frames"] == 6 and data["pairs"] == 5

    moving = write_video(tmp_path / "moving.mp4", frames)
    order = [0, 5, 2, 8, 1, 9, 3, 7, 4, 6]
    shuffled = write_video(tmp_path / "shuffled.mp4", [frames[i] for i in order])
    same = W.video_warping_error(moving, moving)
    mixed = W.video_warping_error(moving, shuffled)
    assert same.warping_error == pytest.approx(same.input_warping_error)
    assert mixed.warping_error > 10 * same.warping_error + 1e-3, (same, mixed)
    assert mixed.input_warping_error == pytest.approx(same.input_warping_error)


def test_video_errors_are_one_line(tmp_path):
    av = pytest.importorskip("av")
    empty = tmp_path / "empty.mp4"  # a header and no frame: FFmpeg drops the empty track
    with av.open(str(empty), mode="w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        out.start_encoding()
    frames = moving_texture(n=4)
    good = write_video(tmp_path / "good.mp4", frames)
    one_line_error(invoke("evaluate", "video", "--input", good, "--stylized", empty), "empty.mp4", "no video stream")
    single = write_video(tmp_path / "single.mp4", frames[:1])
    one_line_error(invoke("evaluate", "video", "--input", single, "--stylized", single), "single.mp4",
                   "1 frame(s)", "at least 2")
    shorter = write_video(tmp_path / "short.mp4", frames[:3])
    one_line_error(invoke("evaluate", "video", "--input", good, "--stylized", shorter), "short.mp4", "has 3 frames")
    small = write_video(tmp_path / "small.mp4", [f[:32, :32] for f in frames])
    one_line_error(invoke("evaluate", "video", "--input", good, "--stylized", small), "small.mp4", "32x32")
    one_line_error(invoke("evaluate", "video", "--input", tmp_path / "nope.mp4", "--stylized", good), "nope.mp4",
                   "not found")


# --------------------------------------------------------------------------- real weights


def _reference_losses(vgg_path, content, style, stylized):
    """pytorch-AdaIN's own losses, from the independent transcription in reference_impls."""
    import reference_impls as R

    vgg = R.vgg()
    vgg.load_state_dict(torch.load(vgg_path, weights_only=True))
    layers = list(vgg.children())
    stages = [torch.nn.Sequential(*layers[a:b]) for a, b in ((0, 4), (4, 11), (11, 18), (18, 31), (31, 44))]

    def encode(img):
        x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
        out = []
        for stage in stages:
            x = stage(x)
            out.append(x)
        return out

    mse = torch.nn.MSELoss()
    with torch.no_grad():
        o, c, s = encode(stylized), encode(content), encode(style)
        style_loss = 0.0
        for i in range(4):
            (om, osd), (sm, ssd) = R.calc_mean_std(o[i]), R.calc_mean_std(s[i])
            style_loss += float(mse(om, sm) + mse(osd, ssd))
        content = {t: float(mse(o[i], c[i])) for t, i in (("relu2_1", 1), ("relu3_1", 2), ("relu4_1", 3))}
    return content, style_loss


@pytest.mark.real_weights
def test_score_json_shape_and_agreement_with_pytorch_adain(tmp_path, shared_images, adain_files, use_shared_weights):
    from stylert.core.images import load_image, save_image

    content = shared_images / "content" / "golden_gate.jpg"
    style = shared_images / "style" / "woman_with_hat_matisse.jpg"
    c = load_image(content, size=64)
    save_image(c, tmp_path / "c.png")
    save_image(load_image(style, size=56), tmp_path / "s.png")
    stylized = np.clip(c * 0.6 + 0.3 * load_image(style, size=64)[:64, :64], 0, 1)
    save_image(stylized, tmp_path / "o.png")
    save_image(np.clip(stylized + 0.01, 0, 1), tmp_path / "ref.png")
    result = invoke("evaluate", "score", "-c", tmp_path / "c.png", "-s", tmp_path / "s.png", "--stylized",
                    tmp_path / "o.png", "--reference", tmp_path / "ref.png", "--json", tmp_path / "m.json")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "m.json").read_text())
    assert json.loads(result.output) == data
    assert list(data) == ["metrics"]
    m = data["metrics"]
    assert set(m) == {"content_loss", "style_loss", "style_loss_relu5_1", "gram_loss", "ssim", "psnr"}
    assert set(m["content_loss"]) == {"relu2_1", "relu3_1", "relu4_1"}
    assert all(isinstance(v, float) for v in [*m["content_loss"].values(), m["style_loss"], m["style_loss_relu5_1"],
                                              m["gram_loss"], m["ssim"], m["psnr"]])
    assert 35 < m["psnr"] < 45  # ~ +0.01 everywhere (8-bit rounding and clipping aside): 40 dB
    images = [load_image(tmp_path / n) for n in ("c.png", "s.png", "o.png")]
    content_ref, style_ref = _reference_losses(adain_files[0], *images)
    assert m["style_loss"] == pytest.approx(style_ref, rel=1e-4)
    assert m["content_loss"] == pytest.approx(content_ref, rel=1e-4)

    no_ref = invoke("evaluate", "score", "-c", tmp_path / "c.png", "-s", tmp_path / "s.png", "--stylized",
                    tmp_path / "o.png")
    assert no_ref.exit_code == 0 and json.loads(no_ref.output)["metrics"]["psnr"] is None


@pytest.mark.real_weights
def test_alpha_orders_content_and_style_losses(shared_images, adain_model, use_shared_weights):
    from stylert.core.images import load_image
    from stylert.core.stylize import StylizeOptions
    from stylert.models.stylize import ReferenceStylizer

    encoder = M.MetricEncoder()
    stylizer = ReferenceStylizer(adain_model, "cpu")
    for content_name, style_name in (("cornell.jpg", "brushstrokes.jpg"), ("modern.jpg", "mondrian.jpg")):
        # 128 px: at 64 px the decoder's own reconstruction error is large enough that alpha 0.5
        # can come out closer to the content than alpha 0 at relu2_1.
        content = load_image(shared_images / "content" / content_name, size=128, crop=True)
        style = load_image(shared_images / "style" / style_name, size=128, crop=True)
        content_feats = encoder.features(content, M.CONTENT_TAPS)
        targets = M.StyleTargets.of(encoder.features(style))
        scores = {}
        for a in (0.0, 0.5, 1.0):
            out = np.clip(stylizer.stylize(content, [style], StylizeOptions(alpha=a)), 0, 1)
            scores[a] = M.score_features(encoder.features(out), out, content_feats, content, targets)
        for tap in M.CONTENT_TAPS:
            assert min(scores, key=lambda a: scores[a]["content_loss"][tap]) == 0.0, (content_name, tap, scores)
        assert min(scores, key=lambda a: scores[a]["style_loss"]) == 1.0, (content_name, scores)
        assert scores[0.0]["ssim"] > scores[1.0]["ssim"]


def test_score_bad_inputs_are_one_line_errors(tmp_path, use_shared_weights):
    rng = np.random.default_rng(0)
    for name, (h, w) in (("c.png", (40, 48)), ("s.png", (32, 32)), ("o.png", (40, 40))):
        Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(tmp_path / name)
    one_line_error(invoke("evaluate", "score", "-c", tmp_path / "c.png", "-s", tmp_path / "s.png",
                          "--stylized", tmp_path / "o.png"), "o.png", "40x40", "48x40", "--content-size")
    one_line_error(invoke("evaluate", "score", "-c", tmp_path / "missing.png", "-s", tmp_path / "s.png",
                          "--stylized", tmp_path / "o.png"), "missing.png", "not found")
    one_line_error(invoke("evaluate", "score", "-c", tmp_path / "o.png", "-s", tmp_path / "s.png",
                          "--stylized", tmp_path / "o.png", "--reference", tmp_path / "c.png"), "c.png", "48x40")
    one_line_error(invoke("evaluate", "score", "-c", tmp_path / "o.png", "-s", tmp_path / "s.png",
                          "--stylized", tmp_path / "o.png", "--vgg", tmp_path / "s.png"), "s.png", "checkpoint")


# --------------------------------------------------------------------------- evaluate run


@pytest.fixture
def small_inputs(tmp_path, shared_images):
    """One 64 px content and two 48 px styles, in folders."""
    from stylert.core.images import load_image, save_image

    for kind, name, size in (("content", "sailboat.jpg", 64), ("style", "la_muse.jpg", 48),
                             ("style", "sketch.png", 48)):
        save_image(load_image(shared_images / kind / name, size=size),
                   tmp_path / f"{kind}s" / (name.split(".")[0] + ".png"))
    return tmp_path / "contents", tmp_path / "styles"


@pytest.mark.real_weights
def test_run_writes_the_report_folder(tmp_path, small_inputs, adain_files, use_shared_weights):
    contents, styles = small_inputs
    out = tmp_path / "report"
    files = ",".join(str(f) for f in adain_files)
    result = invoke("evaluate", "run", "-c", contents, "-s", styles, "-o", out, "--alpha", "0,1", "--content-size",
                    0, "--style-size", 0, "--checkpoint", f"same={files}", "--model", "public=adain",
                    "--baseline", "public", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["grid.png", "images", "report.json", "report.md", "tradeoff.png"]
    report = json.loads((out / "report.json").read_text())  # strict JSON: an identical output's PSNR is "inf"
    assert report["baseline"] == "public"
    assert [m["label"] for m in report["models"]] == ["public", "same"]
    assert len(report["results"]) == 1 * 2 * 2 * 2
    assert {(m["model"], m["alpha"]) for m in report["means"]} == {(a, b) for a in ("public", "same") for b in (0, 1)}
    for row in report["results"]:
        assert (out / row["output"]).is_file()
        assert row["metrics"]["psnr"] == (None if row["model"] == "public" else "inf")
    public = {m["alpha"]: m["metrics"] for m in report["means"] if m["model"] == "public"}
    assert public[0]["content_loss"]["relu4_1"] < public[1]["content_loss"]["relu4_1"]
    assert public[1]["style_loss"] < public[0]["style_loss"]
    same = [m for m in report["means"] if m["model"] == "same"]
    assert all(m["ratio_to_baseline"]["style_loss"] == 1.0 for m in same)
    assert all(len(r["sha256"]) == 64 for r in report["inputs"]["contents"] + report["inputs"]["styles"])
    assert report["machine"]["cores"] and report["versions"]["torch"]
    md = (out / "report.md").read_text()
    assert "## public" in md and "## same" in md and "Ratios to public" in md
    for png in ("grid.png", "tradeoff.png"):
        with Image.open(out / png) as img:
            assert img.format == "PNG" and img.width > 300
    # The same folder again is refused (one line) before any work, and nothing is touched.
    before = (out / "report.json").read_text()
    one_line_error(invoke("evaluate", "run", "-c", contents, "-s", styles, "-o", out), "report", "--overwrite")
    assert (out / "report.json").read_text() == before


@pytest.mark.real_weights
def test_interrupted_run_leaves_nothing(tmp_path, small_inputs, adain_model, use_shared_weights):
    from stylert.core.images import collect_images
    from stylert.evaluation.report import Inputs, ModelEntry, run_evaluation
    from stylert.models.stylize import ReferenceStylizer

    class Interrupted(ReferenceStylizer):
        calls = 0

        def stylize(self, *args, **kwargs):
            Interrupted.calls += 1
            if Interrupted.calls == 3:
                raise KeyboardInterrupt
            return super().stylize(*args, **kwargs)

    contents, styles = small_inputs
    inputs = Inputs(collect_images(contents), collect_images(styles), (0.0, 1.0), 0, 0)  # 4 stylizations
    out = tmp_path / "report"
    with pytest.raises(KeyboardInterrupt):
        run_evaluation([ModelEntry("m", Interrupted(adain_model, "cpu"), {"kind": "reference"})], inputs, out,
                       M.MetricEncoder())
    assert Interrupted.calls == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["contents", "styles"]  # no report, no temp folder


def test_run_option_errors_are_one_line(tmp_path):
    img = tmp_path / "a.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(img)
    base = ("evaluate", "run", "-c", img, "-s", img, "-o", tmp_path / "r")
    result = invoke(*base, "--engine", "x=e1", "--engine", "x=e2")
    assert result.exit_code == 2 and "labelled alike" in result.output
    result = invoke(*base, "--model", "adain", "--baseline", "nope")
    assert result.exit_code == 2 and "'nope' is not one of the models" in result.output
    result = invoke(*base, "--engine", "e1", "--engine", "e2", "--engine", "e3", "--backend", "torch",
                    "--backend", "onnxruntime")
    assert result.exit_code == 2 and "2 backends for 3 engines" in result.output
    one_line_error(invoke("evaluate", "run", "-c", tmp_path / "none", "-s", img, "-o", tmp_path / "r"), "none")
    assert not (tmp_path / "r").exists()


def test_grid_pairs_cover_contents_and_styles():
    from stylert.evaluation.report import grid_pairs

    pairs = grid_pairs(3, 4, 4)
    assert len(pairs) == len(set(pairs)) == 4
    assert {c for c, _ in pairs} == {0, 1, 2} and len({s for _, s in pairs}) == 4
    assert len(grid_pairs(2, 2, 10)) == 4  # every pair, once


class _Shift:
    """A stand-in stylizer: the content plus a per-style offset (no model needed)."""

    def __init__(self, offsets: dict):
        self.offsets = offsets

    def stylize(self, content, styles, options, style_keys=None):
        return np.clip(content + self.offsets.get(Path(style_keys[0]).name, 0.0), 0, 1)


def test_paired_run_scores_content_i_with_style_i_and_reports_the_worst_psnr(tmp_path, monkeypatch):
    from stylert.evaluation.report import Inputs, ModelEntry, run_evaluation

    rng = np.random.default_rng(0)
    paths = {}
    for kind in ("c", "s"):
        for i in range(3):
            paths[f"{kind}{i}"] = tmp_path / f"{kind}{i}.png"
            Image.fromarray(rng.integers(0, 200, (24, 24, 3), dtype=np.uint8)).save(paths[f"{kind}{i}"])

    class Encoder:  # features of the image itself at every tap: the losses stay defined and cheap
        path, sha256 = tmp_path / "vgg", "0" * 64

        def features(self, image, taps=M.GRAM_TAPS):
            t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
            return {tap: t for tap in taps}

    inputs = Inputs([paths[f"c{i}"] for i in range(3)], [paths[f"s{i}"] for i in range(3)], (1.0,), 0, 0,
                    paired=True)
    models = [ModelEntry("ref", _Shift({}), {"kind": "reference"}),
              ModelEntry("q", _Shift({"s1.png": 0.1, "s2.png": 0.01}), {"kind": "reference"})]
    report = run_evaluation(models, inputs, tmp_path / "r", Encoder(), save_images=False)
    assert [(r["content"], r["style"]) for r in report["results"] if r["model"] == "q"] == \
        [("c0.png", "s0.png"), ("c1.png", "s1.png"), ("c2.png", "s2.png")]
    q = next(m for m in report["means"] if m["model"] == "q")["metrics"]
    per_pair = [r["metrics"]["psnr"] for r in report["results"] if r["model"] == "q"]
    assert per_pair[0] == math.inf and per_pair[1] < per_pair[2] < 60
    assert q["psnr_min"] == per_pair[1]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "3 content/style pairs (content i with style i)" in md and "PSNR worst pair" in md
    # Unequal lists are refused before anything is written.
    with pytest.raises(Exception, match="as many contents as styles"):
        run_evaluation(models, Inputs(inputs.contents, inputs.styles[:2], (1.0,), 0, 0, paired=True),
                       tmp_path / "r2", Encoder())
    assert not (tmp_path / "r2").exists()
    result = invoke("evaluate", "run", "-c", paths["c0"], "-c", paths["c1"], "-s", paths["s0"], "--paired",
                    "-o", tmp_path / "r3")
    assert result.exit_code == 2 and "--paired needs as many contents as styles" in result.output
