"""Flow-guided temporal blending (``--temporal-blend``) of output frames (``core.temporal.FlowBlend``) and of
the decoder's inputs (``--temporal-blend-space feature``, ``core.temporal.FeatureBlend``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from stylert.core.flow import clip_flows, pair_flow
from stylert.core.temporal import FeatureBlend, FlowBlend, restore_detail
from stylert.errors import MissingDependencyError, ModelError
from stylert.evaluation.warping import warping_error
from stylert.runtime.pipeline import Pipeline
from test_video_temporal import _scene, _style

pytest.importorskip("cv2")


@pytest.fixture(scope="module")
def adain_pipeline(adain_export):
    with Pipeline.open(adain_export, device="cpu") as pipeline:
        yield pipeline


def _flicker(frames: list[np.ndarray], seed: int = 0, amount: float = 0.08) -> list[np.ndarray]:
    """A 'stylization' that flickers: each frame plus its own random noise (float32 0..1)."""
    rng = np.random.default_rng(seed)
    return [np.clip(f.astype(np.float32) / 255 + rng.normal(0, amount, f.shape).astype(np.float32), 0, 1)
            for f in frames]


# -------------------------------------------------------------------- the blend itself (no model)
def test_blending_lowers_the_warping_error_of_a_flickering_pan():
    frames = _scene(50, 64, 96, 10, shift=2)
    stylized = _flicker(frames)
    flows = clip_flows(frames)
    plain = warping_error(frames, [(s * 255 + 0.5).astype(np.uint8) for s in stylized], flows=flows)
    blender = FlowBlend(0.7)
    blended = [blender.update(f, s) for f, s in zip(frames, stylized)]
    steady = warping_error(frames, [(b * 255 + 0.5).astype(np.uint8) for b in blended], flows=flows)
    assert blender.cuts == [0]  # one shot
    assert steady.warping_error < 0.7 * plain.warping_error, (plain, steady)
    # the same result with the flows computed here or given
    again = FlowBlend(0.7)
    given = [again.update(f, s, flow=flows[i - 1] if i else None) for i, (f, s) in enumerate(zip(frames, stylized))]
    assert all(np.array_equal(a, b) for a, b in zip(blended, given))


def test_the_restoration_benchmark_measures_what_flowblend_computes():
    """benchmarks/blend_restoration's "three bands" variant is FlowBlend frame for frame, and its
    variants differ from it (what the benchmark compares is really compared)."""
    from stylert.benchmarks.blend_restoration import blend_variant
    from stylert.core.images import to_uint8

    frames = _scene(51, 64, 96, 6, shift=2)
    stylized = _flicker(frames, seed=1)
    flows = clip_flows(frames)
    blender = FlowBlend(0.3)
    library = [to_uint8(blender.update(f, s, flow=flows[i - 1] if i else None))
               for i, (f, s) in enumerate(zip(frames, stylized))]
    measured = blend_variant(frames, stylized, flows, 0.3, "default")
    assert all(np.array_equal(a, b) for a, b in zip(library, measured))
    for variant in (None, (1.5,), "lowpass"):
        other = blend_variant(frames, stylized, flows, 0.3, variant)
        assert np.array_equal(other[0], library[0])  # a shot's first frame is never blended
        assert not all(np.array_equal(a, b) for a, b in zip(library[1:], other[1:])), variant


def test_a_still_video_is_unchanged_by_any_weight():
    frame = _scene(51)[0]
    stylized = _flicker([frame])[0]
    for weight in (0.3, 0.95):
        blender = FlowBlend(weight)
        assert all(np.array_equal(blender.update(frame, stylized), stylized) for _ in range(5))
        assert blender.cuts == [0]


def test_a_cut_or_a_lighting_change_is_not_blended_in():
    shot_a, shot_b = _scene(52, frames=4), [(f * 0.25).astype(np.uint8) for f in _scene(53, frames=4)]
    stylized = _flicker(shot_a + shot_b, seed=1)
    blender = FlowBlend(0.9)
    out = [blender.update(f, s) for f, s in zip(shot_a + shot_b, stylized)]
    assert blender.cuts == [0, 4], blender.reliable
    assert np.array_equal(out[4], stylized[4])  # the first frame of the new shot is its own
    assert np.abs(out[5] - stylized[5]).max() > 1e-3  # and blending goes on within the shot
    told = FlowBlend(0.9)  # a cut the caller found (the statistics detector) resets too
    first = [told.update(f, s) for f, s in zip(shot_a[:2], stylized[:2])]
    assert np.array_equal(told.update(shot_a[2], stylized[2], cut=True), stylized[2]) and told.cuts == [0, 2]
    assert not np.array_equal(first[1], stylized[1])
    # weights: 0 where the warped previous input does not match the current one (no ghost)
    w = told.weights(shot_b[0], shot_a[0], pair_flow(shot_a[0], shot_b[0]))
    assert w.dtype == np.float32 and w.shape == shot_a[0].shape[:2] and float((w > 0).mean()) < 0.3


def test_detail_restoration_brings_back_the_contrast_of_coarse_strokes_too():
    """A blend that halved the contrast of strokes a few pixels wide (a texture blurred at sigma 3):
    the three bands restore most of it; the finest band alone (the earlier restoration) cannot."""
    import cv2

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(rng.random((96, 128, 3), dtype=np.float32), (0, 0), 3.0)
    stylized = np.clip(0.5 + 4 * (texture - texture.mean()), 0, 1).astype(np.float32)
    blended = (0.5 * stylized + 0.25).astype(np.float32)  # half the contrast, the same mean
    where = np.ones(stylized.shape[:2], bool)
    inner = (slice(16, -16), slice(16, -16))

    def contrast(x):
        return float(x[inner].std())

    bands = restore_detail(blended, stylized, where)
    finest = restore_detail(blended, stylized, where, sigmas=(1.5,))
    print(f"contrast of the stylized frame {contrast(stylized):.4f}, blended {contrast(blended):.4f}, "
          f"restored with three bands {contrast(bands):.4f}, with the finest band only {contrast(finest):.4f}")
    assert contrast(bands) > 0.85 * contrast(stylized)
    assert contrast(finest) < 0.7 * contrast(stylized)
    assert np.array_equal(restore_detail(stylized, stylized, where), stylized)  # nothing blended: unchanged
    assert np.array_equal(restore_detail(blended, stylized, ~where), blended)  # outside ``where``: unchanged


@pytest.mark.parametrize("bad", [-0.1, 0.96, float("nan"), "x"])
def test_weight_out_of_range_is_refused(bad):
    with pytest.raises(ModelError, match="temporal blend"):
        FlowBlend(bad)


def test_missing_opencv_is_one_line_with_the_install_command(monkeypatch):
    from stylert.core.flow import cv2_module

    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingDependencyError, match="opencv-python-headless") as err:
        cv2_module()
    assert "pip install opencv-python-headless" in err.value.fix


# -------------------------------------------------------------------- on the runtime and the reference
def test_blend_zero_gives_the_current_frames_exactly(adain_pipeline):
    pipeline = adain_pipeline
    frames = _scene(60) + _scene(61)
    code = pipeline.encode_style(_style())
    current = np.concatenate([pipeline.stylize(np.stack(frames[i:i + 4]).astype(np.float32) / 255, [code])
                              for i in range(0, len(frames), 4)])
    floats = [f.astype(np.float32) / 255 for f in frames]
    off = np.stack(list(pipeline.stream(iter(floats), [code], temporal_blend=0, batch_size=4)))
    assert np.array_equal(off, current)
    on = np.stack(list(pipeline.stream(iter(floats), [code], temporal_blend=0.8, batch_size=4)))
    assert np.abs(on - current).max() > 1e-3  # blending does change a moving shot


def test_a_still_video_is_unchanged_on_the_runtime(adain_pipeline):
    pipeline = adain_pipeline
    still = [_scene(62)[0]] * 6
    code = pipeline.encode_style(_style())
    plain = list(pipeline.stream(still, [code], batch_size=3))
    for weight in (0.5, 0.95):
        blended = list(pipeline.stream(still, [code], temporal_blend=weight, batch_size=3))
        assert len(blended) == 6 and all(np.array_equal(a, b) for a, b in zip(plain, blended))


def test_a_cut_resets_the_blend_on_the_runtime(adain_pipeline):
    pipeline = adain_pipeline
    shot_a = _scene(63)
    shot_b = [(f * 0.25).astype(np.uint8) for f in _scene(64)]
    code = pipeline.encode_style(_style())
    frames = shot_a + shot_b
    plain = list(pipeline.stream(frames, [code], batch_size=4))
    blended = list(pipeline.stream(frames, [code], temporal_blend=0.9, batch_size=4))
    cut = len(shot_a)
    assert np.array_equal(blended[cut], plain[cut])  # the first frame after the cut: unblended
    assert np.abs(blended[cut - 1].astype(int) - plain[cut - 1]).max() > 2  # blended before it
    assert np.abs(blended[cut + 2].astype(int) - plain[cut + 2]).max() > 2  # and after it


def test_reference_and_runtime_agree_with_blending(adain_model, adain_pipeline):
    from stylert.core.images import to_uint8
    from stylert.core.stylize import StylizeOptions
    from stylert.models.stylize import ReferenceStylizer

    frames = _scene(65, frames=5, shift=2)
    style = _style()
    reference = ReferenceStylizer(adain_model, "cpu")
    blender = FlowBlend(0.8)  # as the command's reference path runs it, frame by frame
    ref = [blender.update(f, np.clip(reference.stylize(f.astype(np.float32) / 255, [style], StylizeOptions(),
                                                       style_keys=["s"]), 0, 1)) for f in frames]
    run = list(adain_pipeline.stream([f.astype(np.float32) / 255 for f in frames], [style], temporal_blend=0.8,
                                     batch_size=2))
    assert blender.cuts == [0]
    for a, b in zip(ref, run):
        assert psnr(a, b) > 60
    plain = adain_pipeline.stylize(frames[-1].astype(np.float32) / 255, [adain_pipeline.encode_style(style)])
    assert psnr(run[-1], plain) < 45  # the agreement is of blended frames
    assert to_uint8(run[-1]).shape == frames[-1].shape


# -------------------------------------------------------------------- video files and the command
def _write_lossless(av, path, frames) -> None:
    """frames (uint8 [H, W, 3], one size) -> a lossless H.264 file at 15 frames/s (crf 0)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), mode="w") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": "0"}
        for f in frames:
            for p in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def test_transform_video_blends_across_batches(tmp_path):
    av = pytest.importorskip("av")
    from stylert.runtime.video import read_frames, transform_video

    frames = _scene(66, 64, 96, 9, shift=2)
    src = tmp_path / "pan.mp4"
    _write_lossless(av, src, frames)
    decoded = [f for b in read_frames(src) for f in b]
    rng = np.random.default_rng(3)

    def flicker(batch):
        noise = rng.normal(0, 20, batch.shape)
        return np.clip(batch + noise, 0, 255).astype(np.uint8)

    results = {}
    for weight in (0.0, 0.7):
        rng = np.random.default_rng(3)
        dst = tmp_path / f"out{weight}.mp4"
        assert transform_video(src, dst, flicker, batch_size=4, temporal_blend=weight) == 9
        outs = [f for b in read_frames(dst) for f in b]
        results[weight] = warping_error(decoded, outs).warping_error
    assert results[0.7] < 0.7 * results[0.0], results
    with pytest.raises(ModelError, match="temporal blend"):
        transform_video(src, tmp_path / "bad.mp4", flicker, temporal_blend=1.5)
    assert not (tmp_path / "bad.mp4").exists()


