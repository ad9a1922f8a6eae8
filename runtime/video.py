"""Video in and out with PyAV: frames in batches, the source's frame rate, its audio copied.

Frames are uint8 [N, H, W, 3] RGB, upright: a display rotation (the display matrix phones record
portrait videos with) is applied when frames are read, so the output needs none and plays upright
everywhere. Outputs are yuv420p, the pixel format every player and browser takes; it needs even
sizes, so an odd width or height is padded by one pixel (the last column or row repeated), said
once. Every frame keeps its source timestamp, so variable frame rates and the duration are kept.
The output is written to a temporary file beside the destination and renamed into place only when
the whole video is done, so an interrupted or failed run leaves no half-written video. PyAV is
optional: ``pip install 'stylert[video]'``.

``stream_video`` overlaps the three stages: decoding runs in a thread ahead of the frame
function (``stylert.runtime.stream.Prefetcher``, inside ``Pipeline.stream``), encoding in
another behind it (``Drain``), each through a queue of a few items, so memory stays bounded for
any length. ``transform_video`` runs them one after another, a batch at a time.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..core.files import atomic_write
from ..errors import ImageError, MissingDependencyError, OutputError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v", ".ts", ".m2ts", ".mts", ".3gp", ".mpg",
                    ".mpeg")
_OUTPUT_CODEC = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".m4v": "libx264",
                 ".avi": "mpeg4", ".webm": "libvpx-vp9", ".ts": "libx264", ".m2ts": "libx264", ".mts": "libx264",
                 ".3gp": "libx264", ".mpg": "mpeg2video", ".mpeg": "mpeg2video"}
#: Output codecs whose time base must be the frame interval (MPEG-4 part 2 in AVI, MPEG-2).
_FRAME_TIME_BASE = ("mpeg4", "mpeg2video")
#: The frame rates MPEG-2 video can signal: frame_rate_code 1-8 (ISO/IEC 13818-2, 6.3.3) times
#: (n + 1) / (d + 1), n < 4, d < 32 (frame_rate_extension_n, _d), as FFmpeg's encoder takes them.
_MPEG2_RATES = sorted({Fraction(r) * Fraction(n + 1, d + 1)
                       for r in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60")
                       for n in range(4) for d in range(32)})


def _output_rate(codec: str, fps) -> Fraction:
    """The output stream's frame rate: the source's, except where the codec cannot signal it --
    MPEG-4 part 2 takes a time base of at most 16 bits (a variable-frame-rate source's average, e.g.
    192000/6341, is refused by the encoder), so the rate is rounded to thousandths; MPEG-2 takes the
    rates of ``_MPEG2_RATES``, so the nearest of them."""
    rate = Fraction(fps)
    if codec == "mpeg4" and (rate.numerator > 65535 or rate.denominator > 65535):
        rate = rate.limit_denominator(1001)
        while rate.numerator > 65535:
            rate = rate.limit_denominator(max(1, rate.denominator // 2))
    elif codec == "mpeg2video" and rate not in _MPEG2_RATES:
        rate = min(_MPEG2_RATES, key=lambda r: abs(r - rate))
    return rate
#: Still-image formats Pillow may lack a plugin for, which FFmpeg can open as a one-frame stream.
_STILL_EXTENSIONS = (".heic", ".heif", ".avif", ".jxl", ".svg", ".psd", ".dng", ".cr2", ".nef", ".arw", ".exr",
                     ".hdr", ".jp2", ".j2k")
#: Demuxers of still images (and image sequences): a file FFmpeg opens with one of these is not a video.
_IMAGE_DEMUXERS = ("image2", "gif", "webp", "apng", "ico", "tiff", "bmp")


def _av():
    try:
        import av
    except ImportError:
        raise MissingDependencyError("PyAV", "pip install 'stylert[video]'", "video input and output") from None
    return av


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a video: by its extension (``VIDEO_EXTENSIONS``); an existing file with another
    extension that is not a still-image one (or none) by probing its container with FFmpeg (a video
    stream, in a container that is not an image's), so ``clip.vob`` or ``clip`` are videos too."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext in VIDEO_EXTENSIONS:
        return True
    from PIL import Image

    if ext in Image.registered_extensions() or ext in _STILL_EXTENSIONS or not path.is_file():
        return False
    return _probe_is_video(str(path.resolve()), path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=256)
def _probe_is_video(path: str, mtime_ns: int) -> bool:
    try:
        av = _av()
    except MissingDependencyError:
        return False
    try:
        with av.open(path) as container:
            name = container.format.name
            return bool(container.streams.video) and not (name.endswith("_pipe") or
                                                          any(n in _IMAGE_DEMUXERS for n in name.split(",")))
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def output_extension(src: str | os.PathLike) -> str:
    """The extension of a video stylized from ``src``: its own where stylert writes it, else .mp4."""
    ext = Path(src).suffix.lower()
    return ext if ext in _OUTPUT_CODEC else ".mp4"


@dataclass(frozen=True)
class VideoInfo:
    width: int  # as displayed: after the display rotation
    height: int
    fps: Fraction
    frames: int  # 0 when the container does not say
    has_audio: bool
    rotation: int = 0  # the display rotation, degrees counter-clockwise (0, 90, 180, 270)
    end: float | None = None  # where the video stream ends (seconds: its start plus its duration); None: unknown


def _upright(frame) -> np.ndarray:
    """A decoded frame -> uint8 [H, W, 3] RGB as displayed (its display rotation applied)."""
    pixels = frame.to_ndarray(format="rgb24")
    turns = _quarter_turns(getattr(frame, "rotation", 0))
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _quarter_turns(degrees) -> int:
    return int(round((degrees or 0) / 90.0)) % 4


def _open(path: Path):
    av = _av()
    if not path.is_file():
        raise ImageError("video file not found", path=path, fix="check the path")
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as err:
        raise ImageError(f"not a video FFmpeg can read ({err.strerror or err})", path=path,
                         fix="use an mp4/mov/mkv/webm file") from None
    if not container.streams.video:
        container.close()
        raise ImageError("has no video stream", path=path, fix="pass a video file")
    return container


def probe(path: str | os.PathLike) -> VideoInfo:
    """Size (as displayed), frame rate, frame count, audio and display rotation of a video; the first
    frame is decoded for its rotation."""
    av = _av()
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        width, height = stream.codec_context.width, stream.codec_context.height
        try:
            first = next(container.decode(video=0), None)
        except av.error.FFmpegError as err:
            raise ImageError(f"corrupt video data ({err.strerror or err})", path=path,
                             fix="re-encode or re-download the file") from None
        if first is None:
            raise ImageError("its video stream has no frames (empty or cut before the first frame)", path=path,
                             fix="re-encode or re-download the file")
        rotation = _quarter_turns(getattr(first, "rotation", 0)) * 90
        if rotation in (90, 270):
            width, height = height, width
        end = None
        if stream.duration and stream.time_base:
            end = float((stream.start_time or 0) * stream.time_base + stream.duration * stream.time_base)
        elif container.duration and len(container.streams) == 1:  # Matroska/WebM: the container's, if all video
            end = (container.start_time or 0) / 1e6 + container.duration / 1e6
        return VideoInfo(width, height, Fraction(fps), stream.frames or 0, bool(container.streams.audio), rotation,
                         end)


def check_complete(src: Path, info: "VideoInfo", frames: int, last_time) -> None:
    """Refuse a video whose stream ended early without a decoding error (a file cut short: FFmpeg stops
    at the cut): fewer frames than its header lists, or, where it lists none, a last frame more than
    three frame intervals (and 5%) before the stream's recorded end. Called before the output is moved
    into place, so a damaged input leaves no output."""
    if info.frames and frames < info.frames:
        found = f"ends after {frames} of the {info.frames} frames its header lists"
    elif not info.frames and info.end and last_time is not None and \
            float(last_time) < info.end - max(3 / float(info.fps), 0.05 * info.end):
        found = f"ends at {float(last_time):.3f} s, its stream at {info.end:.3f} s"
    else:
        return
    raise ImageError(f"{found} (cut short or damaged): nothing written", path=src,
                     fix="re-encode or re-download the file")


def _decode(path: Path, batch_size: int) -> Iterator[tuple[np.ndarray, list]]:
    """Batches of upright uint8 [N, H, W, 3] RGB frames and their timestamps (``frame.time``, seconds)."""
    av = _av()
    batch: list[np.ndarray] = []
    times: list = []
    with _open(path) as container:
        try:
            for frame in container.decode(video=0):
                batch.append(_upright(frame))
                times.append(frame.time)
                if len(batch) == batch_size:
                    yield np.stack(batch), times
                    batch, times = [], []
        except av.error.FFmpegError as err:
            raise ImageError(f"corrupt video data ({err.strerror or err})", path=path,
                             fix="re-encode or re-download the file") from None
    if batch:
        yield np.stack(batch), times


def read_frames(path: str | os.PathLike, batch_size: int = 8) -> Iterator[np.ndarray]:
    """Decode ``path`` -> batches of uint8 [N, H, W, 3] RGB frames as displayed (the last batch may be shorter)."""
    for batch, _ in _decode(Path(path), batch_size):
        yield batch


def iter_frames(path: str | os.PathLike, times=None) -> Iterator[np.ndarray]:
    """Decode ``path`` -> uint8 [H, W, 3] RGB frames as displayed, one at a time; each frame's
    timestamp (seconds, or None) is appended to ``times`` (a deque) when given."""
    for batch, ts in _decode(Path(path), 1):
        if times is not None:
            times.append(ts[0])
        yield batch[0]


def _even_size(info: "VideoInfo") -> tuple[int, int]:
    """(width, height) of the output: yuv420p needs even sizes, so an odd one gains a pixel."""
    return info.width + info.width % 2, info.height + info.height % 2


def _open_output(out, ext: str, info: "VideoInfo", crf: int):
    """The output video stream (yuv420p at the even size, the source's rate) and its time base."""
    width, height = _even_size(info)
    codec = _OUTPUT_CODEC[ext]
    rate = _output_rate(codec, info.fps)
    stream = out.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p"
    time_base = 1 / rate if codec in _FRAME_TIME_BASE else Fraction(1, 90000)
    stream.codec_context.time_base = time_base
    if _OUTPUT_CODEC[ext] == "libx264":
        stream.options = {"crf": str(crf)}
    return stream, time_base


def _say_adjustments(src: Path, info: "VideoInfo", notice: Callable[[str], None] | None) -> None:
    """Say once what the output changes: an odd size padded for yuv420p, a display rotation applied."""
    if notice is None:
        return
    width, height = _even_size(info)
    if (width, height) != (info.width, info.height):
        notice(f"{src}: {info.width}x{info.height} (width x height) is odd; yuv420p, the pixel format players "
               f"and browsers take, needs even sizes: written as {width}x{height}, the last column/row repeated")
    if info.rotation:
        notice(f"{src}: display rotation {info.rotation} degrees applied; the output is upright")


def _say_rate(dst: Path, ext: str, info: "VideoInfo", rate: Fraction, variable: bool, notice) -> None:
    """Say in one line when an output of constant ticks (MPEG-4 part 2 in AVI, MPEG-2) cannot keep
    the source's frame times: a variable frame rate, or a rate its codec cannot signal."""
    if notice is None or not (variable or rate != Fraction(info.fps)):
        return
    what = "variable frame times" if variable else f"rate {Fraction(info.fps)} frames/s"
    notice(f"{dst}: {ext} plays frames at a constant {rate} frames/s ({float(rate):.3f}); the source's {what} "
           f"{'are' if variable else 'is'} not kept exactly (.mp4, .mkv and .webm keep them)")


def _video_frame(av, frame: np.ndarray, info: "VideoInfo", t, last: int, time_base):
    """An output frame: padded to the even size (edge pixels repeated), at the source's timestamp ``t``
    (seconds; None: the next tick), never before the previous one (``last``)."""
    width, height = _even_size(info)
    if (width, height) != (info.width, info.height):
        frame = np.pad(frame, ((0, height - info.height), (0, width - info.width), (0, 0)), mode="edge")
    video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    pts = round(Fraction(t) / time_base) if t is not None else last + 1
    video_frame.pts = max(pts, last + 1)
    video_frame.time_base = time_base
    return video_frame


def _check_extension(dst: Path) -> str:
    ext = dst.suffix.lower()
    if ext not in _OUTPUT_CODEC:
        raise OutputError(f"unsupported video extension {ext or '(none)'}", path=dst,
                          fix=f"use one of {', '.join(_OUTPUT_CODEC)}")
    return ext


def _copy_audio(audio, audio_src, out) -> None:
    """Every kept audio stream into ``out``: packets copied, or decoded, resampled and encoded where
    the container needs another codec (``_audio_streams``)."""
    if not audio:
        return
    for packet in audio_src.demux(*[audio_src.streams[i] for i in audio]):
        route = audio.get(packet.stream.index)
        if route is None:
            continue
        target, resampler = route
        if resampler is None:
            if packet.dts is not None:
                packet.stream = target
                out.mux(packet)
            continue
        for frame in packet.decode():
            for converted in resampler.resample(frame):
                converted.pts = None
                for encoded in target.encode(converted):
                    out.mux(encoded)
    for target, resampler in audio.values():
        if resampler is not None:
            for converted in resampler.resample(None):
                converted.pts = None
                for encoded in target.encode(converted):
                    out.mux(encoded)
            for encoded in target.encode(None):
                out.mux(encoded)


@dataclass
class _Writer:
    """An output video being written (``_writing``): ``put`` one upright uint8 [H, W, 3] frame at the
    source's timestamp ``t`` (seconds, or None for the next tick)."""

    av: object
    info: "VideoInfo"
    stream: object
    out: object
    time_base: Fraction
    last: int = -1
    times: list = field(default_factory=list)  # the source's frame times (seconds) as given

    def frame(self, frame: np.ndarray, t) -> object:
        video_frame = _video_frame(self.av, frame, self.info, t, self.last, self.time_base)
        self.last = video_frame.pts
        if t is not None:
            self.times.append(float(t))
        return video_frame

    def variable(self) -> bool:
        """Whether the source's frame intervals differ by more than a millisecond."""
        steps = np.diff(self.times)
        return steps.size > 1 and float(steps.max() - steps.min()) > 1e-3

    def encode(self, video_frame) -> None:
        for packet in self.stream.encode(video_frame):
            self.out.mux(packet)


@contextlib.contextmanager
def _writing(src: Path, dst: Path, *, overwrite: bool, crf: int, notice) -> Iterator[_Writer]:
    """Open ``dst`` for the frames of ``src`` (the phone-video rules: display rotation applied, yuv420p
    at even sizes, the source's rate); on a normal exit flush the encoder and copy the first audio
    stream; the file appears only then (``atomic_write``)."""
    av = _av()
    ext = _check_extension(dst)
    info = probe(src)
    _say_adjustments(src, info, notice)
    with atomic_write(dst, overwrite=overwrite) as tmp, _open(src) as audio_src:
        with av.open(str(tmp), mode="w", format=_container_format(ext)) as out:
            stream, time_base = _open_output(out, ext, info, crf)
            # Every stream must exist before the first packet is muxed (the header is written then).
            audio = _audio_streams(audio_src, out, ext, src, notice)
            writer = _Writer(av, info, stream, out, time_base)
            yield writer
            for packet in stream.encode():
                out.mux(packet)
            if _OUTPUT_CODEC[ext] in _FRAME_TIME_BASE:
                _say_rate(dst, ext, info, 1 / time_base, writer.variable(), notice)
            _copy_audio(audio, audio_src, out)


def stream_video(src: str | os.PathLike, dst: str | os.PathLike,
                 process: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]], *, overwrite: bool = False,
                 crf: int = 18, depth: int = 8, progress: Callable[[int], None] | None = None,
                 notice: Callable[[str], None] | None = None) -> int:
    """Write ``process(frames of src)`` as ``dst``, encoding in a thread; returns the frame count.

    ``process`` takes the iterator of decoded uint8 [H, W, 3] frames and yields one uint8 frame of
    the same size per input frame, in order (``Pipeline.stream`` pulls the decoder in a thread of
    its own). Frames are encoded in another thread, at most ``depth`` waiting. The output follows
    ``transform_video``'s rules (upright, yuv420p, the source's timestamps and audio), and appears
    only when complete: an error or an interrupt leaves no file, and no thread running.
    """
    from .stream import Drain

    src, dst = Path(src), Path(dst)
    done = 0
    with _writing(src, dst, overwrite=overwrite, crf=crf, notice=notice) as writer:
        times: deque = deque()  # decoded frames' timestamps, appended by the decoding thread
        drain = Drain(writer.encode, depth)
        results = process(iter_frames(src, times))
        try:
            expected = (writer.info.height, writer.info.width, 3)
            last = None
            for frame in results:
                if frame.shape != expected or frame.dtype != np.uint8:
                    raise ValueError(f"frame function returned {frame.shape} {frame.dtype}, "
                                     f"expected {expected} uint8")
                last = times.popleft() if times else None
                drain.put(writer.frame(frame, last))
                done += 1
                if progress is not None:
                    progress(done)
            check_complete(src, writer.info, done, last)
            drain.finish()
        except BaseException:
            drain.abort()
            raise
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
    return done


