"""Video I/O with PyAV only (no ffmpeg binary): probe, transcode to a browser-safe MP4, posters.

Transcoded output: H.264 yuv420p in MP4 (moov first), a constant frame rate, rotation applied,
long side <= `Limits.max_long_side`, even width and height, no audio. Frame k of the output is
shown at time k / fps, so the frame indices of the server and of a browser agree.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from .errors import InvalidMedia, LimitExceeded
from .settings import Limits

log = logging.getLogger(__name__)

# Formats FFmpeg opens as one-image "videos" (a renamed PNG or JPEG): not a video to segment.
_IMAGE_FORMATS = ("image2", "png_pipe", "jpeg_pipe", "bmp_pipe", "webp_pipe", "gif", "apng")


@dataclass(frozen=True)
class VideoProbe:
    """What the container headers (and the first decoded frame) say about a video.

    width/height are the display size, after rotation; fps is a Fraction (frames per second);
    num_frames is the header's count (None when the container does not store it).
    """

    width: int
    height: int
    rotation: int  # degrees, PyAV's `VideoFrame.rotation` (-90: turn clockwise to display)
    fps: Fraction
    num_frames: int | None
    duration_sec: float | None
    codec: str
    container: str


def _open(path: Path, limits: Limits):
    # max_pixels makes FFmpeg refuse huge frames while it probes, so a forged header
    # (16000x16000) cannot make it allocate gigabytes before we look at the size.
    side = limits.max_input_side
    return av.open(str(path), options={"max_pixels": str(side * side)})


def probe(path: Path, limits: Limits) -> VideoProbe:
    """Read headers and decode one frame. Raises InvalidMedia for anything not a usable video."""
    try:
        container = _open(path, limits)
    except av.FFmpegError as exc:
        raise InvalidMedia(f"The file is not a readable video ({_ffmpeg_reason(exc)}).") from None
    with container:
        if container.format.name in _IMAGE_FORMATS or any(
            f in _IMAGE_FORMATS for f in container.format.name.split(",")
        ):
            raise InvalidMedia("The file is a still image, not a video.")
        if not container.streams.video:
            raise InvalidMedia("The file has no video stream (audio only or another kind of file).")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width <= 0 or height <= 0:
            raise InvalidMedia("The video stream has no valid frame size.")
        if max(width, height) > limits.max_input_side:
            raise LimitExceeded(
                f"The video is {width}x{height}; the largest accepted side is {limits.max_input_side} px."
            )
        duration = _duration_sec(container, stream)
        if duration is None:
            raise InvalidMedia("The file has no duration: it is not a video.")
        if duration <= 0:
            raise InvalidMedia("The video has zero duration.")
        fps = _frame_rate(stream)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise InvalidMedia(f"The video cannot be decoded ({_ffmpeg_reason(exc)}).") from None
        if first is None:
            raise InvalidMedia("The video holds no frames.")
        rotation = int(getattr(first, "rotation", 0) or 0) % 360
        if rotation in (90, 270):
            width, height = height, width
        frames = stream.frames if stream.frames and stream.frames > 0 else None
        return VideoProbe(
            width=width,
            height=height,
            rotation=rotation,
            fps=fps,
            num_frames=frames,
            duration_sec=duration,
            codec=stream.codec_context.name,
            container=container.format.name,
        )


def decodable_frames(path: Path, limits: Limits) -> int:
    """How many frames really decode, up to the first damaged packet (reads the whole file).

    A file cut short keeps its header's frame count and even some packets that no longer
    decode; a video opened for segmentation must not promise frames it cannot deliver.
    Raises InvalidMedia when the demuxer finds frames that do not decode, or none at all.
    """
    packets = decoded = 0
    try:
        with _open(path, limits) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for packet in container.demux(stream):
                if packet.size:
                    packets += 1
                decoded += len(packet.decode())
            # demux() ends with an empty packet, whose decode() flushes the decoder.
    except (av.FFmpegError, IndexError, ValueError) as exc:
        log.warning("%s stops decoding after %d frames: %s", path.name, decoded, exc)
    if decoded == 0:
        raise InvalidMedia("The video holds no frames that decode.")
    if decoded < packets:
        raise InvalidMedia(f"The video is damaged: only {decoded} of its {packets} frames decode.")
    return decoded


def _duration_sec(container, stream) -> float | None:
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000  # AV_TIME_BASE is microseconds
    return None


def _frame_rate(stream) -> Fraction:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        return Fraction(25)
    return Fraction(rate)


def output_frame_rate(source_fps: Fraction, max_fps: int) -> Fraction:
    """A clean constant rate for the output: exact integer and NTSC rates are kept, others rounded."""
    rate = min(Fraction(source_fps), Fraction(max_fps))
    if abs(rate - round(rate)) < Fraction(1, 100):
        return Fraction(max(1, round(rate)))
    ntsc = rate * Fraction(1001, 1000)
    if abs(ntsc - round(ntsc)) < Fraction(1, 100):
        return Fraction(round(ntsc) * 1000, 1001)
    return Fraction(max(1, round(rate)))


def output_size(width: int, height: int, max_long_side: int) -> tuple[int, int]:
    """Scale (w, h) so the long side fits, then round down to even sizes (>= 2)."""
    scale = min(1.0, max_long_side / max(width, height))

    def even(v: int) -> int:
        return max(2, math.floor(v * scale / 2) * 2)

    return even(width), even(height)


@dataclass(frozen=True)
class TranscodeResult:
    width: int
    height: int
    fps: Fraction
    num_frames: int

    @property
    def duration_sec(self) -> float:
        return float(self.num_frames / self.fps)


def transcode(
    src: Path,
    dst: Path,
    poster: Path,
    info: VideoProbe,
    limits: Limits,
    start_sec: float = 0.0,
    duration_sec: float | None = None,
) -> TranscodeResult:
    """Write `src[start, start+duration)` to `dst` (MP4) and its first frame to `poster` (JPEG).

    Frames are resampled to a constant rate: output frame k shows the source frame on screen at
    time start + k/fps (so variable-rate input keeps its timing). Raises InvalidMedia or
    LimitExceeded; the caller removes partial files.
    """
    fps = output_frame_rate(info.fps, limits.max_fps)
    width, height = output_size(info.width, info.height, limits.max_long_side)
    # Size in the stored (coded) orientation, before the rotation is applied.
    coded_w, coded_h = (height, width) if info.rotation in (90, 270) else (width, height)
    end_sec = start_sec + duration_sec if duration_sec is not None else None
    hard_stop = start_sec + limits.max_duration_sec  # guards headers that lie about duration
    eps = 0.25 / float(fps)
    written = 0
    held = None  # the source frame currently on screen (RGB ndarray)
    last_time = None
    last_span = 1.0 / float(info.fps)

    with (
        _open(src, limits) as source,
        av.open(str(dst), "w", format="mp4", options={"movflags": "+faststart"}) as sink,
    ):
        stream = source.streams.video[0]
        stream.thread_type = "AUTO"
        out = sink.add_stream("libx264", rate=fps)
        out.width, out.height, out.pix_fmt = width, height, "yuv420p"
        # No B-frames: decode order equals display order, simplest for browser-side decoders.
        out.options = {"crf": "20", "preset": "veryfast", "bf": "0", "g": str(max(1, round(fps * 2)))}

        def emit_until(limit_sec: float) -> None:
            nonlocal written
            while True:
                target = start_sec + written / float(fps)
                if target >= limit_sec - eps or (end_sec is not None and target >= end_sec - eps):
                    return
                if target >= hard_stop + eps:
                    raise LimitExceeded(
                        f"The video is longer than the limit of {limits.max_duration_sec:g} s."
                    )
                frame = av.VideoFrame.from_ndarray(held, format="rgb24")
                frame.pts = written
                for packet in out.encode(frame):
                    sink.mux(packet)
                if written == 0:
                    Image.fromarray(held).save(poster, format="JPEG", quality=85)
                written += 1

        if start_sec > 0:
            source.seek(int(start_sec / stream.time_base), stream=stream, backward=True)
        try:
            for index, frame in enumerate(source.decode(stream)):
                time = frame.time if frame.time is not None else index / float(info.fps)
                if held is not None:
                    emit_until(time)
                    if last_time is not None and time > last_time:
                        last_span = time - last_time
                if end_sec is not None and time >= end_sec:
                    break
                held = _to_display_rgb(frame, coded_w, coded_h, info.rotation)
                last_time = time
        except av.FFmpegError as exc:
            raise InvalidMedia(
                f"The video is damaged: decoding failed after {written} frames ({_ffmpeg_reason(exc)})."
            ) from None
        if held is None:
            raise InvalidMedia("The video holds no frames at or after the requested start time.")
        # A file cut short often decodes "cleanly" up to where it ends; compare with its header.
        expected_end = min(end_sec if end_sec is not None else math.inf, info.duration_sec or 0.0)
        if last_time + last_span < expected_end - max(2 * last_span, 0.1):
            raise InvalidMedia(
                f"The video is damaged or truncated: its header says {info.duration_sec:.2f} s, "
                f"but frames stop at {last_time + last_span:.2f} s."
            )
        emit_until(last_time + last_span)
        if written == 0:
            raise InvalidMedia("No frames in the requested time range.")
        for packet in out.encode(None):
            sink.mux(packet)
    return TranscodeResult(width=width, height=height, fps=fps, num_frames=written)


def _to_display_rgb(frame, coded_w: int, coded_h: int, rotation: int) -> np.ndarray:
    """(H, W, 3) uint8 RGB at the output size, upright."""
    rgb = frame.to_ndarray(format="rgb24", width=coded_w, height=coded_h)
    if rotation:
        # PyAV's rotation is counter-clockwise positive; np.rot90(k=1) turns counter-clockwise.
        rgb = np.ascontiguousarray(np.rot90(rgb, k=(rotation // 90) % 4))
    return rgb


def write_poster(video: Path, poster: Path, limits: Limits) -> None:
    """Save the first frame of `video` as a JPEG (used for gallery videos without a poster)."""
    with _open(video, limits) as container:
        frame = next(container.decode(container.streams.video[0]))
        frame.to_image().save(poster, format="JPEG", quality=85)


def _ffmpeg_reason(exc: Exception) -> str:
    reason = getattr(exc, "strerror", None) or str(exc)
    return str(reason).split(":")[0].strip() or type(exc).__name__
