"""Live cameras: frames tracked as they arrive, prompts applied to the frame the user saw.

A `LiveSession` belongs to one WebSocket connection (demo/backend/live_socket.py). The
connection's thread only receives: it checks each frame's header and puts it in the session's
inbox, where a newer frame replaces a waiting one (newest wins: at most one frame waits per
session, so no queue and no growing delay can build up), and queues prompts. The session's
tracker thread takes prompts first, then the newest frame, runs the model through the compute
gate (as a background step: clicks in the editor go first; cameras take turns), and sends the
masks with the numbers of the frames dropped since the last answer. The inference state is a
stream (`SAM2VideoPredictor.init_stream`): memory stays flat however long the camera runs.

`LiveHub` holds the server's live sessions: the camera limit, /healthy's numbers, and the end of
every session when the server shuts down. Its `RecordingSaver` stores stopped recordings as
library videos on a thread of its own, so a camera never pauses for a save, and a session that
ends while recording (its client vanished, say) has what it recorded stored all the same.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import live_protocol as proto
from .errors import BadInput, DemoError, LimitExceeded, NotFound, ShuttingDown
from .inference import FrameMasks, Segmenter
from .live_recording import LiveRecording, save_to_library
from .settings import Limits, LiveLimits

if TYPE_CHECKING:
    from .service import DemoService

log = logging.getLogger(__name__)

_MAX_COMMANDS = 8  # prompts waiting per session; more are refused (a page sends one at a time)
_MAX_DROPPED_LISTED = 256  # frame numbers listed in one answer; the count is always exact

Send = Callable[[dict], None]


@dataclass
class _Inbox:
    """What the tracker thread waits for: prompts (in order) and the newest frame."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    frame: proto.FrameHeader | None = None
    commands: deque = field(default_factory=deque)
    dropped: list[int] = field(default_factory=list)  # since the last answer
    dropped_count: int = 0
    closed: bool = False

    def drop(self, seq: int) -> None:
        self.dropped_count += 1
        if len(self.dropped) < _MAX_DROPPED_LISTED:
            self.dropped.append(seq)