def transform_video(src: str | os.PathLike, dst: str | os.PathLike,
                    fn: Callable[[np.ndarray], np.ndarray], *, batch_size: int = 8, overwrite: bool = False,
                    crf: int = 18, progress: Callable[[int], None] | None = None,
                    notice: Callable[[str], None] | None = None, temporal_blend: float = 0.0,
                    temporal_blend_space: str | None = None) -> int:
    """Write ``fn`` applied to every batch of ``src``'s frames as ``dst``; returns the frame count.

    ``fn``: uint8 [N, H, W, 3] -> uint8 [N, H, W, 3] of the same size, frames upright (the source's
    display rotation applied). The output is yuv420p (an odd size padded by one pixel, said through
    ``notice``), keeps the source's frame rate and every frame's timestamp, and its first audio
    stream (copied, not re-encoded). ``progress(n)`` is called with the number of frames done after
    each batch. ``temporal_blend``: the weight W in [0, 0.95] of flow-guided blending of each output
    frame with the previous output (``stylert.core.temporal.FlowBlend``; 0 = off), across batches;
    ``Pipeline.stream(..., temporal_blend=W)`` does the same for ``stream_video``.
    ``temporal_blend_space="feature"`` blends the decoder's inputs instead (``FeatureBlend``): ``fn``
    is then called as ``fn(batch, decoder_hook=hook)`` and passes ``hook`` on to
    ``Pipeline.stylize(..., decoder_hook=hook)``; None: ``DEFAULT_BLEND_SPACE``.
    """
    from ..core.temporal import DEFAULT_BLEND_SPACE, FeatureBlend, make_blender

    src, dst = Path(src), Path(dst)
    # a bad weight or space, or a missing OpenCV, stops here, before any file is opened
    blender = make_blender(temporal_blend, temporal_blend_space or DEFAULT_BLEND_SPACE)
    features = isinstance(blender, FeatureBlend)
    done = 0
    with _writing(src, dst, overwrite=overwrite, crf=crf, notice=notice) as writer:
        for batch, times in _decode(src, batch_size):
            if features:
                result = fn(batch, decoder_hook=lambda inputs, padded, batch=batch:
                            blender.update_batch(batch, inputs, padded))
            else:
                result = fn(batch)
            if result.shape != batch.shape or result.dtype != np.uint8:
                raise ValueError(f"frame function returned {result.shape} {result.dtype}, "
                                 f"expected {batch.shape} uint8")
            if blender is not None and not features:
                result = [blender.apply(x, y) for x, y in zip(batch, result)]
            for frame, t in zip(result, times):  # the source's timeline (which the copied audio keeps too)
                writer.encode(writer.frame(frame, t))
            done += len(batch)
            if progress is not None:
                progress(done)
        check_complete(src, writer.info, done, times[-1] if done else None)
    return done


