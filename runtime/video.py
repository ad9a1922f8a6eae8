"""Video in and out with PyAV: frames in batches, the source's frame rate, its audio copied.

``stream_video`` overlaps the three stages: decoding runs in a thread ahead of the frame
function (``stylert.runtime.stream.Prefetcher``, inside ``Pipeline.stream``), encoding in
another behind it (``Drain``), each through a queue of a few items, so memory stays bounded for
any length. ``transform_video`` runs them one after another, a batch at a time.

Frames are uint8 [N, H, W, 3] RGB. The output is written to a temporary file beside the
destination and renamed into place only when the whole video is done, so an interrupted or
failed run leaves no half-written video. PyAV is optional: ``pip install 'stylert[video]'``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.files import atomic_write
from ..errors import ImageError, MissingDependencyError, OutputError

VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v")
_OUTPUT_CODEC = {".mp4": "libx264", ".mov": "libx264", ".mkv": "libx264", ".m4v": "libx264",
                 ".avi": "mpeg4", ".webm": "libvpx-vp9"}


def _av():
    try:
        import av
    except ImportError:
        raise MissingDependencyError("PyAV", "pip install 'stylert[video]'", "video input and output") from None
    return av


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    frames: int  # 0 when the container does not say
    has_audio: bool


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
    path = Path(path)
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(stream.codec_context.width, stream.codec_context.height, Fraction(fps),
                         stream.frames or 0, bool(container.streams.audio))


def read_frames(path: str | os.PathLike, batch_size: int = 8) -> Iterator[np.ndarray]:
    """Decode ``path`` -> batches of uint8 [N, H, W, 3] RGB frames (the last batch may be shorter)."""
    av = _av()
    path = Path(path)
    batch: list[np.ndarray] = []
    with _open(path) as container:
        try:
            for frame in container.decode(video=0):
                batch.append(frame.to_ndarray(format="rgb24"))
                if len(batch) == batch_size:
                    yield np.stack(batch)
                    batch = []
        except av.error.FFmpegError as err:
            raise ImageError(f"corrupt video data ({err.strerror or err})", path=path,
                             fix="re-encode or re-download the file") from None
    if batch:
        yield np.stack(batch)


def iter_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Decode ``path`` -> uint8 [H, W, 3] RGB frames, one at a time."""
    for batch in read_frames(path, batch_size=1):
        yield batch[0]


def _open_output(out, ext: str, info: VideoInfo, crf: int):
    stream = out.add_stream(_OUTPUT_CODEC[ext], rate=info.fps)
    stream.width, stream.height = info.width, info.height
    even = info.width % 2 == 0 and info.height % 2 == 0
    stream.pix_fmt = "yuv420p" if even or ext == ".avi" else "yuv444p"
    if _OUTPUT_CODEC[ext] == "libx264":
        stream.options = {"crf": str(crf)}
    return stream


def _check_extension(dst: Path) -> str:
    ext = dst.suffix.lower()
    if ext not in _OUTPUT_CODEC:
        raise OutputError(f"unsupported video extension {ext or '(none)'}", path=dst,
                          fix=f"use one of {', '.join(_OUTPUT_CODEC)}")
    return ext


def _copy_audio(audio, audio_src, out) -> None:
    if audio is not None:
        audio_in, audio_out = audio
        for packet in audio_src.demux(audio_in):
            if packet.dts is not None:
                packet.stream = audio_out
                out.mux(packet)


def stream_video(src: str | os.PathLike, dst: str | os.PathLike,
                 process: Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]], *, overwrite: bool = False,
                 crf: int = 18, depth: int = 8, progress: Callable[[int], None] | None = None) -> int:
    """Write ``process(frames of src)`` as ``dst``, encoding in a thread; returns the frame count.

    ``process`` takes the iterator of decoded uint8 [H, W, 3] frames and yields one uint8 frame of
    the same size per input frame, in order (``Pipeline.stream`` pulls the decoder in a thread of
    its own). Frames are encoded in another thread, at most ``depth`` waiting. The output keeps
    the source's frame rate and first audio stream, and appears only when complete: an error or an
    interrupt leaves no file, and no thread running.
    """
    from .stream import Drain

    av = _av()
    src, dst = Path(src), Path(dst)
    ext = _check_extension(dst)
    info = probe(src)
    done = 0
    with atomic_write(dst, overwrite=overwrite) as tmp, _open(src) as audio_src:
        with av.open(str(tmp), mode="w", format=_container_format(ext)) as out:
            stream = _open_output(out, ext, info, crf)
            audio = _audio_stream(audio_src, out) if info.has_audio else None

            def encode(frame):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    out.mux(packet)

            writer = Drain(encode, depth)
            results = process(iter_frames(src))
            try:
                expected = (info.height, info.width, 3)
                for frame in results:
                    if frame.shape != expected or frame.dtype != np.uint8:
                        raise ValueError(f"frame function returned {frame.shape} {frame.dtype}, "
                                         f"expected {expected} uint8")
                    writer.put(frame)
                    done += 1
                    if progress is not None:
                        progress(done)
                writer.finish()
            except BaseException:
                writer.abort()
                raise
            finally:
                close = getattr(results, "close", None)
                if close is not None:
                    close()
            for packet in stream.encode():
                out.mux(packet)
            _copy_audio(audio, audio_src, out)
    return done


def transform_video(src: str | os.PathLike, dst: str | os.PathLike,
                    fn: Callable[[np.ndarray], np.ndarray], *, batch_size: int = 8, overwrite: bool = False,
                    crf: int = 18, progress: Callable[[int], None] | None = None) -> int:
    """Write ``fn`` applied to every batch of ``src``'s frames as ``dst``; returns the frame count.

    ``fn``: uint8 [N, H, W, 3] -> uint8 [N, H, W, 3] of the same size. The output keeps the
    source's frame rate and timestamps, and its first audio stream (copied, not re-encoded).
    ``progress(n)`` is called with the number of frames done after each batch.
    """
    av = _av()
    src, dst = Path(src), Path(dst)
    ext = _check_extension(dst)
    info = probe(src)
    done = 0
    with atomic_write(dst, overwrite=overwrite) as tmp, _open(src) as audio_src:
        with av.open(str(tmp), mode="w", format=_container_format(ext)) as out:
            stream = _open_output(out, ext, info, crf)
            # Every stream must exist before the first packet is muxed (the header is written then).
            audio = _audio_stream(audio_src, out) if info.has_audio else None
            for batch in read_frames(src, batch_size):
                result = fn(batch)
                if result.shape != batch.shape or result.dtype != np.uint8:
                    raise ValueError(f"frame function returned {result.shape} {result.dtype}, "
                                     f"expected {batch.shape} uint8")
                for frame in result:
                    for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                        out.mux(packet)
                done += len(batch)
                if progress is not None:
                    progress(done)
            for packet in stream.encode():
                out.mux(packet)
            _copy_audio(audio, audio_src, out)
    return done


def _container_format(ext: str) -> str:
    return {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".avi": "avi", ".webm": "webm"}[ext]


def _audio_stream(container, out):
    """(source audio stream, output stream copying it), or None if ``out`` cannot hold the codec."""
    audio_in = container.streams.audio[0]
    try:
        return audio_in, out.add_stream_from_template(audio_in)
    except (ValueError, _av().error.FFmpegError):
        return None  # e.g. AAC into WebM: keep the video, drop the audio