class _RateGate:
    """A token bucket: `rate` frames per second, bursts of two. Frames over it are dropped unseen."""

    def __init__(self, rate: float):
        self.rate = rate
        self.tokens = 2.0
        self.last = time.monotonic()

    def allow(self) -> bool:
        now = time.monotonic()
        self.tokens = min(2.0, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class LiveSession:
    def __init__(self, live_id: str, start: proto.Start, hub: LiveHub, send: Send):
        self.live_id = live_id
        self.start_info = start
        self.hub = hub
        self.send = send
        self.started = time.monotonic()
        self.deadline = self.started + hub.live.max_seconds
        self._inbox = _Inbox()
        self._rate = _RateGate(hub.live.max_fps)
        self._last_seq = -1
        self._state = None  # the predictor's stream state, made from the first frame
        self._held: OrderedDict[int, int] = OrderedDict()  # seq -> stream frame index, newest last
        self._objects: set[int] = set()
        self._tracked_at: deque[float] = deque(maxlen=10)  # when the last frames were answered
        self._recording: LiveRecording | None = None
        self._saves: list[threading.Event] = []  # set when each stopped recording is stored
        self.frames_tracked = 0
        self.end_reason: DemoError | None = None
        self._thread = threading.Thread(target=self._run, name=f"live-{live_id[:8]}", daemon=True)

    # -- the connection's thread ------------------------------------------------------------

    def begin(self) -> None:
        self._thread.start()

    def offer_frame(self, data: bytes) -> None:
        """A binary message: check it, and let it wait in place of any older frame."""
        frame = proto.parse_frame(data, self.start_info, self.hub.live.max_frame_bytes)
        if frame.seq <= self._last_seq:
            raise proto.BadFrame(f"Frame numbers must increase: {frame.seq} came after {self._last_seq}.")
        self._last_seq = frame.seq
        inbox = self._inbox
        with inbox.cond:
            if not self._rate.allow():
                inbox.drop(frame.seq)  # over LIVE_MAX_FPS: never decoded
                return
            if inbox.frame is not None:
                inbox.drop(inbox.frame.seq)
            inbox.frame = frame
            inbox.cond.notify()

    def offer_command(self, command: proto.Command) -> None:
        inbox = self._inbox
        with inbox.cond:
            if len(inbox.commands) >= _MAX_COMMANDS:
                raise BadInput(f"At most {_MAX_COMMANDS} prompts may wait; wait for the answers first.")
            inbox.commands.append(command)
            inbox.cond.notify()

    def end(self, reason: DemoError | None = None) -> None:
        """Stop the tracker (after the step it is in); idempotent."""
        with self._inbox.cond:
            if reason is not None and self.end_reason is None:
                self.end_reason = reason
            self._inbox.closed = True
            self._inbox.cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    @property
    def ended(self) -> bool:
        return self._inbox.closed

    def unanswered(self) -> tuple[list[int], int]:
        """Once ended: frames dropped since the last answer, and the one left waiting."""
        inbox = self._inbox
        with inbox.cond:
            if inbox.frame is not None:
                inbox.drop(inbox.frame.seq)
                inbox.frame = None
            dropped, count = inbox.dropped, inbox.dropped_count
            inbox.dropped, inbox.dropped_count = [], 0
            return dropped, count

    # -- the tracker thread ---------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                item = self._next()
                if item is None:
                    return
                if isinstance(item, proto.FrameHeader):
                    self._track(item)
                elif isinstance(item, proto.Stop):
                    self._save_recording()  # in the background: the connection waits for it
                    self.end()
                elif isinstance(item, proto.Record):
                    self._record(item.on)
                else:
                    self._prompt(item)
        except Exception as exc:  # a bug: end this session only, say so, keep the server
            log.exception("live session %s failed", self.live_id)
            self.end(DemoError(f"The live session failed: {type(exc).__name__}."))
        finally:
            # However the session ended (vanished client, session length, shutdown, a bug), what
            # was recorded so far becomes a video of the library all the same.
            try:
                self._save_recording()
            finally:
                self._close_state()

    def _next(self) -> proto.FrameHeader | proto.Command | None:
        inbox = self._inbox
        with inbox.cond:
            while not inbox.closed and not inbox.commands and inbox.frame is None:
                inbox.cond.wait()
            if inbox.closed:
                return None
            if inbox.commands:
                return inbox.commands.popleft()
            frame, inbox.frame = inbox.frame, None
            return frame

    def _track(self, frame: proto.FrameHeader) -> None:
        received = time.monotonic()
        try:
            rgb = proto.decode_frame(frame)
        except proto.BadFrame as exc:
            self.send(_error(exc, fatal=False))
            return
        segmenter = self.hub.segmenter
        if self._state is None:
            self._state = segmenter.open_stream(rgb, self.hub.live.keep_frames)
            masks = FrameMasks(0, [])
        else:
            masks = segmenter.track_stream(self._state, rgb)
        self._held[frame.seq] = masks.frame_index
        while len(self._held) > self.hub.live.keep_frames:
            self._held.popitem(last=False)
        self.frames_tracked += 1
        self._tracked_at.append(time.monotonic())
        if self._recording is not None:
            self._recording.add(rgb, masks)
        with self._inbox.cond:
            dropped, count = self._inbox.dropped, self._inbox.dropped_count
            self._inbox.dropped, self._inbox.dropped_count = [], 0
        self.send({
            "type": "masks",
            "frame": frame.seq,
            "objects": _objects(masks),
            "dropped": dropped,
            "droppedCount": count,
            "serverMs": round((time.monotonic() - received) * 1000, 1),
        })  # fmt: skip
        if self._recording is not None and self._recording.full:
            self._save_recording()  # LIVE_MAX_RECORD_SECONDS reached

    def _prompt(self, command: proto.Points | proto.RemoveObject) -> None:
        try:
            if isinstance(command, proto.RemoveObject):
                if command.object_id not in self._objects:
                    raise NotFound(f"There is no object {command.object_id} in this live session.")
                self.hub.segmenter.remove_object(self._state, command.object_id)
                self._objects.discard(command.object_id)
                self.send({"type": "removed", "id": command.request_id, "objectId": command.object_id})
                return
            index = self._held.get(command.frame)
            if index is None:
                raise NotFound(
                    f"Frame {command.frame} is not held: prompts go on one of the last "
                    f"{self.hub.live.keep_frames} frames answered with masks (LIVE_KEEP_FRAMES)."
                )
            new = command.object_id not in self._objects
            if new and len(self._objects) >= self.hub.limits.max_objects:
                raise LimitExceeded(f"A live session tracks at most {self.hub.limits.max_objects} objects.")
            try:
                masks = self.hub.segmenter.add_points(
                    self._state, index, command.object_id, command.points, command.labels,
                    command.clear_old_points, command.box,
                )  # fmt: skip
            except Exception:
                if new:  # an object without prompts would stop the tracking of every frame
                    self.hub.segmenter.remove_object(self._state, command.object_id)
                raise
            self._objects.add(command.object_id)
            self.send({"type": "prompted", "id": command.request_id, "frame": command.frame,
                       "objects": _objects(masks)})  # fmt: skip
        except DemoError as exc:
            self.send(_error(exc, fatal=False, request_id=command.request_id))

    def _record(self, on: bool) -> None:
        try:
            if not on:
                if self._recording is None:
                    raise BadInput("Nothing is being recorded.")
                self._save_recording()
                return
            if self._recording is not None:
                raise BadInput("Already recording.")
            live = self.hub.live
            self.hub.saver.reserve()  # LIMIT_EXCEEDED when too many recordings wait to be saved
            try:
                self._recording = LiveRecording.begin(
                    self.hub.recordings_dir, self.start_info.width, self.start_info.height,
                    self._tracking_rate(), live.max_record_seconds,
                )  # fmt: skip
            except BaseException:
                self.hub.saver.unreserve()
                raise
            self.send({"type": "recording", "on": True, "fps": self._recording.fps,
                       "maxSeconds": live.max_record_seconds})  # fmt: skip
        except DemoError as exc:
            self.send(_error(exc, fatal=False))

    def _tracking_rate(self) -> float:
        """Frames answered per second lately (the recording plays back at it); max fps at first."""
        times = self._tracked_at
        if len(times) < 2 or times[-1] <= times[0]:
            return self.hub.live.max_fps
        return min(self.hub.live.max_fps, (len(times) - 1) / (times[-1] - times[0]))

    def _save_recording(self) -> None:
        """Hand the recording to the hub's saver: the camera goes on tracking while it is stored."""
        recording, self._recording = self._recording, None
        if recording is None:
            return
        if not recording.masks:
            recording.discard()
            self.hub.saver.unreserve()
            self.send({"type": "recording", "on": False})
            return
        self.send({"type": "recording", "on": False, "frames": len(recording.masks)})
        name = time.strftime("Camera %Y-%m-%d %H.%M.%S.mp4")
        done = self.hub.saver.submit(recording, self.start_info.client_id, name, self.send)
        with self._inbox.cond:
            self._saves.append(done)

    def wait_saved(self, timeout: float) -> bool:
        """Wait for this session's recordings to be stored (their `recorded` answers sent)."""
        deadline = time.monotonic() + timeout
        with self._inbox.cond:
            saves = list(self._saves)
        return all(done.wait(max(0.0, deadline - time.monotonic())) for done in saves)

    def _close_state(self) -> None:
        state, self._state = self._state, None
        if state is not None:
            self.hub.segmenter.close_stream(state)


class RecordingSaver:
    """Stopped recordings, stored as library videos one at a time on a thread of their own.

    Storing a recording (flush the encoder, probe and transcode it like an upload, open a session,
    give it the masks) takes about a second a few seconds of video on a CPU; done on a camera's
    tracker thread it would freeze that camera meanwhile. Here the camera goes on while its
    recording (and any other camera's) is stored, and a recording outlives its connection.

    Recordings are bounded: at most `max_recordings` exist at once, being recorded or waiting to
    be stored (a new recording is refused beyond that), so a client that records and vanishes
    again and again cannot pile up files or work.
    """

    def __init__(self, service: DemoService, max_recordings: int):
        self.service = service
        self.max_recordings = max_recordings
        self._cond = threading.Condition()
        self._jobs: deque = deque()
        self._recordings = 0  # reserved: being recorded, waiting or being stored
        self._thread: threading.Thread | None = None
        self.saved_total = 0
        self.failed_total = 0

    def reserve(self) -> None:
        with self._cond:
            if self._recordings >= self.max_recordings:
                raise LimitExceeded(
                    f"{self._recordings} recordings are being made or saved on this server, the most it "
                    "keeps at once; try again when one is saved."
                )
            self._recordings += 1

    def unreserve(self) -> None:
        with self._cond:
            self._recordings -= 1
            self._cond.notify_all()

    def submit(self, recording: LiveRecording, owner: str, name: str, send: Send) -> threading.Event:
        """Store `recording` (reserved) as `owner`'s video; `send` gets `recorded` or an error.
        The event returned is set once it is stored (or failed)."""
        done = threading.Event()
        with self._cond:
            self._jobs.append((recording, owner, name, send, done))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="live-recordings", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return done

    def busy(self) -> bool:
        with self._cond:
            return bool(self._jobs) or self._recordings > 0

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._jobs:
                    self._thread = None
                    return
                recording, owner, name, send, done = self._jobs.popleft()
            try:
                self._store(recording, owner, name, send)
            finally:
                self.unreserve()
                done.set()

    def _store(self, recording: LiveRecording, owner: str, name: str, send: Send) -> None:
        try:
            saved = save_to_library(recording, self.service, owner, name)
        except Exception as exc:
            recording.discard()
            self.failed_total += 1
            if not isinstance(exc, DemoError):
                log.exception("storing a live recording failed")
                exc = DemoError(f"Saving the recording failed: {type(exc).__name__}.")
            send(_error(exc, fatal=False))
            return
        self.saved_total += 1
        log.info("live recording stored as %s (%d frames)", saved["path"], saved["numFrames"])
        send({"type": "recorded", **saved})


class LiveHub:
    """The server's live sessions: at most `max_cameras` at once."""

    def __init__(self, live: LiveLimits, limits: Limits, segmenter: Segmenter, service: DemoService,
                 recordings_dir: Path):  # fmt: skip
        self.live = live
        self.limits = limits
        self.segmenter = segmenter
        self.service = service  # where recordings go: the library, a session, its masks
        self.recordings_dir = recordings_dir
        self.saver = RecordingSaver(service, max(2, 2 * live.max_cameras))
        self._lock = threading.Lock()
        self._sessions: dict[str, LiveSession] = {}
        self._admitted = 0  # connections holding a camera that have not started yet
        self._shutting_down = False
        self.started_total = 0
        self.refused_total = 0

    def admit(self) -> None:
        """Hold a camera for a new connection, before it says anything (or raise LimitExceeded).

        At the upgrade already: every connection holds a request thread, so a connection the
        server has no room for must be answered and closed at once, not after its first message.
        """
        with self._lock:
            if self._shutting_down:
                raise ShuttingDown("The server is shutting down; start the camera again in a moment.")
            if self.live.max_cameras == 0:
                self.refused_total += 1
                raise LimitExceeded("Live cameras are turned off on this server (LIVE_MAX_CAMERAS=0).")
            if len(self._sessions) + self._admitted >= self.live.max_cameras:
                self.refused_total += 1
                raise LimitExceeded(
                    f"The server runs {self.live.max_cameras} live cameras at once (LIVE_MAX_CAMERAS), "
                    "all in use; try again later."
                )
            self._admitted += 1

    def withdraw(self) -> None:
        """An admitted connection that never started a session."""
        with self._lock:
            self._admitted -= 1

    def open(self, start: proto.Start, send: Send) -> LiveSession:
        """The session of an admitted connection."""
        with self._lock:
            self._admitted -= 1
            if self._shutting_down:
                raise ShuttingDown("The server is shutting down; start the camera again in a moment.")
            session = LiveSession(uuid.uuid4().hex, start, self, send)
            self._sessions[session.live_id] = session
            self.started_total += 1
        session.begin()
        return session

    def release(self, session: LiveSession, wait_saved: float = 0.0) -> None:
        """End `session` and forget it, after up to `wait_saved` s for its recordings to be stored."""
        session.end()
        session.join(timeout=60)  # the step it is in; by then its state is freed, its recording handed over
        if wait_saved > 0:
            session.wait_saved(wait_saved)
        with self._lock:
            self._sessions.pop(session.live_id, None)

    def shut_down(self) -> None:
        """SIGTERM: every session ends with SHUTTING_DOWN after its current step."""
        with self._lock:
            self._shutting_down = True
            sessions = list(self._sessions.values())
        for session in sessions:
            session.end(ShuttingDown("The server is shutting down; start the camera again in a moment."))

    def busy(self) -> bool:
        """Sessions running, or recordings not stored yet (a shutdown waits for them)."""
        with self._lock:
            if self._sessions or self._admitted > 0:
                return True
        return self.saver.busy()

    def as_json(self) -> dict:
        with self._lock:
            return {
                "cameras": len(self._sessions),
                "max_cameras": self.live.max_cameras,
                "started": self.started_total,
                "refused": self.refused_total,
                "recordings_saved": self.saver.saved_total,
                "recordings_failed": self.saver.failed_total,
            }


def _objects(masks: FrameMasks) -> list[dict]:
    return [{"objectId": obj, "rleMask": {**rle, "order": "F"}} for obj, rle in masks.masks]


def _error(exc: DemoError, fatal: bool, request_id: str | None = None) -> dict:
    message = {"type": "error", "code": exc.code, "message": exc.message, "fatal": fatal}
    if request_id is not None:
        message["id"] = request_id
    return message