def _container_format(ext: str) -> str:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm",
            ".ts": "mpegts", ".m2ts": "mpegts", ".mts": "mpegts", ".3gp": "3gp", ".mpg": "mpeg",
            ".mpeg": "mpeg"}[ext]


#: The audio codec an output container gets when the source's cannot be copied into it.
_AUDIO_CODEC = {".webm": "libopus", ".mkv": "libopus", ".mp4": "aac", ".m4v": "aac", ".mov": "aac", ".3gp": "aac",
                ".ts": "aac", ".m2ts": "aac", ".mts": "aac", ".avi": "mp3", ".mpg": "mp2", ".mpeg": "mp2"}


#: Audio codecs each output container takes as they are (copied, not re-encoded); Matroska takes any.
_PCM = ("pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_u8")
_COPY_AUDIO = {".mp4": ("aac", "mp3", "ac3", "eac3", "alac"), ".m4v": ("aac", "mp3", "ac3", "alac"),
               ".mov": ("aac", "mp3", "ac3", "alac", *_PCM, "pcm_s16be"), ".3gp": ("aac", "amr_nb", "amr_wb"),
               ".webm": ("opus", "vorbis"), ".avi": ("mp3", "ac3", "mp2", *_PCM),
               ".ts": ("aac", "mp2", "mp3", "ac3"), ".m2ts": ("aac", "mp2", "mp3", "ac3"),
               ".mts": ("aac", "mp2", "mp3", "ac3"), ".mpg": ("mp2", "mp3", "ac3"), ".mpeg": ("mp2", "mp3", "ac3")}


