"""The live camera protocol over a WebSocket at `/live`: messages, checked, no I/O here.

Client to server:
- text `{"type": "start", "width": W, "height": H}` first (the camera's frame size); or
  `{"type": "join", "liveId": ...}`, which is always refused with a clear error (a live session
  belongs to the connection that started it; a second tab must start its own).
- binary frames: 4 bytes big-endian frame number `seq` (increasing), then one JPEG, PNG or WebP
  image of exactly W x H pixels.
- text prompts on a frame the server answered with masks (`frame` is its `seq`), each with an
  optional `id` echoed back: `{"type": "addPoints", "frame", "objectId", "points": [[x, y]],
  "labels": [1|0], "clearOldPoints": true}` (normalised to [0, 1]); `{"type": "addBox", "frame",
  "objectId", "box": [x0, y0, x1, y1]}`; `{"type": "removeObject", "objectId"}`;
  `{"type": "record", "on": true|false}`; `{"type": "stop"}`.

Server to client (text): `started`, `masks` (per tracked frame, with the frames dropped since the
previous one), `prompted`, `removed`, `recording` (on, or off with the frames recorded),
`recorded` (path, numFrames, sessionId, objects: sent once the recording is stored, which runs
in the background), `error` (`code`, `message`, `fatal`), `end`.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .errors import BadInput
from .guards import CLIENT_ID_PATTERN

IMAGE_FORMATS = ("JPEG", "PNG", "WEBP")
_SEQ = struct.Struct(">I")
MAX_MESSAGE_CHARS = 64 * 1024  # a text message (prompts are small)


class BadFrame(BadInput):
    """One frame cannot be used; the session goes on."""

    code = "BAD_FRAME"


class LiveSessionTaken(BadInput):
    """A second connection names a live session (it belongs to the connection that started it)."""

    code = "IN_USE"


@dataclass(frozen=True)
class Start:
    width: int
    height: int
    client_id: str = ""  # the page's X-Client-Id: owner of what it records


@dataclass(frozen=True)
class Points:
    frame: int
    object_id: int
    points: np.ndarray  # (N, 2) normalised x, y
    labels: np.ndarray  # (N,) 1 positive, 0 negative
    clear_old_points: bool
    box: np.ndarray | None = None  # (4,) normalised x0, y0, x1, y1
    request_id: str | None = None


@dataclass(frozen=True)
class RemoveObject:
    object_id: int
    request_id: str | None = None


@dataclass(frozen=True)
class Record:
    on: bool


@dataclass(frozen=True)
class Stop:
    pass


Command = Points | RemoveObject | Record | Stop


@dataclass(frozen=True)
class FrameHeader:
    """A binary frame message checked without decoding the picture."""

    seq: int
    data: bytes  # the encoded image


def parse_json(text: str) -> dict:
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadInput(f"A text message may hold at most {MAX_MESSAGE_CHARS} characters.")
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"A text message must be JSON ({exc}).") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise BadInput('A text message must be a JSON object with a "type".')
    return message


def parse_start(message: dict, max_side: int) -> Start:
    if message["type"] == "join":
        raise LiveSessionTaken(
            "A live session belongs to the connection that started it and cannot be joined from "
            "another tab or connection; start a new one."
        )
    if message["type"] != "start":
        raise BadInput(
            f'The first message must be {{"type": "start", "width", "height"}}, not {message["type"]!r}.'
        )
    width, height = _integer(message, "width"), _integer(message, "height")
    if not (16 <= width <= max_side and 16 <= height <= max_side):
        raise BadInput(
            f"Camera frames must be 16 to {max_side} pixels a side (LIVE_MAX_SIDE), got {width}x{height}."
        )
    client_id = message.get("clientId", "")
    if not isinstance(client_id, str) or (client_id and not CLIENT_ID_PATTERN.fullmatch(client_id)):
        raise BadInput("clientId must be 8 to 64 characters of A-Z, a-z, 0-9, '_' and '-'.")
    return Start(width, height, client_id)


def parse_command(message: dict, max_points: int) -> Command:
    kind = message["type"]
    request_id = message.get("id")
    if request_id is not None and (not isinstance(request_id, (str, int)) or len(str(request_id)) > 64):
        raise BadInput('"id" must be a string or number of at most 64 characters.')
    request_id = None if request_id is None else str(request_id)
    if kind == "stop":
        return Stop()
    if kind == "record":
        on = message.get("on")
        if not isinstance(on, bool):
            raise BadInput('record needs "on": true (start recording) or false (stop and save).')
        return Record(on)
    if kind == "removeObject":
        return RemoveObject(_object_id(message), request_id)
    if kind in ("addPoints", "addBox"):
        frame = _integer(message, "frame")
        points = np.zeros((0, 2))
        labels = np.zeros((0,), dtype=np.int64)
        box = None
        if kind == "addPoints" or "points" in message:
            points, labels = _points(message, max_points)
        if kind == "addBox":
            box = _unit_floats(message.get("box"), 4, "box")
            if box[0] >= box[2] or box[1] >= box[3]:
                raise BadInput("box must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1.")
        clear = message.get("clearOldPoints", True)
        if not isinstance(clear, bool):
            raise BadInput("clearOldPoints must be true or false.")
        return Points(frame, _object_id(message), points, labels, clear or box is not None, box, request_id)
    raise BadInput(f"Unknown message type {kind!r} (addPoints, addBox, removeObject, stop).")


def parse_frame(data: bytes, start: Start, max_bytes: int) -> FrameHeader:
    """Check a binary frame message: its number, its size in bytes, its picture's format and size."""
    if len(data) < _SEQ.size + 1:
        raise BadFrame("A frame message is 4 bytes of frame number followed by an image.")
    (seq,) = _SEQ.unpack_from(data)
    image = data[_SEQ.size :]
    if len(image) > max_bytes:
        raise BadFrame(f"Frame {seq} is {len(image)} bytes; at most {max_bytes} (LIVE_MAX_FRAME_KB).")
    try:
        with Image.open(io.BytesIO(image)) as probe:  # reads the header only
            fmt, size = probe.format, probe.size
    except Exception:
        raise BadFrame(f"Frame {seq} is not an image (send JPEG, PNG or WebP).") from None
    if fmt not in IMAGE_FORMATS:
        raise BadFrame(f"Frame {seq} is {fmt}; send JPEG, PNG or WebP.")
    if size != (start.width, start.height):
        raise BadFrame(
            f"Frame {seq} is {size[0]}x{size[1]}, but this live session's frames are "
            f"{start.width}x{start.height}; start a new live session to change the size."
        )
    return FrameHeader(seq, image)


