"""What the demo can do, independent of transport: validate a request, then run it on its session.

GraphQL resolvers and HTTP routes call these methods and only translate formats. Each call on a
session holds that session's lock (with a timeout), never a global one. Points and boxes arrive
normalised to [0, 1], are validated here once, and go to the model as they are (no round trip
through video pixels).
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO

import numpy as np

from . import rle
from .errors import BadInput, Busy, DemoError, InvalidMedia, LimitExceeded, NotFound, SessionExpired
from .export_builds import ExportBuilds
from .inference import FrameMasks, Segmenter
from .library import VideoLibrary, VideoRecord
from .rebuild import SessionRebuilder
from .segment_everything import SegmentEverything
from .sessions import Session, SessionStore
from .settings import Settings
from .sharing import Sharing
from .storage.database import WorkDatabase
from .storage.replay import BOX, CLEAR_FRAME, CLEAR_VIDEO, MASK, POINTS, REMOVE_OBJECT, PromptEvent
from .storage.writer import Ack, StorageError, WorkWriter
from .work import WorkAccess

log = logging.getLogger(__name__)

DIRECTIONS = ("both", "forward", "backward")
_STALLED_STREAM_SEC = 2.0  # a stream whose client took nothing for this long may lose its slot
_MAX_OBJECT_ID = 2**31 - 1


class StorageUnavailable(DemoError):
    """The database did not confirm a write: the change may not have been saved."""

    code = "STORAGE_UNAVAILABLE"
    http_status = 503


class DemoService:
    def __init__(
        self,
        settings: Settings,
        library: VideoLibrary,
        store: SessionStore,
        segmenter: Segmenter,
        db: WorkDatabase,
        writer: WorkWriter,
    ):
        self.settings = settings
        self.limits = settings.limits
        self.library = library
        self.store = store
        self.segmenter = segmenter
        self.db = db
        self.writer = writer
        self.rebuilder = SessionRebuilder(db, writer, library, store, segmenter)
        self.sharing = Sharing(db)
        self.work = WorkAccess(self)  # share links, names of objects, opening a work (work.py)
        self._propagation_slots = threading.BoundedSemaphore(self.limits.max_propagations)
        self.exports = ExportBuilds(
            settings.data_path / ".exports",
            self.limits.max_exports,
            self.limits.export_threads,
            self.limits.export_nice,
        )
        self._running: set[Propagation] = set()
        self._active_lock = threading.Lock()
        self.everything = SegmentEverything(self)  # segmentEverything proposals (segment_everything.py)

    # -- videos --------------------------------------------------------------------------

    def list_videos(self, client: str = "") -> list[VideoRecord]:
        """The gallery and the uploads of this client (its X-Client-Id; "" for none)."""
        return self.library.list_videos(client)

    def default_video(self) -> VideoRecord:
        return self.library.default_video()

    def upload_video(
        self,
        stream: BinaryIO,
        start_sec: float | None,
        duration_sec: float | None,
        owner: str = "",
        file_name: str | None = None,
    ) -> VideoRecord:
        return self.library.store_upload(
            stream, start_sec, duration_sec, owner=owner, file_name=file_name, in_use=self.open_videos
        )

    def open_videos(self) -> set[str]:
        """Paths of the videos that live sessions hold (their uploads must not be deleted)."""
        return {s.video.path for s in self.store.sessions()}

    def sweep(self) -> None:
        """Periodic housekeeping: idle sessions, expired uploads, stale export files."""
        self.store.sweep()
        self.library.sweep_uploads(self.open_videos)
        self.exports.sweep({s.id for s in self.store.sessions()})

    # -- sessions --------------------------------------------------------------------------

    def start_session(self, path: object, owner: str = "") -> str:
        video_file, record = self.library.resolve_video(path)
        try:
            state = self.segmenter.init_state(video_file)
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("init_state failed for %s: %s", record.path, exc)
            raise InvalidMedia(
                f"The video {record.path} cannot be opened for segmentation: it is damaged or not a "
                "video this server can decode."
            ) from None
        session = Session.on_state(self.store.new_id(), record, video_file, state, owner=owner)
        self._acknowledged(self.writer.create_session(self.rebuilder.stored_session(session)))
        self.store.add(session)  # Busy when every session is busy (the state is dropped)
        if record.is_upload:
            self.library.touch_upload(video_file)
        log.info("session %s… opened on %s (%d frames)", session.id[:6], record.path, session.num_frames)
        return session.id

    def close_session(self, session_id: object) -> bool:
        """End a session for good, here and in the database (every worker then refuses it)."""
        access = self.sharing.resolve(session_id, edit=True)
        if access.via_link:
            raise BadInput("A shared link cannot close the session it shows; only its owner can.")
        was_open = self.store.close(access.session_id)
        stored = self.db.session(access.session_id)
        if stored is not None and stored.closed_reason is None:
            self._acknowledged(self.writer.close_session(access.session_id, "it was closed"))
            was_open = True
        return was_open

    def session(self, handle: object, edit: bool = True) -> Session:
        """The session a client names (its id, or a share link's token), rebuilt from the
        database when this process does not hold it. `edit`: the request changes its work."""
        access = self.sharing.resolve(handle, edit)
        try:
            session = self.store.get(access.session_id)
        except NotFound:
            return self.rebuilder.rebuild(access.session_id)
        if session.lock.locked() or (session.own_bump is not None and not session.own_bump.done):
            return session  # busy here, or its last change is still being written: this copy is the newest
        stored = self.db.revision(session.id)
        if stored is not None and stored[1] is not None:  # closed through another worker
            self.store.close(session.id)
            self.store.forget(session.id, stored[1])
            raise SessionExpired(f"Session expired: {stored[1]}. Start a new session.")
        if stored is not None and stored[0] > self._own_revision(session):
            log.info("session %s… changed elsewhere (revision %d > %d): rebuilding it",
                     session.id[:6], stored[0], session.revision)
            self.store.drop(session, "changed by another worker")
            return self.rebuilder.rebuild(session.id)
        return session

    def _event(self, s: Session, event: PromptEvent, bump: bool = True) -> Ack:
        return self.writer.append_event(s.id, event, bump)

    def _committed(self, s: Session, ack: Ack) -> None:
        """Wait for an event of this session to be committed; the copy now reflects it."""
        _, revision = self._acknowledged(ack)
        if revision is not None:
            s.revision = max(s.revision, revision)

    @staticmethod
    def _acknowledged(ack: Ack) -> object:
        try:
            return ack.wait()
        except StorageError as exc:
            log.error("%s", exc)
            raise StorageUnavailable(
                "The server could not save this change (its database did not answer); try again."
            ) from None

    def _prompt(self, s: Session, event: PromptEvent, run: Callable[[], FrameMasks]) -> FrameMasks:
        """Run a prompt on the model while its event is written; answer once both are done."""
        if s.restored:
            self.rebuilder.replay_frame(s, event.object_id, event.frame_index)
        written = self._event(s, event, bump=False)  # marked changed with its masks (`settled`)
        try:
            result = run()
        except BaseException:
            self.writer.drop_event(written)  # a prompt that failed is not replayed later
            raise
        self._committed(s, written)
        if s.restored:
            result = self.rebuilder.merged_with_stored(s, event.object_id, result)
        self._remember_prompt(s, event.object_id, result)
        self.settled(s)
        return result

    @contextlib.contextmanager
    def _locked(self, session_id: object) -> Iterator[Session]:
        session = self.session(session_id)
        session.acquire(self.limits.session_lock_timeout_sec)
        try:
            yield session
        finally:
            self.store.touch(session)
            session.lock.release()

    # -- prompts -------------------------------------------------------------------------------

    def add_points(self, session_id, frame_index, object_id, points, labels, clear_old_points) -> FrameMasks:
        with self._locked(session_id) as s:
            frame, obj = self._check_frame(s, frame_index), self._check_new_object(s, object_id)
            pts, lbl = self._check_points(points, labels, required=True)
            event = PromptEvent(
                POINTS, frame, obj, {"points": _exact(points), "labels": lbl.tolist(), "clear_old": bool(clear_old_points)}
            )
            return self._prompt(
                s, event, lambda: self.segmenter.add_points(s.state, frame, obj, pts, lbl, bool(clear_old_points))
            )

    def add_box(self, session_id, frame_index, object_id, box, points=None, labels=None) -> FrameMasks:
        with self._locked(session_id) as s:
            frame, obj = self._check_frame(s, frame_index), self._check_new_object(s, object_id)
            raw_box, box = box, self._check_box(box)
            pts, lbl = self._check_points(points or [], labels or [], required=False)
            payload = {"box": [float(v) for v in raw_box], "points": _exact(points or []), "labels": lbl.tolist()}
            event = PromptEvent(BOX, frame, obj, payload)
            # A box always replaces the object's earlier prompts on this frame (SAM 2's rule).
            return self._prompt(s, event, lambda: self.segmenter.add_points(s.state, frame, obj, pts, lbl, True, box))

    def add_mask(self, session_id, frame_index, object_id, rle_mask) -> FrameMasks:
        with self._locked(session_id) as s:
            frame, obj = self._check_frame(s, frame_index), self._check_new_object(s, object_id)
            try:
                mask = rle.decode(rle_mask)
            except (ValueError, TypeError, AttributeError) as exc:
                raise BadInput(f"rleMask is not a valid COCO RLE mask: {exc}") from None
            if mask.shape != (s.height, s.width):
                raise BadInput(
                    f"rleMask size is {list(mask.shape)}, but the video is [{s.height}, {s.width}] (H, W)."
                )
            event = PromptEvent(MASK, frame, obj, {"counts": rle.encode(mask)["counts"]})
            return self._prompt(s, event, lambda: self.segmenter.add_mask(s.state, frame, obj, mask))

    def clear_points_in_frame(self, session_id, frame_index, object_id) -> FrameMasks:
        with self._locked(session_id) as s:
            frame, obj = self._check_frame(s, frame_index), self._check_object_id(object_id)
            if obj not in s.prompted:
                # Unknown object: nothing to clear (asking the predictor would create it).
                return FrameMasks(frame, list(s.masks.get(frame, {}).items()))
            self._committed(s, self._event(s, PromptEvent(CLEAR_FRAME, frame, obj)))
            s.prompted[obj].discard(frame)
            if s.restored:
                s.pending.get(obj, {}).pop(frame, None)
                if self.segmenter.has_output(s.state, obj, frame):
                    self.segmenter.clear_points_in_frame(s.state, frame, obj)
                # Its result there stays as a tracked one: the stored masks are the answer.
                return FrameMasks(frame, list(s.masks.get(frame, {}).items()))
            result = self.segmenter.clear_points_in_frame(s.state, frame, obj)
            return self._remember(s, result)

    def clear_points_in_video(self, session_id) -> bool:
        with self._locked(session_id) as s:
            self._committed(s, self._event(s, PromptEvent(CLEAR_VIDEO)))
            self.writer.delete_masks(s.id)
            self.writer.delete_objects(s.id)
            self.segmenter.reset(s.state)
            s.prompted.clear()
            s.pending.clear()
            s.masks.clear()
            s.masks_version += 1
            return True

    def remove_object(self, session_id, object_id) -> list[FrameMasks]:
        with self._locked(session_id) as s:
            obj = self._check_object_id(object_id)
            if obj not in s.prompted:
                self._acknowledged(self.writer.delete_objects(s.id, obj))  # named, never prompted
                return []
            self._committed(s, self._event(s, PromptEvent(REMOVE_OBJECT, None, obj)))
            self.writer.delete_masks(s.id, obj)
            self.writer.delete_objects(s.id, obj)
            frames = sorted(s.prompted.pop(obj))
            s.pending.pop(obj, None)
            updated = self.segmenter.remove_object(s.state, obj)
            for frame_masks in s.masks.values():
                frame_masks.pop(obj, None)
            s.masks_version += 1
            if s.restored:  # the model state may not hold the other objects: answer from the store
                return [FrameMasks(f, list(s.masks.get(f, {}).items())) for f in frames]
            return [self._remember(s, frame) for frame in updated]

    def delete_masks(self, session_id, object_id, first_frame, last_frame) -> int:
        """Delete an object's masks on frames first..last (inclusive), and its prompts there (a
        prompt left there would bring its mask back on the next Track). The frames are then
        untracked: a later Track fills them again from the object's other prompts; a frame range
        (`updateObjects`) keeps an object off frames for good. Returns how many masks went."""
        with self._locked(session_id) as s:
            obj = self._check_object_id(object_id)
            first = self._check_frame(s, first_frame, "firstFrame")
            last = self._check_frame(s, last_frame, "lastFrame")
            if first > last:
                raise BadInput("firstFrame must not be after lastFrame.")
            for frame in sorted(f for f in s.prompted.get(obj, ()) if first <= f <= last):
                self._committed(s, self._event(s, PromptEvent(CLEAR_FRAME, frame, obj)))
                s.prompted[obj].discard(frame)
                if s.restored:
                    s.pending.get(obj, {}).pop(frame, None)
                if self.segmenter.has_output(s.state, obj, frame):
                    self.segmenter.clear_points_in_frame(s.state, frame, obj)
            deleted = 0
            for frame, masks in s.masks.items():
                if first <= frame <= last and masks.pop(obj, None) is not None:
                    deleted += 1
            self._acknowledged(self.writer.delete_masks_between(s.id, obj, first, last))
            s.masks_version += 1
            self.settled(s)
            return deleted

    # -- propagation ---------------------------------------------------------------------------

    def cancel_propagation(self, session_id) -> bool:
        """Lock-free on purpose: it must land while a propagation holds the session lock.

        A propagation stuck writing to a client that stopped reading cannot see the cancel;
        its connection is broken instead, which ends the write at once.
        """
        session = self.session(session_id)
        session.cancel()
        abort = session.stream_abort
        if abort is not None:
            abort()
        return True

    def start_propagation(
        self, session_id, start_frame_index=0, direction="both", max_frames=None
    ) -> Propagation:
        """Validate and reserve a propagation slot; iterate `.frames()`, then `.close()`."""
        session = self.session(session_id)
        epoch = session.cancel_epoch  # a cancel from now on stops this propagation
        start = self._check_frame(session, start_frame_index, name="start_frame_index")
        if direction not in DIRECTIONS:
            raise BadInput(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}.")
        if max_frames is not None and (
            not isinstance(max_frames, int) or isinstance(max_frames, bool) or max_frames < 1
        ):
            raise BadInput("max_frames must be a whole number >= 1.")
        if not any(session.prompted.values()):
            raise BadInput("Nothing to track yet: add points to an object first.")
        if not self._propagation_slots.acquire(blocking=False) and not self._take_slot_of_stalled_stream():
            raise Busy(
                f"{self.limits.max_propagations} propagations are already running on this server; "
                "try again in a moment."
            )
        propagation = Propagation(self, session, start, direction, max_frames, epoch)
        with self._active_lock:
            self._running.add(propagation)
        return propagation

    def _take_slot_of_stalled_stream(self) -> bool:
        """All slots taken: end the stream whose client has read nothing for longest (at least
        `_STALLED_STREAM_SEC`) and take its slot. A client that stopped reading must not keep
        others from tracking until its write times out."""
        now = time.monotonic()
        with self._active_lock:
            stalled = [
                p for p in self._running if p.writing_since is not None and now - p.writing_since > _STALLED_STREAM_SEC
            ]
        for victim in sorted(stalled, key=lambda p: p.writing_since or now):
            abort = victim.abort_transport
            if abort is None:
                continue
            log.info("all propagation slots taken: ending the stalled stream of session %s…", victim.session.id[:6])
            abort()
            if self._propagation_slots.acquire(timeout=5.0):  # the broken write frees it at once
                return True
        return False

    def _release_slot(self, propagation: Propagation) -> None:
        with self._active_lock:
            self._running.discard(propagation)
        self._propagation_slots.release()

    @property
    def active_propagations(self) -> int:
        return len(self._running)

    def stalled_streams(self, after_sec: float = 1.0) -> int:
        """Propagations whose client has not taken the last frame for `after_sec` (not reading)."""
        now = time.monotonic()
        with self._active_lock:
            running = list(self._running)
        return sum(1 for p in running if p.writing_since is not None and now - p.writing_since > after_sec)

    def export(self, session_id) -> Session:
        """The session whose remembered masks (`Session.masks`) an export writes out."""
        session = self.session(session_id, edit=False)
        self.store.touch(session)
        return session

    # -- validation and bookkeeping ----------------------------------------------------------

    @staticmethod
    def _check_frame(s: Session, frame_index, name="frameIndex") -> int:
        if not isinstance(frame_index, int) or isinstance(frame_index, bool):
            raise BadInput(f"{name} must be a whole number.")
        if not 0 <= frame_index < s.num_frames:
            raise BadInput(
                f"{name}={frame_index} is out of range: the video has frames 0..{s.num_frames - 1}."
            )
        return frame_index

    @staticmethod
    def _check_object_id(object_id) -> int:
        if (
            not isinstance(object_id, int)
            or isinstance(object_id, bool)
            or not 0 <= object_id <= _MAX_OBJECT_ID
        ):
            raise BadInput(f"objectId must be a whole number from 0 to {_MAX_OBJECT_ID}.")
        return object_id

    def _check_new_object(self, s: Session, object_id) -> int:
        obj = self._check_object_id(object_id)
        known = s.prompted
        if obj not in known and len(known) >= self.limits.max_objects:
            raise LimitExceeded(
                f"A session can track at most {self.limits.max_objects} objects; remove one first."
            )
        return obj

    def _check_points(self, points, labels, required: bool) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) x, y normalised to [0, 1] and (N,) labels, or BadInput."""
        if not isinstance(points, Sequence) or not isinstance(labels, Sequence):
            raise BadInput("points must be a list of [x, y] pairs and labels a list of 0/1.")
        if required and not points:
            raise BadInput("points must hold at least one [x, y] pair.")
        if len(points) != len(labels):
            raise BadInput(f"points ({len(points)}) and labels ({len(labels)}) must have the same length.")
        if len(points) > self.limits.max_points:
            raise LimitExceeded(f"At most {self.limits.max_points} points per call.")
        xy = []
        for p in points:
            if (
                not isinstance(p, Sequence)
                or len(p) != 2
                or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in p
                )
            ):
                raise BadInput(f"each point must be [x, y] with two finite numbers, got {p!r}.")
            if not (0.0 <= p[0] <= 1.0 and 0.0 <= p[1] <= 1.0):
                raise BadInput(f"point {list(p)} is outside the frame: coordinates are normalised to [0, 1].")
            xy.append((p[0], p[1]))
        for label in labels:
            if label not in (0, 1) or isinstance(label, bool):
                raise BadInput(f"labels must be 1 (include) or 0 (exclude), got {label!r}.")
        return np.asarray(xy, dtype=np.float32).reshape(-1, 2), np.asarray(labels, dtype=np.int32)

    @staticmethod
    def _check_box(box) -> np.ndarray:
        """(4,) x0, y0, x1, y1 normalised to [0, 1], or BadInput."""
        if (
            not isinstance(box, Sequence)
            or len(box) != 4
            or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in box
            )
        ):
            raise BadInput("box must be [x0, y0, x1, y1], four finite numbers normalised to [0, 1].")
        x0, y0, x1, y1 = box
        if not all(0.0 <= v <= 1.0 for v in box):
            raise BadInput(f"box {list(box)} is outside the frame: coordinates are normalised to [0, 1].")
        if not (x1 > x0 and y1 > y0):
            raise BadInput("box must have x1 > x0 and y1 > y0.")
        return np.asarray([x0, y0, x1, y1], dtype=np.float32)

    def keep_tracked_masks(self, session_id, frames: list[FrameMasks]) -> None:
        """Masks the server tracked itself (a live recording): kept as if tracked here."""
        with self._locked(session_id) as s:
            for result in frames:
                self._remember(s, result)
            self.settled(s)

    def settled(self, s: Session) -> None:
        """Mark the session changed once every write queued so far is committed (after a
        prompt's masks, after a tracking pass), so other workers' copies refresh with all of
        it. Nobody waits for it here: the next request on this copy does (`_own_revision`)."""
        s.own_bump = self.writer.bump_revision(s.id)

    @staticmethod
    def _own_revision(s: Session) -> int:
        """The revision this copy reflects, its own last change included (committed by now,
        almost always: it was queued at the end of the previous request)."""
        bump, s.own_bump = s.own_bump, None
        if bump is not None:
            try:
                s.revision = max(s.revision, bump.wait())
            except StorageError as exc:
                log.error("session %s…: %s", s.id[:6], exc)
        return s.revision

    def _remember_prompt(self, s: Session, obj: int, result: FrameMasks) -> FrameMasks:
        s.prompted.setdefault(obj, set()).add(result.frame_index)
        return self._remember(s, result)

    def _remember(self, s: Session, result: FrameMasks) -> FrameMasks:
        """Keep a frame's masks here (exports read them) and in the database (queued).

        Objects whose frame range leaves this frame out have no mask here: they are dropped from
        what is kept and from the answer.
        """
        if s.ranges:
            result = FrameMasks(result.frame_index, [(o, m) for o, m in result.masks if in_range(s, o, result.frame_index)])
        s.masks[result.frame_index] = dict(result.masks)
        s.masks_version += 1
        self.writer.put_masks(s.id, result.frame_index, result.masks)
        return result


