"""Video files as users have them: containers known by probing, not by extension; files cut short or
without frames refused with one line and nothing written; animated images never silently reduced to
one still."""

from __future__ import annotations

import shutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from conftest import invoke, one_line_error
from PIL import Image

av = pytest.importorskip("av")



def make_video(path: Path, fmt: str | None = None, frames: int = 24, codec: str = "libx264", options=None,
               times_ms: list[int] | None = None) -> Path:
    """A 48x32 video of random frames at 12 frames/s, or (``times_ms``) at those times in milliseconds
    (variable steps or a late start)."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream(codec, rate=12)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(frames if times_ms is None else len(times_ms)):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8), format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def count_frames(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture
def work(tmp_path, exports, monkeypatch):
    _, export_dir = exports("adain")
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(tmp_path / "s.png")
    return tmp_path, export_dir


@pytest.mark.parametrize("name, fmt, codec, out_ext", [
    ("clip.ts", "mpegts", "libx264", ".ts"),
    ("clip.m2ts", "mpegts", "libx264", ".m2ts"),
    ("clip.3gp", "3gp", "libx264", ".3gp"),
    ("clip.mpg", "mpeg", "mpeg2video", ".mpg"),
    ("clip.vob", "mpeg", "mpeg2video", ".mp4"),    # an extension stylert does not write: probed, written as mp4
    ("clip", "matroska", "libx264", ".mp4"),        # no extension at all
    ("clip.bin", "mp4", "libx264", ".mp4"),
])
def test_containers_are_recognised_by_probing(name, fmt, codec, out_ext, work):
    """Every video FFmpeg reads is stylized as a video, frame for frame, whatever its extension says."""
    root, export_dir = work
    make_video(root / name, fmt, codec=codec)
    result = invoke("stylize", "-c", name, "-s", "s.png", "-o", "out", "--engine", export_dir, "--temporal-blend", 0)
    assert result.exit_code == 0, result.output
    written = root / "out" / f"{Path(name).stem}_stylized_s{out_ext}"
    assert written.is_file(), sorted(p.name for p in (root / "out").iterdir())
    assert count_frames(written) == 24


@pytest.mark.parametrize("make, cut", [
    (lambda p: make_video(p, options={"movflags": "faststart"}), 0.5),   # mp4, index first: frames listed
    (lambda p: make_video(p, options={"movflags": "faststart"}), 0.8),
    (lambda p: make_video(p, options={"movflags": "faststart"}), 0.3),
    (lambda p: make_video(p.with_suffix(".mkv"), "matroska"), 0.5),      # duration in the header
    (lambda p: make_video(p.with_suffix(".mkv"), "matroska"), 0.75),
    (lambda p: make_video(p.with_suffix(".webm"), "webm", codec="libvpx-vp9"), 0.5),
    (lambda p: make_video(p), 0.5),                                       # mp4, index last: unreadable
])
def test_a_video_cut_short_is_refused_and_nothing_is_written(make, cut, work):
    root, export_dir = work
    full = make(root / "full.mp4")
    data = full.read_bytes()
    damaged = root / f"cut{full.suffix}"
    damaged.write_bytes(data[: int(len(data) * cut)])
    line = one_line_error(invoke("stylize", "-c", damaged.name, "-s", "s.png", "-o", f"o{full.suffix}", "--engine",
                                 export_dir, "--temporal-blend", 0))
    assert damaged.name in line and ("cut short" in line or "corrupt" in line or "not a video" in line), line
    assert not (root / f"o{full.suffix}").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".o")]


@pytest.mark.parametrize("fmt, ext", [("mp4", ".mp4"), ("matroska", ".mkv"), ("mpegts", ".ts")])
def test_a_video_stream_without_frames_is_blamed_on_the_input(fmt, ext, work):
    root, export_dir = work
    src = root / f"empty{ext}"
    with av.open(str(src), "w", format=fmt) as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 48, 32, "yuv420p"
    line = one_line_error(invoke("stylize", "-c", src.name, "-s", "s.png", "-o", "out", "--engine", export_dir))
    assert src.name in line and "-o" not in line and "out" not in line.split(":")[0], line
    assert not (root / "out").exists()


@pytest.mark.parametrize("kind", ["gif", "webp"])
@pytest.mark.parametrize("role", ["content", "style"])
def test_an_animated_image_is_refused_not_reduced_to_one_still(kind, role, work):
    root, export_dir = work
    frames = [Image.fromarray(np.full((24, 32, 3), v, np.uint8)) for v in (0, 120, 240)]
    anim = root / f"anim.{kind}"
    frames[0].save(anim, save_all=True, append_images=frames[1:], duration=100, loop=0)
    shutil.copy(root / "s.png", root / "still.png")
    c, s = ("anim." + kind, "still.png") if role == "content" else ("still.png", "anim." + kind)
    line = one_line_error(invoke("stylize", "-c", c, "-s", s, "-o", "o.png", "--engine", export_dir))
    assert f"anim.{kind}" in line and "3 frames" in line, line
    assert not (root / "o.png").exists()


# --------------------------------------------------------------------------- nothing dropped silently


def make_av(path: Path, audio: list[str], fmt: str | None = None, frames: int = 12, fps: int = 12) -> Path:
    """A clip with one audio stream per codec in ``audio`` (a tone each, of its own pitch)."""
    with av.open(str(path), "w", format=fmt) as out:
        video = out.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = 48, 32, "yuv420p"
        sounds = []
        for codec in audio:
            s = out.add_stream(codec, rate=16000 if codec != "libopus" else 48000)
            s.layout = "mono"
            sounds.append(s)
        rng = np.random.default_rng(0)
        for _ in range(frames):
            img = rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        for k, s in enumerate(sounds):
            rate = s.codec_context.sample_rate
            fmt_name = s.codec_context.codec.audio_formats[0].name
            t = np.arange(rate * frames // fps) / rate
            tone = (0.3 * np.sin(2 * np.pi * (220 * (k + 1)) * t)).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None], format="fltp", layout="mono")
            frame.sample_rate = rate
            resampler = av.AudioResampler(format=fmt_name, layout="mono", rate=rate)
            for converted in [*resampler.resample(frame), *resampler.resample(None)]:
                converted.pts = None
                for packet in s.encode(converted):
                    out.mux(packet)
            for packet in s.encode():
                out.mux(packet)
    return path


def audio_streams(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.codec_context.name for s in c.streams.audio]


@pytest.mark.parametrize("src_name, codecs, fmt", [
    ("two.mp4", ["aac", "aac"], None),
    ("three.mkv", ["aac", "mp3", "libopus"], "matroska"),
    ("pcm.mov", ["pcm_s16le"], None),
    ("pcm2.mov", ["pcm_s16le", "aac"], None),
])
@pytest.mark.parametrize("out_ext", [".mp4", ".webm", ".mkv", ".mov"])
def test_every_audio_stream_is_kept_transcoded_where_the_container_needs_it(src_name, codecs, fmt, out_ext, work):
    """Every audio stream of the input is in the output: copied where the container holds its codec,
    re-encoded where it does not (Opus for WebM), said in one line; none is dropped silently."""
    root, export_dir = work
    make_av(root / src_name, codecs, fmt)
    out = root / f"o{out_ext}"
    result = invoke("stylize", "-c", src_name, "-s", "s.png", "-o", out.name, "--engine", export_dir,
                    "--temporal-blend", 0)
    assert result.exit_code == 0, result.output
    kept = audio_streams(out)
    assert len(kept) == len(codecs), (kept, result.output)
    if out_ext == ".webm":
        assert set(kept) <= {"opus", "vorbis"}, kept
    if out_ext == ".webm":  # one line for each stream that had to be re-encoded
        assert result.output.count("re-encoded") == sum(c not in ("opus", "vorbis") for c in audio_streams(root / src_name))


@pytest.mark.parametrize("times_ms", [[0, 33, 66, 150, 183, 300, 333, 366, 500, 767],  # variable frame rate
                                      [500 + 33 * i for i in range(12)]],  # a late start; average 192000/6341 fps
                         ids=["variable", "late-start"])
@pytest.mark.parametrize("out_ext", [".mp4", ".mkv", ".webm", ".avi", ".mpg"])
def test_frame_times_are_kept_or_the_loss_is_said(times_ms, out_ext, work):
    """Containers with timestamps keep every frame's time; AVI (MPEG-4 part 2) and MPEG-2 play at a
    constant rate their codec can signal, and say so in one line (before, an average rate such as
    192000/6341 made the encoder refuse to open: a traceback)."""
    root, export_dir = work
    make_video(root / "src.mp4", times_ms=times_ms)
    want = frame_times(root / "src.mp4")
    result = invoke("stylize", "-c", "src.mp4", "-s", "s.png", "-o", f"o{out_ext}", "--engine", export_dir,
                    "--temporal-blend", 0)
    assert result.exit_code == 0, result.output
    assert count_frames(root / f"o{out_ext}") == len(times_ms)
    if out_ext in (".avi", ".mpg"):
        assert f"o{out_ext}: {out_ext} plays frames at a constant" in result.output, result.output
    else:
        assert np.abs(np.array(frame_times(root / f"o{out_ext}")) - want).max() <= 1.5e-3
        assert "constant" not in result.output
