"""Video frames for the predictor: read lazily, resized once, kept in a bounded cache.

A frame source gives frame ``i`` as the model sees it: RGB resized to S x S (Pillow's
bicubic, like the official loader) as uint8. :class:`VideoFrames` normalises on demand
and keeps only a bounded number of frames, so a long video never sits in memory as
float32 tensors (12 MB per frame at S = 1024).

Sources: a folder of JPEG files (numeric names), a video file readable by PyAV, or frames
pushed one at a time (:class:`StreamingFrameSource`).
"""

import os
import re
import threading
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional

import numpy as np
import torch
from PIL import Image

IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)
JPEG_EXTENSIONS = (".jpg", ".jpeg", ".JPG", ".JPEG")


class VideoLoadError(ValueError):
    """The video (file or frame folder) cannot be read; the message says why."""


def resize_frame(image: Image.Image, size: int) -> np.ndarray:
    """PIL image -> (S, S, 3) uint8 RGB; Pillow's default (bicubic) resampling."""
    return np.array(image.convert("RGB").resize((size, size)))


# ----------------------------------------------------------------------------- sources
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

    The frame list comes from demuxing (no decoding) at open; a frame is decoded on demand,
    seeking to the nearest key frame for random access and decoding on for sequential reads.
    """

    def __init__(self, path: str, image_size: int, max_pixels: int = 8192 * 8192):
        import av

        self.path = path
        self.image_size = image_size
        try:
            self._container = av.open(path)
        except Exception as e:
            raise VideoLoadError(f"cannot open {path!r} as a video: {_first_line(e)}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoLoadError(f"{path!r} has no video stream")
        self._stream = self._container.streams.video[0]
        ctx = self._stream.codec_context
        if ctx.width * ctx.height > max_pixels or ctx.width <= 0 or ctx.height <= 0:
            self._container.close()
            raise VideoLoadError(f"{path!r} claims an unsupported frame size {ctx.width}x{ctx.height}")
        self._pts = self._scan_timestamps()
        if not self._pts:
            self._container.close()
            raise VideoLoadError(f"{path!r} contains no video frames")
        self.num_frames = len(self._pts)
        self._rotation = 0
        first = self._decode_at(0)
        self._rotation = int(getattr(first, "rotation", 0) or 0)
        image = self._to_array(first)
        self.height, self.width = image.shape[:2]
        self._next_index = 1

    def _scan_timestamps(self) -> List[int]:
        stamps = []
        try:
            for packet in self._container.demux(self._stream):
                if packet.size == 0:
                    continue
                stamp = packet.pts if packet.pts is not None else packet.dts
                stamps.append(stamp if stamp is not None else len(stamps))
        except Exception:
            pass  # a truncated file: keep the frames found before the damage
        self._container.seek(0, stream=self._stream)
        self._decoder = None
        return sorted(set(stamps))

    def _frames(self):
        if self._decoder is None:
            self._decoder = self._container.decode(self._stream)
        return self._decoder

    def _decode_at(self, index: int):
        target = self._pts[index]
        self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
        self._decoder = None
        return self._decode_until(index)

    def _decode_until(self, index: int):
        target = self._pts[index]
        try:
            for frame in self._frames():
                pts = frame.pts if frame.pts is not None else target
                if pts >= target:
                    return frame
        except Exception as e:
            raise VideoLoadError(f"frame {index} of {self.path!r} cannot be decoded: {_first_line(e)}") from None
        raise VideoLoadError(f"frame {index} of {self.path!r} cannot be decoded (the file ends early)")

    def _to_array(self, frame) -> np.ndarray:
        rgb = frame.to_ndarray(format="rgb24")
        if self._rotation:
            rgb = np.ascontiguousarray(np.rot90(rgb, k=self._rotation // 90))
        return rgb

    def read(self, index: int) -> np.ndarray:
        return resize_frame(Image.fromarray(self.read_original(index)), self.image_size)

    def read_original(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame at the video's own size (rotation applied)."""
        frame = self._decode_until(index) if index == self._next_index else self._decode_at(index)
        self._next_index = index + 1
        return self._to_array(frame)

    def close(self) -> None:
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
        if index not in self._frames:
            raise VideoLoadError(
                f"stream frame {index} is no longer held: a stream keeps its last {self.keep_last} frames"
            )
        return self._frames[index]

    def close(self) -> None:
        self._frames.clear()


