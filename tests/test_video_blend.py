"""Flow-guided temporal blending of output frames (``--temporal-blend``, ``core.temporal.FlowBlend``)."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from stylert.core.flow import clip_flows, pair_flow
from stylert.core.temporal import FlowBlend
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
def test_transform_video_blends_across_batches(tmp_path):
    av = pytest.importorskip("av")
    from stylert.runtime.video import read_frames, transform_video

    frames = _scene(66, 64, 96, 9, shift=2)
    src = tmp_path / "pan.mp4"
    with av.open(str(src), mode="w") as out:
        stream = out.add_stream("libx264", rate=15)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "0"}
        for f in frames:
            for p in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
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