def in_range(s: Session, obj: int, frame: int) -> bool:
    """Is `frame` inside the object's frame range (every frame when it has none)?"""
    first, last = s.ranges.get(obj, (None, None))
    return (first is None or frame >= first) and (last is None or frame <= last)


def _exact(points) -> list[list[float]]:
    """Validated points as the client sent them (events keep them exact; the model gets float32)."""
    return [[float(x), float(y)] for x, y in points]


class Propagation:
    """One streamed propagation: forward from the start frame to the end, then back to frame 0."""

    def __init__(
        self,
        service: DemoService,
        session: Session,
        start: int,
        direction: str,
        max_frames: int | None,
        epoch: int,
    ):
        self.service, self.session, self.start = service, session, start
        self.epoch = epoch
        self.reverse_passes = {"both": (False, True), "forward": (False,), "backward": (True,)}[direction]
        self.max_track = None if max_frames is None else max_frames - 1  # predictor counts beyond start
        self._closed = False
        n = session.num_frames
        m = self.max_track if self.max_track is not None else n
        forward = min(start + m, n - 1) - start + 1
        backward = 0 if start == 0 else start - max(start - m, 0) + 1  # the predictor yields none from 0
        # Both ways: the start frame goes out once, with the forward pass.
        both = forward + max(backward - 1, 0)
        self.total_frames = {"both": both, "forward": forward, "backward": backward}[direction]
        self.cancelled = False
        self.writing_since: float | None = None  # set while the transport writes a yielded frame
        self.abort_transport: Callable[[], None] | None = None  # set by the transport: breaks a stalled write

    def frames(self) -> Iterator[FrameMasks]:
        """Yields each frame's masks; ends early (quietly) on cancel.

        Raises DemoError on failure, SessionExpired when the session ends meanwhile (closed by
        its user or the server), so the client can tell that from a finished run.
        """
        s, service = self.session, self.service
        try:
            if not s.acquire(service.limits.session_lock_timeout_sec, cancel_epoch=self.epoch):
                self.cancelled = True
                return
            s.stream_abort = self.abort_transport  # cancel and close reach the running stream
            try:
                if not any(s.prompted.values()):  # cleared while this one waited for the session
                    raise BadInput("Nothing to track any more: the prompts were cleared meanwhile.")
                if s.pending:  # rebuilt from the database: the tracker needs every prompt first
                    service.rebuilder.replay_all(s)
                for reverse in self.reverse_passes:
                    sent_start = reverse and len(self.reverse_passes) == 2  # by the forward pass
                    if sent_start and self.start == 0:
                        continue  # backward from frame 0 holds frame 0 only
                    with contextlib.closing(
                        service.segmenter.propagate(s.state, self.start, reverse, self.max_track)
                    ) as frames:
                        for result in frames:
                            if s.ended is not None:
                                raise SessionExpired(f"Session expired: {s.ended}. Start a new session.")
                            if s.is_cancelled(self.epoch):
                                self.cancelled = True
                                return
                            if sent_start and result.frame_index == self.start:
                                continue
                            result = service._remember(s, result)
                            service.store.touch(s)
                            yield result
            except DemoError:
                raise
            except (RuntimeError, ValueError, OSError):
                log.exception("propagation failed in session %s…", s.id[:6])
                raise InvalidMedia(
                    "Tracking stopped: a frame of this video could not be read or processed."
                ) from None
            finally:
                s.stream_abort = None
                service.store.touch(s)
                service.settled(s)
                service._own_revision(s)  # a finished pass is in the database before its end part
                s.lock.release()
        finally:
            self.close()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.service._release_slot(self)