def open_frame_source(video_path, image_size: int):
    """A JPEG folder or a video file (any container PyAV reads)."""
    if not isinstance(video_path, (str, os.PathLike)):
        raise TypeError(f"video_path must be a file or folder path, got {type(video_path).__name__}")
    path = os.fspath(video_path)
    if os.path.isdir(path):
        return JpegFolderSource(path, image_size)
    if not os.path.exists(path):
        raise VideoLoadError(f"video path {path!r} does not exist")
    if os.path.getsize(path) == 0:
        raise VideoLoadError(f"video file {path!r} is empty (0 bytes)")
    return VideoFileSource(path, image_size)


# ----------------------------------------------------------------------------- cached view
class VideoFrames:
    """Normalised model inputs of a frame source with a bounded LRU cache of uint8 frames.

    ``frames[i]`` is a (3, S, S) float32 tensor on the CPU, ``len(frames)`` the frame count.
    ``prefetch`` decodes upcoming frames in a background thread while the model computes.
    """

    def __init__(self, source, cache_frames: int = 16):
        self.source = source
        self.cache_frames = max(1, cache_frames)
        self._cache: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self._lock = threading.Lock()
        self._prefetcher: Optional[threading.Thread] = None
        self._mean = torch.tensor(IMG_MEAN, dtype=torch.float32)[:, None, None]
        self._std = torch.tensor(IMG_STD, dtype=torch.float32)[:, None, None]

    def __len__(self) -> int:
        return self.source.num_frames

    @property
    def height(self) -> int:
        return self.source.height

    @property
    def width(self) -> int:
        return self.source.width

    def uint8(self, index: int) -> np.ndarray:
        """(S, S, 3) uint8 frame ``index``."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame index {index} is out of range: the video has {len(self)} frames (0..{len(self) - 1})")
        with self._lock:
            frame = self._cache.get(index)
            if frame is None:
                frame = self.source.read(index)
                self._cache[index] = frame
                while len(self._cache) > self.cache_frames:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(index)
        return frame

    def __getitem__(self, index: int) -> torch.Tensor:
        # Same arithmetic as the official loader: /255 in float64, normalise in float32.
        pixels = torch.from_numpy(self.uint8(index)).permute(2, 0, 1).to(torch.float64) / 255.0
        return (pixels.to(torch.float32) - self._mean) / self._std

    def original(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 frame ``index`` at the video's own size (not cached; not for streams)."""
        if not 0 <= index < len(self):
            raise IndexError(f"frame index {index} is out of range: the video has {len(self)} frames (0..{len(self) - 1})")
        read_original = getattr(self.source, "read_original", None)
        if read_original is None:
            raise VideoLoadError("this frame source keeps only model-size frames (a stream); no original frames")
        with self._lock:
            return read_original(index)

    def prefetch(self, indices: Iterable[int]) -> None:
        """Decode ``indices`` (a few upcoming frames) in the background."""
        wanted = [i for i in indices if 0 <= i < len(self) and i not in self._cache]
        if not wanted or (self._prefetcher is not None and self._prefetcher.is_alive()):
            return

        def work():
            for i in wanted[: self.cache_frames // 2]:
                try:
                    self.uint8(i)
                except Exception:
                    return  # the foreground read will raise the error with context

        self._prefetcher = threading.Thread(target=work, name="sam2-frame-prefetch", daemon=True)
        self._prefetcher.start()

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.join()
        with self._lock:
            self._cache.clear()
            self.source.close()
