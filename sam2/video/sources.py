"""Frame sources: where the predictor's frames come from, each read as (S, S, 3) uint8 RGB.

``read(i)`` gives frame ``i`` as the model sees it: RGB resized to S x S with Pillow's
bicubic (like the official loader). Sources: a folder of JPEG files (numeric names), a
video file readable by PyAV, or frames pushed one at a time (:class:`StreamingFrameSource`).

Thread safety: :class:`VideoFrames` (sam2/video/frames.py) calls ``read`` from several
worker threads at once. JPEG and stream reads are independent; a video file has one
sequential decoder, guarded by its own lock, and the costly conversion and resize of a
decoded frame happen outside that lock.
"""

import bisect
import os
import re
import threading
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

JPEG_EXTENSIONS = (".jpg", ".jpeg", ".JPG", ".JPEG")


class VideoLoadError(ValueError):
    """The video (file or frame folder) cannot be read; the message says why."""


def resize_frame(image: Image.Image, size: int) -> np.ndarray:
    """PIL image -> (S, S, 3) uint8 RGB; Pillow's default (bicubic) resampling."""
    return np.array(image.convert("RGB").resize((size, size)))


class JpegFolderSource:
    """Frames from ``<folder>/<number>.jpg``, ordered by the number in the name."""

    def __init__(self, folder: str, image_size: int):
        self.image_size = image_size
        names = [n for n in os.listdir(folder) if os.path.splitext(n)[1] in JPEG_EXTENSIONS]
        if not names:
            raise VideoLoadError(
                f"no JPEG frames (.jpg/.jpeg) in folder {folder!r}; extract frames first, e.g. "
                "with PyAV, naming them 00000.jpg, 00001.jpg, ..."
            )
        self.paths = [os.path.join(folder, n) for n in sorted(names, key=_frame_sort_key)]
        sizes = {}
        for path in self.paths:
            try:
                with Image.open(path) as im:
                    sizes.setdefault(im.size, path)
            except Exception as e:
                raise VideoLoadError(f"frame {path!r} is not a readable image: {e}") from None
        if len(sizes) > 1:
            listed = ", ".join(f"{w}x{h} ({os.path.basename(p)})" for (w, h), p in sizes.items())
            raise VideoLoadError(f"frames in {folder!r} have different sizes: {listed}; all frames must match")
        (self.width, self.height), = sizes.keys()
        self.num_frames = len(self.paths)

    def read(self, index: int) -> np.ndarray:
        with Image.open(self.paths[index]) as im:
            return resize_frame(im, self.image_size)

    def read_original(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame at the video's own size."""
        with Image.open(self.paths[index]) as im:
            return np.array(im.convert("RGB"))

    def close(self) -> None:
        pass


def _frame_sort_key(name: str):
    stem = os.path.splitext(name)[0]
    if stem.isdigit():
        return (0, int(stem), "")
    # Not a plain number: order by the numbers inside the name ("frame_12" after "frame_2").
    return (1, 0, [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", stem)])


class VideoFileSource:
    """Frames of a video file decoded with PyAV, in presentation order, rotation applied.

    Opening demuxes the file once (no decoding) to list the frames' timestamps and which of
    them are key frames. One decoder then serves every read: a frame ahead of the decoder
    in the same group of pictures (GOP) is reached by decoding on; any other frame by a seek
    to its GOP's key frame. Every frame decoded on the way is kept (as the decoder's own
    picture, about 1.5 bytes a pixel for 4:2:0) in a cache bounded by ``decoded_cache_bytes``,
    so clicking around inside a GOP decodes it once, not once per click.
    ``decoded_frames`` and ``seeks`` count the decoder's work.
    """

    DECODE_ON_REACH = 8  # frames of an earlier GOP still decoded through rather than seeked past

    def __init__(self, path: str, image_size: int, max_pixels: int = 8192 * 8192,
                 decoded_cache_bytes: int = 256 * 1024**2):
        import av

        self.path = path
        self.image_size = image_size
        self.decoded_cache_bytes = decoded_cache_bytes
        try:
            self._container = av.open(path)
        except Exception as e:
            raise VideoLoadError(f"cannot open {path!r} as a video: {_first_line(e)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoLoadError(f"{path!r} has no video stream")
        self._stream = self._container.streams.video[0]
        self.fps = float(self._stream.average_rate or 0)  # frames a second (0: unknown)
        ctx = self._stream.codec_context
        if ctx.width * ctx.height > max_pixels or ctx.width <= 0 or ctx.height <= 0:
            self._container.close()
            raise VideoLoadError(f"{path!r} claims an unsupported frame size {ctx.width}x{ctx.height}")
        self._pts, self._key_frames = self._scan()
        if not self._pts:
            self._container.close()
            raise VideoLoadError(f"{path!r} contains no video frames")
        self._index_of_pts = {pts: i for i, pts in enumerate(self._pts)}
        self.num_frames = len(self._pts)
        self._lock = threading.Lock()  # one decoder: reads of the container are sequential
        self._decoded: "OrderedDict[int, Tuple[object, int]]" = OrderedDict()  # index -> (frame, bytes)
        self._decoded_bytes = 0
        self._decoder = None
        self._position = -1  # index of the last frame the decoder returned; -1: after a seek
        self.decoded_frames = 0
        self.seeks = 0
        self._rotation = 0
        first = self._decoded_frame(0)
        self._rotation = int(getattr(first, "rotation", 0) or 0)
        self.height, self.width = self._to_array(first).shape[:2]

    def _scan(self) -> Tuple[List[int], List[int]]:
        """Sorted presentation timestamps, and the indices of the key frames among them."""
        stamps, keys = [], set()
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                stamp = stamp if stamp is not None else len(stamps)
                stamps.append(stamp)
                if packet.is_keyframe:
                    keys.add(stamp)
        except Exception:
            pass  # a truncated file: keep the frames found before the damage
        self._container.seek(0, stream=self._stream)
        pts = sorted(set(stamps))
        key_frames = sorted({0} | {bisect.bisect_left(pts, k) for k in keys})
        return pts, key_frames

    def key_frame_before(self, index: int) -> int:
        """Index of the key frame that starts the GOP holding frame ``index``."""
        return self._key_frames[bisect.bisect_right(self._key_frames, index) - 1]

    def _decoded_frame(self, index: int):
        """The decoder's picture of frame ``index`` (a PyAV frame); decodes only what is missing."""
        with self._lock:
            cached = self._decoded.get(index)
            if cached is not None:
                self._decoded.move_to_end(index)
                return cached[0]
            key = self.key_frame_before(index)
            # Decode on when the decoder stands before the frame, in its GOP or at most a few
            # frames before that GOP (worker threads ask for neighbouring frames in any order:
            # a seek past the one another thread is about to ask for would cost two seeks);
            # anything else (behind, or GOPs away) costs less by a seek to the frame's key frame.
            if self._position >= 0 and key - 1 - self.DECODE_ON_REACH <= self._position < index:
                return self._decode_until(index, first_kept=self._position + 1)
            self._container.seek(self._pts[key], stream=self._stream, backward=True, any_frame=False)
            self._decoder = None
            self._position = -1
            self.seeks += 1
            return self._decode_until(index, first_kept=key)

    def _decode_until(self, index: int, first_kept: int):
        target = self._pts[index]
        try:
            if self._decoder is None:
                self._decoder = self._container.decode(self._stream)
            for frame in self._decoder:
                self.decoded_frames += 1
                if frame.pts is not None:
                    found = self._index_of_pts.get(frame.pts)
                else:
                    found = self._position + 1 if self._position >= 0 else None
                if found is not None and found >= first_kept:
                    # (Frames before the key frame, e.g. leading B-frames of an open GOP,
                    # may miss their references: never kept.)
                    self._position = found
                    self._keep(found, frame)
                if frame.pts is None or frame.pts >= target:
                    return frame
        except Exception as e:
            self._decoder, self._position = None, -1
            raise VideoLoadError(f"frame {index} of {self.path!r} cannot be decoded: {_first_line(e)}") from None
        self._decoder, self._position = None, -1
        raise VideoLoadError(f"frame {index} of {self.path!r} cannot be decoded (the file ends early)")

    def _keep(self, index: int, frame) -> None:
        size = sum(plane.buffer_size for plane in frame.planes)
        old = self._decoded.pop(index, None)
        if old is not None:
            self._decoded_bytes -= old[1]
        self._decoded[index] = (frame, size)
        self._decoded_bytes += size
        while self._decoded_bytes > self.decoded_cache_bytes and len(self._decoded) > 1:
            _, (_, dropped) = self._decoded.popitem(last=False)
            self._decoded_bytes -= dropped

    def _to_array(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self._rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self._rotation // 90))
        return rgb

    def read(self, index: int) -> np.ndarray:
        frame = self._decoded_frame(index)
        # Colour conversion and resize outside the decoder lock: other threads decode meanwhile.
        return resize_frame(Image.fromarray(self._to_array(frame)), self.image_size)

    def read_original(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame at the video's own size (rotation applied)."""
        return self._to_array(self._decoded_frame(index))

    def close(self) -> None:
        with self._lock:
            self._decoded.clear()
            self._decoded_bytes = 0
            self._container.close()


def _first_line(e: Exception) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


class StreamingFrameSource:
    """Frames pushed one at a time (a camera, a live stream); the video grows as they come.

    Only the newest ``keep_last`` frames are held (a stream may run for hours); tracking
    needs just the frame being tracked, and prompts go on recent frames.
    """

    def __init__(self, image_size: int, first_frame: np.ndarray, keep_last: int = 64):
        self.image_size = image_size
        self.keep_last = max(1, keep_last)
        self._frames: Dict[int, np.ndarray] = {}
        self._count = 0
        arr = np.asarray(first_frame)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise VideoLoadError(f"stream frames must be (H, W, 3) uint8 RGB, got {arr.shape} {arr.dtype}")
        self.height, self.width = arr.shape[:2]
        self.append(arr)

    @property
    def num_frames(self) -> int:
        return self._count

    def append(self, frame: np.ndarray) -> int:
        arr = np.asarray(frame)
        if arr.shape != (self.height, self.width, 3) or arr.dtype != np.uint8:
            raise VideoLoadError(
                f"stream frame must be ({self.height}, {self.width}, 3) uint8 like the first one, "
                f"got {arr.shape} {arr.dtype}"
            )
        index = self._count
        self._frames[index] = resize_frame(Image.fromarray(arr), self.image_size)
        self._frames.pop(index - self.keep_last, None)
        self._count += 1
        return index

    def read(self, index: int) -> np.ndarray:
        frame = self._frames.get(index)
        if frame is None:
            raise VideoLoadError(
                f"stream frame {index} is no longer held: a stream keeps its last {self.keep_last} frames"
            )
        return frame

    def close(self) -> None:
        self._frames.clear()


def open_frame_source(video_path, image_size: int, decoded_cache_bytes: int = 256 * 1024**2):
    """A JPEG folder or a video file (any container PyAV reads).

    ``decoded_cache_bytes`` bounds a video file's cache of decoded pictures (see VideoFileSource).
    """
    if not isinstance(video_path, (str, os.PathLike)):
        raise TypeError(f"video_path must be a file or folder path, got {type(video_path).__name__}")
    path = os.fspath(video_path)
    if os.path.isdir(path):
        return JpegFolderSource(path, image_size)
    if not os.path.exists(path):
        raise VideoLoadError(f"video path {path!r} does not exist")
    if os.path.getsize(path) == 0:
        raise VideoLoadError(f"video file {path!r} is empty (0 bytes)")
    return VideoFileSource(path, image_size, decoded_cache_bytes=decoded_cache_bytes)