def decode_frame(frame: FrameHeader) -> np.ndarray:
    """(H, W, 3) uint8 RGB of a checked frame; BadFrame when its data is corrupt."""
    try:
        with Image.open(io.BytesIO(frame.data)) as image:
            return np.asarray(image.convert("RGB"))
    except Exception:
        raise BadFrame(f"Frame {frame.seq} could not be decoded (a corrupt image).") from None


def _integer(message: dict, name: str) -> int:
    value = message.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise BadInput(f"{name} must be a non-negative integer.")
    return value


def _object_id(message: dict) -> int:
    return _integer(message, "objectId")


def _unit_floats(value, count: int | None, name: str) -> np.ndarray:
    if not isinstance(value, list) or (count is not None and len(value) != count):
        raise BadInput(f"{name} must be a list of {count} numbers in [0, 1].")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 0 <= v <= 1:
            raise BadInput(f"{name} must hold numbers in [0, 1] (normalised coordinates).")
        out.append(float(v))
    return np.asarray(out, dtype=np.float64)


def _points(message: dict, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    points, labels = message.get("points"), message.get("labels")
    if not isinstance(points, list) or not isinstance(labels, list) or len(points) != len(labels):
        raise BadInput("points and labels must be lists of the same length.")
    if not 1 <= len(points) <= max_points:
        raise BadInput(f"Give 1 to {max_points} points.")
    coords = np.stack([_unit_floats(p, 2, "each point") for p in points])
    if any(label not in (0, 1) or isinstance(label, bool) for label in labels):
        raise BadInput("labels must be 1 (positive) or 0 (negative).")
    return coords, np.asarray(labels, dtype=np.int64)
