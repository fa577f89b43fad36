"""`GET /live`: a live camera's WebSocket, on the same port as the rest of the API.

The WebSocket is simple-websocket's (wsproto underneath), run in the gunicorn request thread
that received the upgrade: it reads messages on a thread of its own, this thread hands them to
the camera's `LiveSession` (demo/backend/live.py), whose tracker thread answers. Why this
library and how it fits our worker: docs/live-camera.md.

Two details of the fit: the socket is handed to simple-websocket wrapped so that each message
goes out whole (`sendall`: a plain `send` may write part of a large message when the client's
window is full) and one writer at a time (the tracker's answers, this thread's errors and the
reader's pongs); and pings every `_PING_SEC` keep an idle camera's connection open past the
socket timeout the worker sets, and close it when a client has vanished without a word.
"""

from __future__ import annotations

import json
import logging
import threading
import time

from flask import Blueprint, Response, current_app, request
from simple_websocket import ConnectionClosed, Server

from . import live_protocol as proto
from .errors import BadInput, DemoError, LimitExceeded
from .live import LiveHub, LiveSession

log = logging.getLogger(__name__)
blueprint = Blueprint("live", __name__)

_PING_SEC = 10.0  # a client that answers no ping within this is gone
_START_SEC = 5.0  # the "start" message must come within this (the connection holds a thread)
_REFUSE_AFTER_SEC = 0.5  # the longest a connection the server has no room for holds a thread
_POLL_SEC = 0.5  # how often the receiving thread looks at the session's end and deadline
_MAX_BACKLOG = 256  # messages received but not yet read; beyond, the client is flooding: closed
_SAVE_WAIT_SEC = 120.0  # at the end, how long a connection waits for its recordings to be stored


class _WholeWrites:
    """The connection's socket as simple-websocket uses it: whole messages, one writer at a time."""

    def __init__(self, sock):
        self._sock = sock
        self._lock = threading.Lock()

    def send(self, data: bytes) -> int:
        with self._lock:
            self._sock.sendall(data)  # times out after CLIENT_WRITE_TIMEOUT_SEC (worker.py)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self._sock.recv(size)

    def fileno(self) -> int:
        return self._sock.fileno()

    def close(self) -> None:
        self._sock.close()


class _Sender:
    """JSON messages to the client; a client that is gone or stalled makes it `broken`, not an error."""

    def __init__(self, ws: Server):
        self.ws = ws
        self.lock = threading.Lock()  # the deflate extension's state is per connection
        self.broken = False

    def __call__(self, message: dict) -> None:
        if self.broken:
            return
        text = json.dumps(message, separators=(",", ":"))
        try:
            with self.lock:
                self.ws.send(text)
        except (ConnectionClosed, OSError):
            self.broken = True


class _TakenOver(Response):
    """The WSGI answer once the WebSocket is over: gunicorn writes nothing more on the socket."""

    def __call__(self, environ, start_response):
        raise StopIteration  # gunicorn's gthread worker: close the connection, no response


@blueprint.route("/live", websocket=True)
def live() -> Response:
    hub: LiveHub = current_app.extensions["sam2_live"]
    sock = request.environ.get("gunicorn.socket")
    if sock is None:
        raise BadInput("Live cameras need the gunicorn server (make serve).")
    environ = dict(request.environ)
    environ["gunicorn.socket"] = _WholeWrites(sock)
    # Frames a little over LIVE_MAX_FRAME_KB get a BAD_FRAME answer; far larger messages are not
    # buffered at all: the connection closes with 1009 "Message is too big".
    ws = Server(environ, ping_interval=_PING_SEC, max_message_size=2 * hub.live.max_frame_bytes + 1024)
    try:
        _serve(ws, hub)
    finally:
        try:
            ws.close()
        except ConnectionClosed:
            pass
        ws.thread.join(timeout=2.0)  # the reader ends when the client answers the close
    return _TakenOver()


def _serve(ws: Server, hub: LiveHub) -> None:
    send = _Sender(ws)
    try:
        hub.admit()
    except DemoError as exc:
        # Answered after the client's first message (or half a second): some clients (Python's
        # simple-websocket among them) lose messages that arrive together with the handshake.
        try:
            ws.receive(timeout=_REFUSE_AFTER_SEC)
        except ConnectionClosed:
            return
        send(_fatal(exc))
        return
    try:
        first = ws.receive(timeout=_START_SEC)
        if first is None or isinstance(first, (bytes, bytearray)):
            raise BadInput(f'Send {{"type": "start", "width", "height"}} first, within {_START_SEC:g} s.')
        start = proto.parse_start(proto.parse_json(first), hub.live.max_side)
    except ConnectionClosed:
        hub.withdraw()
        return
    except DemoError as exc:
        hub.withdraw()
        send(_fatal(exc))
        return
    try:
        session = hub.open(start, send)
    except DemoError as exc:
        send(_fatal(exc))
        return
    try:
        send({
            "type": "started",
            "liveId": session.live_id,
            "maxFps": hub.live.max_fps,
            "maxSeconds": hub.live.max_seconds,
            "keepFrames": hub.live.keep_frames,
            "maxFrameBytes": hub.live.max_frame_bytes,
            "maxObjects": hub.limits.max_objects,
        })  # fmt: skip
        _receive(ws, session, hub, send)
    except ConnectionClosed:
        pass  # the client went away (mid-frame too): its session ends below
    finally:
        # The camera stays counted until its recordings are stored: the client, if still there,
        # hears `recorded` before `end`, and this thread is one of LIVE_MAX_CAMERAS meanwhile.
        hub.release(session, wait_saved=_SAVE_WAIT_SEC)
        if session.end_reason is not None:
            send(_fatal(session.end_reason))
        dropped, count = session.unanswered()
        send({"type": "end", "frames": session.frames_tracked, "dropped": dropped, "droppedCount": count,
              "reason": session.end_reason.code if session.end_reason else "STOPPED"})  # fmt: skip


def _receive(ws: Server, session: LiveSession, hub: LiveHub, send: _Sender) -> None:
    while not session.ended and not send.broken:
        remaining = session.deadline - time.monotonic()
        if remaining <= 0:
            session.end(LimitExceeded(
                f"A live session lasts at most {hub.live.max_seconds:g} s (LIVE_MAX_SECONDS); start a new one."
            ))  # fmt: skip
            return
        message = ws.receive(timeout=min(remaining, _POLL_SEC))
        if message is None:
            continue
        if len(ws.input_buffer) > _MAX_BACKLOG:
            # simple-websocket's reader queues whole messages without bound; this thread takes them
            # off far faster than any camera sends, unless a client floods it with messages.
            session.end(LimitExceeded(
                f"This connection sends messages faster than the server reads them (over {_MAX_BACKLOG} "
                "waiting); keep at most a few frames in flight."
            ))  # fmt: skip
            return
        try:
            if isinstance(message, (bytes, bytearray)):
                session.offer_frame(bytes(message))
            else:
                session.offer_command(proto.parse_command(proto.parse_json(message), hub.limits.max_points))
        except DemoError as exc:
            send({"type": "error", "code": exc.code, "message": exc.message, "fatal": False})


def _fatal(exc: DemoError) -> dict:
    return {"type": "error", "code": exc.code, "message": exc.message, "fatal": True}