def test_cli_blend_option(tmp_path, exports):
    from PIL import Image
    from stylert.cli import main
    from test_video import make_video

    _, out = exports("sanet")  # an attention family: blending works on output frames, so it applies
    src = make_video(tmp_path / "clip.mp4", frames=4, audio=False)
    style = tmp_path / "s.png"
    Image.fromarray((_style() * 255).astype(np.uint8)).save(style)
    args = ["stylize", "-c", str(src), "-s", str(style), "-o", str(tmp_path / "o.mp4"), "--engine", str(out)]
    bad = CliRunner().invoke(main, [*args, "--temporal-blend", "1.5"])
    assert bad.exit_code != 0 and "temporal blend must be in [0, 0.95]" in bad.output
    assert "Traceback" not in bad.output and not (tmp_path / "o.mp4").exists()
    ok = CliRunner().invoke(main, [*args, "--temporal-blend", "0.7", "--batch-size", "2"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "o.mp4").exists() and "does nothing" not in ok.output


# -------------------------------------------------------------------- feature space: the blend itself (no model)
def _features(frames: list[np.ndarray], scale: int = 4, channels: int = 130, noise: float = 0.0, seed: int = 0):
    """Decoder-input-like arrays [C, H/scale, W/scale] of each frame: its grey levels area-averaged, in
    ``channels`` channels (more than one ``cv2.remap`` call takes), plus per-frame noise."""
    rng = np.random.default_rng(seed)
    out = []
    for f in frames:
        h, w = f.shape[0] // scale, f.shape[1] // scale
        grey = f.astype(np.float32).mean(axis=2)[:h * scale, :w * scale].reshape(h, scale, w, scale).mean(axis=(1, 3))
        feats = np.repeat(grey[None] / 255, channels, axis=0)
        out.append({"relu4_1": feats + rng.normal(0, noise, feats.shape).astype(np.float32)})
    return out


def test_feature_blending_follows_the_motion_at_the_features_resolution():
    frames = _scene(70, 64, 96, 10, shift=4)  # 1 feature pixel per frame at scale 4
    clean, noisy = _features(frames), _features(frames, noise=0.1, seed=1)
    blender = FeatureBlend(0.7)
    blended = [blender.update(f, x) for f, x in zip(frames, noisy)]
    assert blender.cuts == [0]
    assert all(b["relu4_1"].shape == (130, 16, 24) and b["relu4_1"].dtype == np.float32 for b in blended)

    def error(outs):  # away from the right edge, where the pan brings new content in
        return np.mean([np.abs(o["relu4_1"] - c["relu4_1"])[:, :, :18].mean() for o, c in zip(outs[3:], clean[3:])])

    # averaging along the motion removes noise; a wrong direction or scale would smear the waves instead
    assert error(blended) < 0.6 * error(noisy), (error(blended), error(noisy))
    wrong = FeatureBlend(0.7)
    mirrored = [wrong.update(f[:, ::-1].copy(), x) for f, x in zip(frames, noisy)]
    assert error(blended) < 0.8 * error(mirrored)


def test_feature_blending_of_a_still_video_and_at_weight_zero_changes_nothing():
    frame = _scene(71)[0]
    feats = _features([frame], noise=0.1)[0]
    for weight in (0.0, 0.5, 0.95):
        blender = FeatureBlend(weight)
        outs = [blender.update(frame, feats, padded=(56, 64)) for _ in range(4)]
        assert all(np.array_equal(o["relu4_1"], feats["relu4_1"]) for o in outs) and blender.cuts == [0]
    moving = _scene(72, frames=4, shift=2)
    off = FeatureBlend(0.0)
    assert all(np.array_equal(off.update(f, x)["relu4_1"], x["relu4_1"])
               for f, x in zip(moving, _features(moving, noise=0.1)))


def test_feature_blending_restarts_at_a_cut_and_at_a_size_change():
    shot_a, shot_b = _scene(73, frames=4), [(f * 0.25).astype(np.uint8) for f in _scene(74, frames=4)]
    frames = shot_a + shot_b
    feats = _features(frames, noise=0.1)
    blender = FeatureBlend(0.9)
    out = [blender.update(f, x) for f, x in zip(frames, feats)]
    assert blender.cuts == [0, 4]
    assert np.array_equal(out[4]["relu4_1"], feats[4]["relu4_1"])  # the new shot's first frame is its own
    assert np.abs(out[5]["relu4_1"] - feats[5]["relu4_1"]).max() > 1e-3  # blending goes on within it
    told = blender.update(frames[7], feats[7], cut=True)  # a cut the caller found
    assert np.array_equal(told["relu4_1"], feats[7]["relu4_1"]) and blender.cuts[-1] == 8
    small = _features(frames[:1], scale=8)[0]  # another feature size: a new shot, no error
    assert np.array_equal(blender.update(frames[7], small)["relu4_1"], small["relu4_1"]) and blender.cuts[-1] == 9
    # a batch: the caller's cut index restarts it
    batch = FeatureBlend(0.9)
    stacked = batch.update_batch(np.stack(shot_a), {"relu4_1": np.stack([x["relu4_1"] for x in feats[:4]])}, cuts={2})
    assert batch.cuts == [0, 2] and np.array_equal(stacked["relu4_1"][2], feats[2]["relu4_1"])
    with pytest.raises(ValueError, match="padded size"):
        FeatureBlend(0.5).update(frames[0], feats[0], padded=(8, 8))


def test_blend_space_is_checked():
    from stylert.core.temporal import make_blender

    assert make_blender(0.0, "feature") is None
    assert isinstance(make_blender(0.5, "feature"), FeatureBlend)
    assert isinstance(make_blender(0.5, "image"), FlowBlend)
    with pytest.raises(ModelError, match="temporal blend space"):
        make_blender(0.5, "pixels")


# -------------------------------------------------------------------- feature space on the runtime and the reference
def test_feature_blending_on_the_runtime(adain_pipeline):
    pipeline = adain_pipeline
    code = pipeline.encode_style(_style())
    still = [_scene(75)[0]] * 5
    plain = list(pipeline.stream(still, [code], batch_size=2))
    assert all(np.array_equal(a, b) for a, b in
               zip(plain, pipeline.stream(still, [code], temporal_blend=0.9, temporal_blend_space="feature",
                                          batch_size=2)))
    shot_a, shot_b = _scene(76, shift=2), [(f * 0.25).astype(np.uint8) for f in _scene(77, shift=2)]
    frames = shot_a + shot_b
    plain = list(pipeline.stream(frames, [code], batch_size=4))
    assert all(np.array_equal(a, b) for a, b in
               zip(plain, pipeline.stream(frames, [code], temporal_blend=0, temporal_blend_space="feature",
                                          batch_size=4)))
    blended = list(pipeline.stream(frames, [code], temporal_blend=0.9, temporal_blend_space="feature", batch_size=4))
    image = list(pipeline.stream(frames, [code], temporal_blend=0.9, batch_size=4))
    cut = len(shot_a)
    assert np.array_equal(blended[0], plain[0]) and np.array_equal(blended[cut], plain[cut])  # shot starts
    for i in (cut - 1, cut + 2):
        assert np.abs(blended[i].astype(int) - plain[i]).max() > 2  # blended within the shots
        assert np.abs(blended[i].astype(int) - image[i]).max() > 2  # and not as the image space does


def test_reference_and_runtime_agree_with_feature_blending(adain_model, adain_pipeline):
    from stylert.core.stylize import StylizeOptions
    from stylert.models.stylize import ReferenceStylizer

    frames = _scene(78, frames=5, shift=2)
    style = _style()
    reference = ReferenceStylizer(adain_model, "cpu")
    blender = FeatureBlend(0.8)  # as the command's reference path runs it, frame by frame

    def hook_for(frame):
        return lambda inputs, padded: blender.update_batch([frame], inputs, padded)

    ref = [np.clip(reference.stylize(f.astype(np.float32) / 255, [style], StylizeOptions(), style_keys=["s"],
                                     decoder_hook=hook_for(f)), 0, 1) for f in frames]
    run = list(adain_pipeline.stream([f.astype(np.float32) / 255 for f in frames], [style], temporal_blend=0.8,
                                     temporal_blend_space="feature", batch_size=2))
    assert blender.cuts == [0]
    for a, b in zip(ref, run):
        assert psnr(a, b) > 60
    plain = adain_pipeline.stylize(frames[-1].astype(np.float32) / 255, [adain_pipeline.encode_style(style)])
    assert psnr(run[-1], plain) < 45  # the agreement is of blended frames


def test_feature_blending_of_every_decoder_input(exports):
    """adain-multilevel decodes three levels (1/2, 1/4, 1/8), sanet-multilevel two (1/8, 1/16)."""
    for family in ("adain-multilevel", "sanet-multilevel"):
        _, out = exports(family)
        with Pipeline.open(out, device="cpu") as pipeline:
            seen = []

            def record(inputs, padded, seen=seen):
                seen.append((padded, {k: v.shape for k, v in inputs.items()}))
                return inputs

            frames = [f.astype(np.float32) / 255 for f in _scene(79, 40, 56, frames=2, shift=2)]
            pipeline.stylize(np.stack(frames), [pipeline.encode_style(_style())], decoder_hook=record)
            padded, shapes = seen[0]
            assert padded == pipeline.manifest.padded_size(40, 56) and len(shapes) == len(pipeline.route.decoder_inputs)
            code = pipeline.encode_style(_style())
            plain = list(pipeline.stream(frames, [code], batch_size=2))
            blended = list(pipeline.stream(frames, [code], temporal_blend=0.9, temporal_blend_space="feature",
                                           batch_size=1))
            assert np.array_equal(plain[0], blended[0]) and blended[1].shape == plain[1].shape


def test_transform_video_blends_features_across_batches(tmp_path, adain_pipeline):
    av = pytest.importorskip("av")
    from stylert.core.images import to_uint8
    from stylert.runtime.video import read_frames, transform_video

    frames = _scene(80, 48, 64, 6, shift=2)
    src = tmp_path / "pan.mp4"
    _write_lossless(av, src, frames)
    code = adain_pipeline.encode_style(_style())
    hooks = []

    def fn(batch, decoder_hook=None):
        hooks.append(decoder_hook)
        return np.stack([to_uint8(x) for x in adain_pipeline.stylize(batch.astype(np.float32) / 255, [code],
                                                                      decoder_hook=decoder_hook)])

    outs = {}
    for weight in (0.0, 0.9):
        dst = tmp_path / f"out{weight}.mp4"
        assert transform_video(src, dst, fn, batch_size=4, temporal_blend=weight, temporal_blend_space="feature") == 6
        outs[weight] = np.stack([f for b in read_frames(dst) for f in b]).astype(int)
    assert hooks[:2] == [None, None] and all(h is not None for h in hooks[2:])
    assert np.abs(outs[0.9][0] - outs[0.0][0]).max() <= 2  # the first frame: unblended (up to the codec)
    assert np.abs(outs[0.9][5] - outs[0.0][5]).max() > 10  # across the batch boundary: blended
    with pytest.raises(ModelError, match="temporal blend space"):
        transform_video(src, tmp_path / "bad.mp4", fn, temporal_blend=0.5, temporal_blend_space="pixels")
    assert not (tmp_path / "bad.mp4").exists()


def test_cli_blend_space_option(tmp_path, exports):
    from PIL import Image
    from stylert.cli import main
    from test_video import make_video

    _, out = exports("sanet-multilevel")  # two decoder inputs at two resolutions
    src = make_video(tmp_path / "clip.mp4", frames=4, audio=False)
    style = tmp_path / "s.png"
    Image.fromarray((_style() * 255).astype(np.uint8)).save(style)
    args = ["stylize", "-c", str(src), "-s", str(style), "-o", str(tmp_path / "o.mp4"), "--engine", str(out)]
    bad = CliRunner().invoke(main, [*args, "--temporal-blend-space", "pixels"])
    assert bad.exit_code != 0 and "Traceback" not in bad.output and not (tmp_path / "o.mp4").exists()
    ok = CliRunner().invoke(main, [*args, "--temporal-blend", "0.7", "--temporal-blend-space", "feature",
                                   "--batch-size", "2"])
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "o.mp4").exists()
    # colour preservation runs frame by frame through the stylize contract (the reference's path)
    framewise = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "c.mp4"), "--temporal-blend", "0.7",
                                          "--temporal-blend-space", "feature", "--preserve-color"])
    assert framewise.exit_code == 0, framewise.output
    assert (tmp_path / "c.mp4").exists()
