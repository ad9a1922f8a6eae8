"""Video: frames in batches, the source's frame rate and audio kept, nothing half-written."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from click.testing import CliRunner

av = pytest.importorskip("av")

from stylert.cli import main  # noqa: E402
from stylert.errors import ImageError  # noqa: E402
from stylert.runtime.video import probe, read_frames, transform_video  # noqa: E402


def make_video(path, width=48, height=32, frames=12, fps=15, audio=True, rotation=0):
    """A small clip: a moving gradient, and a 440 Hz tone when ``audio``; ``rotation``: a display
    rotation (degrees counter-clockwise), as phones record portrait videos."""
    with av.open(str(path), mode="w") as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height = width, height
        video.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        if rotation:
            video.set_display_rotation(rotation)
        if audio:
            sound = out.add_stream("aac", rate=16000)
            sound.layout = "mono"
        xx = np.linspace(0, 255, width)[None, :, None]
        for i in range(frames):
            img = np.broadcast_to((xx + 20 * i) % 256, (height, width, 3)).astype(np.uint8).copy()
            img[..., 1] = 128
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio:
            t = np.arange(16000 * frames // fps) / 16000
            samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate = 16000
            for packet in sound.encode(frame):
                out.mux(packet)
            for packet in sound.encode():
                out.mux(packet)
    return path


def test_transform_keeps_rate_frames_size_and_audio(tmp_path):
    src = make_video(tmp_path / "clip.mp4")
    dst = tmp_path / "out.mp4"
    seen = []

    def invert(batch):
        seen.append(len(batch))
        return 255 - batch

    n = transform_video(src, dst, invert, batch_size=5)
    assert n == 12 and seen == [5, 5, 2]
    info = probe(dst)
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (48, 32, Fraction(15), 12, True)
    original = np.concatenate(list(read_frames(src)))
    result = np.concatenate(list(read_frames(dst)))
    assert np.abs((255 - original.astype(int)) - result.astype(int)).mean() < 4  # lossy codec
    assert [p.name for p in tmp_path.iterdir()] != [] and not list(tmp_path.glob(".*tmp"))


def test_odd_size_without_audio(tmp_path):
    """yuv420p needs even sizes: an odd one is padded by one pixel (the last column/row repeated), said once."""
    src = make_video(tmp_path / "odd.mp4", width=33, height=25, audio=False)
    dst = tmp_path / "odd_out.mkv"
    said = []
    transform_video(src, dst, lambda b: b, notice=said.append)
    info = probe(dst)
    assert (info.width, info.height, info.has_audio) == (34, 26, False)
    assert len(said) == 1 and "33x25" in said[0] and "34x26" in said[0]
    original, result = next(read_frames(src)), next(read_frames(dst))
    assert np.abs(result[:, :25, :33].astype(int) - original).mean() < 6  # lossy, chroma at half resolution


def test_failure_midway_leaves_nothing(tmp_path):
    src = make_video(tmp_path / "clip.mp4")
    dst = tmp_path / "out.mp4"
    calls = []

    def boom(batch):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("stop")
        return batch

    with pytest.raises(RuntimeError):
        transform_video(src, dst, boom, batch_size=4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_unreadable_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 1000)
    with pytest.raises(ImageError, match="bad.mp4"):
        probe(bad)
    result = CliRunner().invoke(main, ["stylize", "-c", str(bad), "-s", str(bad), "-o", str(tmp_path / "o")])
    assert result.exit_code != 0 and "bad.mp4" in result.output and "Traceback" not in result.output


def test_stylize_video_cli(tmp_path, use_shared_weights, shared_images):
    src = make_video(tmp_path / "clip.mp4", width=64, height=48, frames=6)
    out = tmp_path / "styled.mp4"
    result = CliRunner().invoke(main, ["stylize", "-c", str(src), "-s", str(shared_images / "style" / "sketch.png"),
                                       "-o", str(out), "--style-size", "64", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (64, 48, Fraction(15), 6, True)
    refused = CliRunner().invoke(main, ["stylize", "-c", str(src), "-s", str(src), "-o", str(tmp_path / "x.png")])
    assert refused.exit_code != 0 and "must be too" in refused.output


def test_stylize_video_on_the_runtime_in_batches(tmp_path, exports):
    _, out_dir = exports("adain")
    src = make_video(tmp_path / "clip.mp4", width=48, height=32, frames=7)
    style = tmp_path / "style.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(style)
    out = tmp_path / "styled.mp4"
    result = CliRunner().invoke(main, ["stylize", "-c", str(src), "-s", str(style), "-o", str(out), "--engine",
                                       str(out_dir), "--batch-size", "3", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    info = probe(out)
    assert (info.width, info.height, info.fps, info.frames, info.has_audio) == (48, 32, Fraction(15), 7, True)
    assert "frames/s" in result.output