def _audio_streams(container, out, ext: str, src: Path, notice) -> dict:
    """{source stream index: (output stream, resampler or None)} for every audio stream of the source:
    copied where ``out`` can hold its codec, else transcoded to the container's codec (``_AUDIO_CODEC``:
    Opus for WebM), each said once through ``notice``; a stream that can be neither, and every other
    stream (subtitles, data), is dropped with one line saying so."""
    av = _av()
    routes = {}
    for stream in container.streams:
        if stream.type == "video" and stream.index == container.streams.video[0].index:
            continue
        label = f"{stream.type} stream {stream.index} ({stream.codec_context.name if stream.codec_context else '?'})"
        if stream.type != "audio":
            if notice:
                notice(f"{src}: {label} dropped: stylert writes the video and its audio streams only")
            continue
        name = stream.codec_context.name if stream.codec_context else ""
        if name in _COPY_AUDIO.get(ext, ()) or (ext == ".mkv" and name != "pcm_s16be"):
            try:
                routes[stream.index] = (out.add_stream_from_template(stream), None)
                continue
            except (ValueError, av.error.FFmpegError):
                pass
        codec = _AUDIO_CODEC.get(ext)
        try:
            rate = stream.codec_context.sample_rate or 48000
            if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
                rate = 48000
            target = out.add_stream(codec, rate=rate)
            layout = "stereo" if (stream.codec_context.channels or 2) >= 2 else "mono"
            target.layout = layout
            fmt = target.codec_context.codec.audio_formats[0].name if target.codec_context.codec.audio_formats \
                else "s16"
            target.format = fmt
            routes[stream.index] = (target, av.AudioResampler(format=fmt, layout=layout, rate=rate))
            if notice:
                notice(f"{src}: {label} cannot go into {ext} as it is: re-encoded as {codec} ({layout}, {rate} Hz)")
        except (ValueError, TypeError, av.error.FFmpegError) as err:
            if notice:
                notice(f"{src}: {label} dropped: {ext} cannot hold it and re-encoding failed ({err})")
    return routes
