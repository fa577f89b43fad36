"""Recording a stretch of live tracking, and turning it into a video of the user's library.

While a camera records, every tracked frame is encoded into an H.264 file as it comes (nothing
is held in memory but the masks, as RLE) at a constant rate: the rate the camera was tracked at
when recording started, so the video plays about as fast as it happened. Stopping stores that
file as the user's upload (the same path as an uploaded file: probe, transcode, library,
quota), opens a session on it, gives each object its mask on the first recorded frame where it
appears as a mask prompt (so the video can be refined and tracked again like any other), and
keeps every other recorded frame's masks as tracked masks (exports read them). That runs on
the hub's saver thread (demo/backend/live.py, `RecordingSaver`), never on a camera's: a stopped
recording, or the recording of a session that ended any other way, is handed over whole.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np

from . import rle
from .errors import BadInput
from .inference import FrameMasks

if TYPE_CHECKING:
    from .service import DemoService

log = logging.getLogger(__name__)


@dataclass
class LiveRecording:
    path: Path
    fps: int
    max_frames: int
    masks: list[list[tuple[int, dict]]] = field(default_factory=list)  # per recorded frame
    _container: av.container.OutputContainer | None = None
    _stream: av.video.stream.VideoStream | None = None

    @classmethod
    def begin(cls, folder: Path, width: int, height: int, fps: float, max_seconds: float) -> LiveRecording:
        if width % 2 or height % 2:
            raise BadInput(
                f"Recording needs an even frame width and height (H.264); this camera sends {width}x{height}."
            )
        rate = max(1, min(60, round(fps)))
        recording = cls(folder / f"live-{secrets.token_hex(8)}.mp4", rate, max(1, round(max_seconds * rate)))
        recording._container = av.open(str(recording.path), "w")
        stream = recording._container.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast", "bf": "0"}
        recording._stream = stream
        return recording

    @property
    def full(self) -> bool:
        return len(self.masks) >= self.max_frames

    def add(self, rgb: np.ndarray, masks: FrameMasks) -> None:
        """One tracked frame (H, W, 3) uint8 RGB and its masks."""
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.masks.append(list(masks.masks))

    def finish(self) -> Path:
        for packet in self._stream.encode():
            self._container.mux(packet)
        self._container.close()
        self._container = None
        return self.path

    def discard(self) -> None:
        if self._container is not None:
            try:
                self._container.close()
            except Exception:  # a half-written file is removed below anyway
                pass
            self._container = None
        self.path.unlink(missing_ok=True)


def save_to_library(recording: LiveRecording, service: DemoService, owner: str, name: str) -> dict:
    """Store a finished recording as `owner`'s video with its objects and masks.

    Returns what the client needs: the video's path and frame count, and the new session's id.
    """
    path = recording.finish()
    try:
        with path.open("rb") as stream:
            record = service.upload_video(stream, None, None, owner=owner, file_name=name)
    finally:
        path.unlink(missing_ok=True)
    session_id = service.start_session(record.path, owner=owner)
    count = min(record.num_frames, len(recording.masks))
    if record.num_frames != len(recording.masks):
        log.warning("recording of %d frames stored as %d frames", len(recording.masks), record.num_frames)
    frames = [FrameMasks(k, recording.masks[k]) for k in range(count)]
    prompted: dict[int, int] = {}  # object -> first frame where its mask is not empty
    for frame in frames:
        for obj, rle_mask in frame.masks:
            if obj not in prompted and rle.area(rle_mask) > 0:
                prompted[obj] = frame.frame_index
    for obj, k in sorted(prompted.items()):
        rle_mask = dict(frames[k].masks)[obj]
        service.add_mask(session_id, k, obj, {"size": rle_mask["size"], "counts": rle_mask["counts"]})
    prompted_frames = set(prompted.values())
    service.keep_tracked_masks(session_id, [f for f in frames if f.frame_index not in prompted_frames])
    return {"path": record.path, "numFrames": record.num_frames, "sessionId": session_id,
            "objects": sorted(prompted)}  # fmt: skip
