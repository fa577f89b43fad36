"""`POST /propagate_in_video`: masks of every frame, streamed as `multipart/x-savi-stream`.

Each frame is one part:
    --frame\r\n
    Content-Type: application/json\r\n
    Content-Length: <bytes>\r\n
    Frame-Current: <parts so far, 1-based>\r\n
    Frame-Total: <parts planned>\r\n
    \r\n
    {"frame_index": i, "results": [{"object_id": k, "mask": {"size": [H, W], "counts": "..."}}]}\r\n

The stream ends with exactly one last part of another content type, and no closing delimiter:
- `application/vnd.sam2-demo.end+json`: {"end": true, "frames": n, "cancelled": bool}, all went well;
- `application/vnd.sam2-demo.error+json`: {"error": {"message": ..., "code": ...}}: a failure, the
  session ending meanwhile (SESSION_EXPIRED), or the server shutting down (SHUTTING_DOWN).
Why this shape: Meta's official page parses the stream strictly (every part framed by
`--frame\r\n`, a `Content-Length`, nothing else between parts; a `--frame--` is "bad part
boundary") and reads `results` from every `application/json` part, but passes over parts of
other types. So it survives both last parts, and our page, which looks for one of them, tells a
complete stream from one cut short (see demo/frontend/src/api/multipart.ts).

When the client disconnects, or stops reading for CLIENT_WRITE_TIMEOUT_SEC, the server's write
fails, the WSGI server closes this generator, and the propagation stops there. A cancel that finds
the stream stuck in such a write breaks the connection at once.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator

from flask import Blueprint, Response, current_app, request

from . import draining
from .errors import BadInput, DemoError, ShuttingDown
from .inference import FrameMasks
from .service import DemoService, Propagation

log = logging.getLogger(__name__)

BOUNDARY = "frame"
FRAME_TYPE = "application/json"
END_TYPE = "application/vnd.sam2-demo.end+json"
ERROR_TYPE = "application/vnd.sam2-demo.error+json"
_STALLED_WRITE_SEC = 0.5  # a write blocked this long means the client is not reading
blueprint = Blueprint("streaming", __name__)
_SHUTDOWN_MESSAGE = "The server is restarting; track again in a moment."
_running: set[Propagation] = set()  # streams of this process, ended on shutdown
_running_lock = threading.Lock()


def _end_streams_for_shutdown() -> None:
    """Each running stream stops at its next frame and says why (see stream_parts)."""
    with _running_lock:
        running = list(_running)
    for propagation in running:
        propagation.session.cancel()
        if propagation.abort_transport is not None:
            propagation.abort_transport()  # a stream stuck writing to a client that does not read


def _forget(propagation: Propagation) -> None:
    with _running_lock:
        _running.discard(propagation)


def _streams_running() -> bool:
    with _running_lock:
        return bool(_running)


@blueprint.record_once
def _on_register(_state) -> None:
    draining.register(_end_streams_for_shutdown, _streams_running)


def frame_body(frame: FrameMasks) -> dict:
    return {
        "frame_index": frame.frame_index,
        "results": [
            {"object_id": obj, "mask": {"size": m["size"], "counts": m["counts"]}} for obj, m in frame.masks
        ],
    }


def part(body: dict, current: int, total: int, content_type: str = FRAME_TYPE) -> bytes:
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        f"--{BOUNDARY}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        f"Frame-Current: {current}\r\n"
        f"Frame-Total: {total}\r\n\r\n"
    )
    return head.encode() + payload + b"\r\n"


def stream_parts(propagation: Propagation) -> Iterator[bytes]:
    sent = 0
    # An empty first chunk makes the WSGI server send the headers now: a client waiting for
    # them must not hang while this propagation waits for its session lock.
    yield b""
    try:
        with contextlib.closing(propagation.frames()) as frames:
            for frame in frames:
                sent += 1
                propagation.writing_since = time.monotonic()
                yield part(frame_body(frame), sent, propagation.total_frames)
                propagation.writing_since = None
        if draining.is_draining():
            raise ShuttingDown(_SHUTDOWN_MESSAGE)
    except DemoError as exc:
        yield part(exc.to_json(), sent, propagation.total_frames, ERROR_TYPE)
        return
    except Exception:  # a bug: say so in-band, keep the details in the log
        log.exception("propagation stream failed")
        failure = {"error": {"message": "Internal server error during propagation.", "code": "INTERNAL"}}
        yield part(failure, sent, propagation.total_frames, ERROR_TYPE)
        return
    yield part({"end": True, "frames": sent, "cancelled": propagation.cancelled}, sent, propagation.total_frames, END_TYPE)


@blueprint.route("/propagate_in_video", methods=["POST"])
def propagate_in_video() -> Response:
    service: DemoService = current_app.extensions["sam2_demo"]
    if draining.is_draining():
        raise ShuttingDown(_SHUTDOWN_MESSAGE)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadInput('The body must be JSON like {"session_id": "...", "start_frame_index": 0}.')
    start = data.get("start_frame_index", 0)
    propagation = service.start_propagation(
        data.get("session_id"), start, data.get("direction", "both"), data.get("max_frames")
    )
    _let_cancel_break_stalled_writes(propagation, request.environ.get("gunicorn.socket"))
    response = Response(
        stream_parts(propagation),
        content_type=f"multipart/x-savi-stream; boundary={BOUNDARY}",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
    # Frees the propagation slot even if the stream never started.
    response.call_on_close(propagation.close)
    with _running_lock:
        _running.add(propagation)
    response.call_on_close(lambda: _forget(propagation))
    return response


def _let_cancel_break_stalled_writes(propagation: Propagation, sock: socket.socket | None) -> None:
    """A cancel cannot reach a propagation blocked in a write to a client that does not read;
    shutting the connection down ends that write at once (the client has given up anyway)."""
    session = propagation.session

    def abort() -> None:
        started = propagation.writing_since
        if sock is not None and started is not None and time.monotonic() - started > _STALLED_WRITE_SEC:
            log.info("breaking the stalled stream of session %s…", session.id[:6])
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    propagation.abort_transport = abort
