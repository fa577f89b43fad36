"""The predictor's view of a video: frames prepared ahead of the tracker, kept as uint8.

:class:`VideoFrames` wraps a frame source (sam2/video/sources.py) with

* a bounded cache of (S, S, 3) uint8 frames (0.75 MB each at S = 512, 3 MB at 1024), so a
  long video never sits in memory, let alone as float32;
* a few worker threads that decode and resize the frames the tracker will ask for next
  (``prefetch(order)``), so the tracker does not wait for the host; Pillow and PyAV let go
  of the GIL while they work, and no lock is held during a decode;
* ``model_input(i, device)``: frame ``i`` shipped to the device as uint8 (from pinned
  memory, without blocking, on CUDA) and normalised there (sam2/video/normalize.py).

``wait_seconds`` / ``waits`` count the time callers blocked for a frame that was not ready:
with a deep enough prefetch it stays near zero while tracking.
"""

import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Dict, Optional, Sequence, Set

import numpy as np
import torch

from sam2.video.normalize import IMG_MEAN, IMG_STD, FrameNormalizer
from sam2.video.sources import (  # noqa: F401  (re-exported: the sources' historical home)
    JpegFolderSource,
    StreamingFrameSource,
    VideoFileSource,
    VideoLoadError,
    open_frame_source,
    resize_frame,
)

__all__ = [
    "IMG_MEAN", "IMG_STD", "JpegFolderSource", "StreamingFrameSource", "VideoFileSource", "VideoFrames",
    "VideoLoadError", "open_frame_source", "resize_frame",
]


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 1) - 1))


