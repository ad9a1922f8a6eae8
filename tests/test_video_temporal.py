"""Temporal smoothing of the AdaIN content statistics and the streaming pipeline."""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import psnr
from stylert.core.stylize import StylizeOptions
from stylert.core.temporal import StatisticsEMA, statistics_change
from stylert.errors import ModelError
from stylert.runtime.pipeline import Pipeline, fold_content_statistics
from stylert.runtime.stream import Progress


def _scene(seed: int, h: int = 48, w: int = 64, frames: int = 6, shift: int = 1) -> list[np.ndarray]:
    """uint8 frames of one shot: smooth random waves panning right by ``shift`` px per frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    out = []
    for i in range(frames):
        x = xx + shift * i
        img = np.stack([0.5 + 0.2 * np.sin(x / rng.uniform(4, 9) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(4, 9))
                        + 0.15 * np.sin((x + yy) / rng.uniform(2, 5)) for _ in range(3)], -1)
        rng = np.random.default_rng(seed)  # the same waves in every frame, shifted
        out.append((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return out


def _style(seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).random((40, 40, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def adain_pipeline(adain_model, adain_export):
    """The public AdaIN weights (synthetic weights decode to images that clamp flat)."""
    with Pipeline.open(adain_export, device="cpu") as pipeline:
        yield adain_model, pipeline


# -------------------------------------------------------------------- the moving average itself
def _stats(mean: float, std: float, n: int = 1, c: int = 4) -> dict:
    return {"relu4_1": (np.full((n, c, 1, 1), mean, np.float32), np.full((n, c, 1, 1), std, np.float32))}


def test_moving_average_steps_and_resets_at_a_cut():
    ema = StatisticsEMA(0.75)
    first = ema.update(_stats(1.0, 2.0))
    assert np.array_equal(first["relu4_1"][0], _stats(1.0, 2.0)["relu4_1"][0])  # starts at the first frame
    out = ema.update({"relu4_1": (np.full((2, 4, 1, 1), 1.1, np.float32), np.full((2, 4, 1, 1), 2.1, np.float32))})
    # 1 + 0.25 * 0.1 = 1.025, then 1.025 + 0.25 * 0.075
    np.testing.assert_allclose(out["relu4_1"][0][:, 0, 0, 0], [1.025, 1.04375], rtol=1e-6)
    cut = ema.update(_stats(5.0, 0.5))  # far away: a new shot, its own statistics, no trace of the last
    assert ema.cuts == [0, 3] and ema.frames == 4
    assert np.array_equal(cut["relu4_1"][0], _stats(5.0, 0.5)["relu4_1"][0])
    assert ema.changes[0] == pytest.approx(statistics_change(
        {"relu4_1": (np.ones(4), np.full(4, 2.0))}, {"relu4_1": (np.full(4, 1.1), np.full(4, 2.1))}))


def test_still_statistics_stay_bit_for_bit():
    ema = StatisticsEMA(0.9)
    values = np.random.default_rng(0).random((5, 8, 1, 1)).astype(np.float32)
    still = {"relu4_1": (np.repeat(values[:1], 5, 0), np.repeat(values[:1] + 1, 5, 0))}
    out = ema.update(still)
    assert np.array_equal(out["relu4_1"][0], still["relu4_1"][0]) and np.array_equal(out["relu4_1"][1], still["relu4_1"][1])


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), "x"])
def test_strength_out_of_range_is_refused(bad):
    with pytest.raises(ModelError, match="temporal smoothing"):
        StatisticsEMA(bad)


def test_fold_is_affine_identity():
    rng = np.random.default_rng(1)
    c = rng.random((2, 4, 5, 6)).astype(np.float64) * 3
    mu, sigma = c.mean((2, 3), keepdims=True), c.std((2, 3), ddof=1, keepdims=True)
    m, s = mu + 0.3, sigma * 1.4
    code = {"t_mean": rng.random((1, 4, 1, 1)), "t_std": rng.random((1, 4, 1, 1)) + 0.5}
    folded = fold_content_statistics(code, {"t": ("t_mean", "t_std")}, {"t": (mu, sigma)}, {"t": (m, s)})
    graph = (c - mu) / sigma * folded["t_std"] + folded["t_mean"]  # what the transform computes
    wanted = (c - m) / s * code["t_std"] + code["t_mean"]  # AdaIN with the smoothed statistics
    np.testing.assert_allclose(graph, wanted, rtol=1e-5, atol=1e-5)
    same = fold_content_statistics(code, {"t": ("t_mean", "t_std")}, {"t": (mu, sigma)}, {"t": (mu, sigma)})
    assert all(np.array_equal(same[k], np.broadcast_to(code[k].astype(np.float32), same[k].shape)) for k in code)


# -------------------------------------------------------------------- on the runtime and the reference
def test_smoothing_zero_gives_the_current_frames_exactly(adain_pipeline):
    _, pipeline = adain_pipeline
    frames = _scene(0) + _scene(1)
    code = pipeline.encode_style(_style())
    current = np.concatenate([pipeline.stylize(np.stack(frames[i:i + 4]).astype(np.float32) / 255, [code])
                              for i in range(0, len(frames), 4)])
    streamed = np.stack(list(pipeline.stream(iter([f.astype(np.float32) / 255 for f in frames]), [code],
                                             temporal_smoothing=0, batch_size=4)))
    assert np.array_equal(streamed, current)
    smoothed = np.stack(list(pipeline.stream(iter([f.astype(np.float32) / 255 for f in frames]), [code],
                                             temporal_smoothing=0.9, batch_size=4)))
    assert np.abs(smoothed - current).max() > 1e-3  # smoothing does change a moving shot


def test_a_still_video_is_unchanged_by_any_smoothing(adain_pipeline):
    _, pipeline = adain_pipeline
    still = [_scene(3)[0]] * 7
    code = pipeline.encode_style(_style())
    plain = list(pipeline.stream(still, [code], temporal_smoothing=0, batch_size=3))
    for strength in (0.5, 0.99):
        smoothed = list(pipeline.stream(still, [code], temporal_smoothing=strength, batch_size=3))
        assert all(np.array_equal(a, b) for a, b in zip(plain, smoothed)) and len(smoothed) == 7


def test_a_cut_resets_the_statistics(adain_pipeline):
    _, pipeline = adain_pipeline
    shot_a = _scene(10)
    shot_b = [(f * 0.25).astype(np.uint8) for f in _scene(11)]  # another shot: dark and flat
    code = pipeline.encode_style(_style())
    state = StatisticsEMA(0.9)
    x = np.stack(shot_a + shot_b).astype(np.float32) / 255
    smoothed = pipeline.stylize(x, [code], temporal=state)
    plain = pipeline.stylize(x, [code])
    assert state.cuts == [0, len(shot_a)], state.changes
    cut = len(shot_a)
    assert np.array_equal(smoothed[cut], plain[cut])  # the first frame of the new shot: its own statistics
    assert np.abs(smoothed[cut + 2] - plain[cut + 2]).max() > 1e-4  # and smoothing goes on within the shot


def test_reference_and_runtime_agree_with_smoothing(adain_model, adain_export):
    from stylert.models.stylize import ReferenceStylizer
    from stylert.runtime.stylizer import RuntimeStylizer

    model, out = adain_model, adain_export
    frames = [f.astype(np.float32) / 255 for f in _scene(20) + _scene(21)]
    style = _style()
    options = StylizeOptions(alpha=0.8, temporal_smoothing=0.8)
    reference = ReferenceStylizer(model, "cpu")
    with Pipeline.open(out, device="cpu") as pipeline:
        runtime = RuntimeStylizer(pipeline)
        states = reference.temporal_state(options), runtime.temporal_state(options)
        for frame in frames:
            ref = np.clip(reference.stylize(frame, [style], options, style_keys=["s"], temporal=states[0]), 0, 1)
            run = runtime.stylize(frame, [style], options, style_keys=["s"], temporal=states[1])
            plain = runtime.stylize(frame, [style], StylizeOptions(alpha=0.8), style_keys=["s"])
            assert psnr(run, ref) > 80
        assert states[0].cuts == states[1].cuts
        assert psnr(run, plain) < 80  # the last frame is smoothed: the agreement is not the unsmoothed one's


def test_attention_families_are_a_documented_no_op(exports):
    _, out = exports("sanet")
    frames = _scene(30, 32, 48, 4)
    with Pipeline.open(out, device="cpu") as pipeline:
        assert not pipeline.smooths_statistics and pipeline.route.content_statistics == {}
        code = pipeline.encode_style(_style())
        a = list(pipeline.stream(frames, [code], temporal_smoothing=0.9, batch_size=2))
        b = list(pipeline.stream(frames, [code], temporal_smoothing=0, batch_size=2))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# -------------------------------------------------------------------- streaming
def test_stream_memory_stays_flat_over_a_long_clip(adain_pipeline):
    _, pipeline = adain_pipeline
    code = pipeline.encode_style(_style())
    frame = _scene(40)[0]
    batch, depth = 4, 2
    pulled = [0]
    ahead = []

    def camera(n):
        for i in range(n):
            pulled[0] += 1
            yield np.roll(frame, i, axis=1)

    def peak(n):
        tracemalloc.start()
        try:
            for done, _ in enumerate(pipeline.stream(camera(n), [code], temporal_smoothing=0.8,
                                                     batch_size=batch, prefetch=depth), 1):
                ahead.append(pulled[0] - done)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    pulled[0] = 0
    short = peak(24)
    pulled[0] = 0
    long = peak(480)
    assert long < 1.3 * short + 256 * 1024, (short, long)
    # never more than the queue, the batch being filled and the batch being stylized ahead of the consumer
    assert max(ahead) <= (depth + 2) * batch


def test_interrupt_leaves_no_partial_file_and_no_thread(tmp_path, adain_pipeline):
    av = pytest.importorskip("av")
    from stylert.runtime.video import stream_video
    from test_video import make_video

    _, pipeline = adain_pipeline
    src = make_video(tmp_path / "clip.mp4", width=48, height=32, frames=20)
    dst = tmp_path / "out.mp4"
    code = pipeline.encode_style(_style())
    before = set(threading.enumerate())

    def process(frames):
        for i, f in enumerate(pipeline.stream(frames, [code], temporal_smoothing=0.8, batch_size=3)):
            if i == 7:
                raise KeyboardInterrupt
            yield f

    with pytest.raises(KeyboardInterrupt):
        stream_video(src, dst, process)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]
    assert set(threading.enumerate()) <= before
    n = stream_video(src, dst, lambda frames: pipeline.stream(frames, [code], batch_size=3))
    assert n == 20 and av.open(str(dst)).streams.video[0].frames == 20


def test_progress_reports_rate_and_eta():
    now = [0.0]
    meter = Progress(40, clock=lambda: now[0])
    now[0] = 5.0
    assert meter.update(10) == "frame 10/40, 2.00 frames/s, ETA 0:15"
    assert Progress(0, clock=lambda: 1.0).update(3).startswith("frame 3, ")


def test_cli_refuses_a_bad_strength_in_one_line(tmp_path, exports):
    from stylert.cli import main
    from test_video import make_video

    _, out = exports("adain")
    src = make_video(tmp_path / "clip.mp4", frames=3, audio=False)
    style = tmp_path / "s.png"
    from PIL import Image

    Image.fromarray((_style() * 255).astype(np.uint8)).save(style)
    result = CliRunner().invoke(main, ["stylize", "-c", str(src), "-s", str(style), "-o", str(tmp_path / "o.mp4"),
                                       "--engine", str(out), "--temporal-smoothing", "1.5"])
    assert result.exit_code != 0 and "temporal smoothing must be in [0, 0.99]" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o.mp4").exists()
    ok = CliRunner().invoke(main, ["stylize", "-c", str(src), "-s", str(style), "-o", str(tmp_path / "o.mp4"),
                                   "--engine", str(out), "--temporal-smoothing", "0.6", "--batch-size", "2"])
    assert ok.exit_code == 0, ok.output
    assert "frames/s" in ok.output and "ETA" in ok.output and (tmp_path / "o.mp4").exists()
