"""Streaming stages: a producer thread feeding batches through a bounded queue, a consumer thread
draining one, and progress in frames/s with an ETA. No torch.

    source frames --(Prefetcher thread: pull, batch, to float32; queue of ``depth`` batches)-->
        inference (the caller's thread) --(Drain thread; queue of ``depth`` items)--> sink

At most ``depth`` batches wait in each queue, so memory is bounded for any number of frames.
Whichever side stops first (end, error, interrupt) stops the other: the threads poll a stop flag,
errors raised in a thread are raised again in the caller's thread, and ``close()`` joins them.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np

_END = object()
_POLL_S = 0.05


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class Prefetcher:
    """Pulls frames from ``frames`` in a thread and hands out batches ``(array, is_uint8)``.

    Frames are [H, W, 3] uint8 (0..255) or float (0..1); a batch holds up to ``batch_size``
    consecutive frames of one size and kind, as float32 [N, H, W, 3] in 0..1. A frame of another
    size or kind ends the batch; ``new_shape`` tells the consumer that a batch starts another size.
    """

    def __init__(self, frames: Iterable[np.ndarray], batch_size: int = 8, depth: int = 2):
        if batch_size < 1 or depth < 1:
            raise ValueError("batch_size and depth must be at least 1")
        self.batch_size = batch_size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, args=(frames,), name="stylert-prefetch", daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, frames) -> None:
        source = iter(frames)
        batch: list[np.ndarray] = []
        key = None
        try:
            for frame in source:
                if self._stop.is_set():
                    return
                frame = np.asarray(frame)
                if frame.ndim != 3 or frame.shape[2] != 3:
                    raise ValueError(f"a frame must be [H, W, 3] RGB, got shape {frame.shape}")
                frame_key = (frame.shape, frame.dtype == np.uint8)
                if batch and (frame_key != key or len(batch) == self.batch_size):
                    if not self._put(self._pack(batch, key)):
                        return
                    batch = []
                key = frame_key
                batch.append(frame)
            if batch and not self._put(self._pack(batch, key)):
                return
            self._put(_END)
        except BaseException as err:  # handed to the consumer, raised there
            self._put(_Failure(err))
        finally:
            close = getattr(source, "close", None)
            if close is not None:  # a generator (a decoder) is closed in the thread that ran it
                close()

    @staticmethod
    def _pack(batch, key):
        stacked = np.stack(batch)
        if key[1]:
            return stacked.astype(np.float32) * np.float32(1 / 255), True
        return stacked.astype(np.float32, copy=False), False

    def __iter__(self) -> Iterator[tuple[np.ndarray, bool]]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class Drain:
    """Calls ``sink(item)`` in a thread for each ``put(item)``, in order, with at most ``depth`` waiting.

    ``finish()`` waits for the last item and raises the sink's error, if any; ``abort()`` drops
    what is waiting and stops. ``put`` raises the sink's error as soon as it is known.
    """

    def __init__(self, sink: Callable[[object], None], depth: int = 4):
        self._sink = sink
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="stylert-drain", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=_POLL_S)
            except queue.Empty:
                continue
            if item is _END:
                return
            try:
                self._sink(item)
            except BaseException as err:
                self._error = err
                self._stop.set()
                return

    def put(self, item) -> None:
        while True:
            if self._error is not None:
                raise self._error
            if self._stop.is_set():
                raise RuntimeError("the sink was stopped")
            try:
                self._queue.put(item, timeout=_POLL_S)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        self.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abort(self) -> None:
        self._stop.set()
        self._thread.join()


class Progress:
    """Frames done -> ``"frame 120/240, 3.21 frames/s, ETA 0:37"`` (no total: no ETA)."""

    def __init__(self, total: int = 0, clock: Callable[[], float] = time.perf_counter):
        self.total = int(total)
        self._clock = clock
        self._start = clock()
        self.done = 0

    @property
    def rate(self) -> float:
        return self.done / max(self._clock() - self._start, 1e-9)

    def eta_seconds(self) -> float | None:
        if not self.total or not self.done:
            return None
        return max(self.total - self.done, 0) / max(self.rate, 1e-9)

    def update(self, done: int) -> str:
        self.done = done
        text = f"frame {done}" + (f"/{self.total}" if self.total else "") + f", {self.rate:.2f} frames/s"
        eta = self.eta_seconds()
        if eta is not None:
            m, s = divmod(int(round(eta)), 60)
            h, m = divmod(m, 60)
            text += f", ETA {h}:{m:02d}:{s:02d}" if h else f", ETA {m}:{s:02d}"
        return text