class VideoFrames:
    """Frames of a source, prepared ahead, cached as uint8, normalised on the model's device.

    ``len(frames)`` is the frame count; ``frames[i]`` the normalised (3, S, S) float32 frame
    on the CPU (the official state's ``images``). ``cache_frames`` bounds the cache;
    ``prefetch_depth`` (default half the cache) how far ahead of the tracker frames are
    prepared; ``workers`` the number of threads preparing them.
    """

    def __init__(self, source, cache_frames: int = 16, prefetch_depth: Optional[int] = None,
                 workers: Optional[int] = None):
        self.source = source
        self.cache_frames = max(1, cache_frames)
        depth = self.cache_frames // 2 if prefetch_depth is None else prefetch_depth
        # Prefetched frames must not push each other out of the cache before they are used.
        self.prefetch_depth = max(0, min(depth, self.cache_frames // 2))
        self.workers = default_workers() if workers is None else max(1, workers)
        self.wait_seconds = 0.0
        self.waits = 0
        self._cache: "OrderedDict[int, torch.Tensor]" = OrderedDict()
        self._loading: Dict[int, Future] = {}
        self._failed: Set[int] = set()  # frames whose read failed: not prefetched again
        self._lock = threading.Lock()  # guards the cache, the loads in flight and the plan
        self._plan: Sequence[int] = ()
        self._plan_pos: Dict[int, int] = {}
        self._plan_next = 0
        self._active_workers = 0
        self._pool: Optional[ThreadPoolExecutor] = None
        self._pin = False
        self._closed = False
        self._normalize = FrameNormalizer()

    def __len__(self) -> int:
        return self.source.num_frames

    @property
    def height(self) -> int:
        return self.source.height

    @property
    def width(self) -> int:
        return self.source.width

    # ------------------------------------------------------------------ frames
    def model_input(self, index: int, device) -> torch.Tensor:
        """Frame ``index`` as the model's input: normalised (1, 3, S, S) float32 on ``device``."""
        device = torch.device(device)
        if device.type == "cuda" and not self._pin:
            self._pin = torch.cuda.is_available()  # frames loaded from now on are pinned
        frame = self._get(index)
        return self._normalize(frame.to(device, non_blocking=True))

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.model_input(index, "cpu")[0]

    def uint8(self, index: int) -> np.ndarray:
        """(S, S, 3) uint8 frame ``index`` (a read-only view of the cached frame)."""
        view = self._get(index).numpy()
        view.flags.writeable = False
        return view

    def original(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 frame ``index`` at the video's own size (not cached; not for streams)."""
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, got {index!r}")
        if not 0 <= index < len(self):
            raise IndexError(f"frame index {index} is out of range: the video has {len(self)} frames (0..{len(self) - 1})")
        read_original = getattr(self.source, "read_original", None)
        if read_original is None:
            raise VideoLoadError("this frame source keeps only model-size frames (a stream); no original frames")
        # The sources guard their own decoders; no cache lock is needed around a read.
        return read_original(int(index))

    def _get(self, index: int) -> torch.Tensor:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"frame index must be an integer, got {index!r}")
        if not 0 <= index < len(self):
            raise IndexError(f"frame index {index} is out of range: the video has {len(self)} frames (0..{len(self) - 1})")
        index = int(index)
        with self._lock:
            self._advance_plan(index)
            frame = self._cache.get(index)
            if frame is not None:
                self._cache.move_to_end(index)
                return frame
            pending = self._loading.get(index)
            if pending is None:  # load it here, now: nobody else is on it
                pending = self._loading[index] = Future()
                mine = True
            else:
                mine = False
        started = time.perf_counter()
        try:
            if mine:
                self._load(index, pending)
            return pending.result()
        finally:
            self.wait_seconds += time.perf_counter() - started
            self.waits += 1

    def _load(self, index: int, pending: Future) -> None:
        """Read, convert and cache frame ``index``; the outcome goes to ``pending``. No lock held
        while reading."""
        try:
            frame = torch.from_numpy(self.source.read(index))
            if self._pin:
                frame = frame.pin_memory()
        except BaseException as e:
            with self._lock:
                self._loading.pop(index, None)
                self._failed.add(index)
            pending.set_exception(e)
            return
        with self._lock:
            self._loading.pop(index, None)
            self._cache[index] = frame
            self._evict()
        pending.set_result(frame)

    def _evict(self) -> None:
        """Drop least recently used frames beyond the bound, sparing the ones about to be used."""
        if len(self._cache) <= self.cache_frames:
            return
        for index in list(self._cache):
            if len(self._cache) <= self.cache_frames:
                break
            if not self._upcoming(index):
                del self._cache[index]

    # ------------------------------------------------------------------ prefetching
    def prefetch(self, order: Sequence[int]) -> None:
        """The frames the caller will ask for next, in that order (e.g. a whole propagation).

        Replaces the previous order. Workers keep up to ``prefetch_depth`` frames ahead of the
        newest frame asked for that lies in this order; a frame asked for outside it (a click
        elsewhere) leaves the order in place.
        """
        if self.prefetch_depth == 0 or self._closed:
            return
        order = [int(i) for i in order if 0 <= i < len(self)]
        with self._lock:
            self._plan = order
            self._plan_pos = {index: pos for pos, index in reversed(list(enumerate(order)))}
            self._plan_next = 0
            self._start_workers()

    def _advance_plan(self, index: int) -> None:
        pos = self._plan_pos.get(index)
        if pos is not None and pos >= self._plan_next:
            self._plan_next = pos + 1
            self._start_workers()

    def _upcoming(self, index: int) -> bool:
        pos = self._plan_pos.get(index)
        return pos is not None and self._plan_next <= pos < self._plan_next + self.prefetch_depth

    def _next_to_load(self) -> Optional[int]:
        window = self._plan[self._plan_next : self._plan_next + self.prefetch_depth]
        for index in window:
            if index not in self._cache and index not in self._loading and index not in self._failed:
                return index
        return None

    def _start_workers(self) -> None:
        """Under the lock: enough workers for the frames missing in the prefetch window."""
        if self._closed:
            return
        missing = sum(1 for i in self._plan[self._plan_next : self._plan_next + self.prefetch_depth]
                      if i not in self._cache and i not in self._loading and i not in self._failed)
        wanted = min(self.workers, missing) - self._active_workers
        if wanted <= 0:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="sam2-frames")
        for _ in range(wanted):
            self._active_workers += 1
            self._pool.submit(self._work)

    def _work(self) -> None:
        """A worker: load the next missing frame of the window until none is missing."""
        while True:
            with self._lock:
                index = None if self._closed else self._next_to_load()
                if index is None:
                    self._active_workers -= 1
                    return
                pending = self._loading[index] = Future()
            self._load(index, pending)  # a failure is the caller's to see: it reads the frame itself

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._plan, self._plan_pos = (), {}
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        with self._lock:
            self._cache.clear()
        self.source.close()
