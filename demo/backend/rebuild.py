"""Sessions rebuilt from the database, and the prompts they replay into the model lazily.

When a request names a session this process does not hold (a restart, another worker, an
eviction), `rebuild` makes it again from what the database stores: the video, the latest
masks of every frame (served as they are: nothing is tracked again) and the prompt events,
folded into the prompts still in effect (`storage/replay.py`). Those prompts are replayed into
the model only when it needs them: a prompt on a frame replays that object's prompts on that
frame only; a propagation replays them all first. So a click after a restart runs the model
on the clicked frame and nowhere else.

A click on a frame whose mask came from tracking before the rebuild (the tracking memory is
not stored) starts from that stored mask: it is given to the model as the object's mask on
that frame, and the click refines it, as it would refine the tracked mask.
"""

from __future__ import annotations

import logging
import threading

import numpy as np

from . import rle
from .errors import InvalidMedia, NotFound, SessionExpired
from .inference import FrameMasks, Segmenter
from .library import VideoLibrary
from .sessions import Session, SessionStore
from .storage.database import StoredSession, WorkDatabase
from .storage.replay import BOX, MASK, POINTS, PromptEvent, fold, prompted_frames
from .storage.writer import WorkWriter

log = logging.getLogger(__name__)


class SessionRebuilder:
    def __init__(
        self, db: WorkDatabase, writer: WorkWriter, library: VideoLibrary, store: SessionStore, segmenter: Segmenter
    ):
        self.db, self.writer, self.library, self.store, self.segmenter = db, writer, library, store, segmenter
        self._locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def rebuild(self, session_id: str) -> Session:
        """The session with this id, from the database; NotFound or SessionExpired otherwise."""
        with self._locks_lock:
            lock = self._locks.setdefault(session_id, threading.Lock())
        try:
            with lock:  # two requests for one missing session build it once
                try:
                    return self.store.get(session_id)
                except NotFound:
                    pass
                return self._rebuild_locked(session_id)
        finally:
            with self._locks_lock:
                self._locks.pop(session_id, None)

    def _rebuild_locked(self, session_id: str) -> Session:
        self.writer.flush()  # this process's own queued writes of it first (after an eviction)
        work = self.db.load(session_id)
        if work is None:
            raise NotFound("Unknown session id; start a session first.")
        stored = work.session
        if stored.closed_reason is not None:
            self.store.forget(session_id, stored.closed_reason)
            raise SessionExpired(f"Session expired: {stored.closed_reason}. Start a new session.")
        try:
            video_file, record = self.library.resolve_video(stored.video_path)
        except NotFound:
            raise SessionExpired(
                f"Session expired: its video {stored.video_path} is no longer on this server."
            ) from None
        try:
            state = self.segmenter.init_state(video_file)
        except (RuntimeError, ValueError, OSError) as exc:
            log.warning("rebuilding session %s…: cannot open %s: %s", session_id[:6], record.path, exc)
            raise InvalidMedia(f"The video {record.path} of this session cannot be opened any more.") from None
        pending = fold(work.events)
        size = [stored.height, stored.width]
        session = Session.on_state(
            stored.id,
            record,
            video_file,
            state,
            masks={f: {o: {"size": size, "counts": c} for o, c in objs.items()} for f, objs in work.masks.items()},
            prompted=prompted_frames(pending),
            owner=stored.owner,
            restored=True,
            pending=pending,
            revision=stored.revision,
            ranges={o.object_id: (o.first_frame, o.last_frame) for o in self.db.objects(session_id)
                    if o.first_frame is not None or o.last_frame is not None},
        )
        self.store.add(session)
        if record.is_upload:
            self.library.touch_upload(video_file)
        log.info(
            "session %s… rebuilt from the database: %d objects, %d frames with masks, nothing tracked again",
            session_id[:6], len(pending), len(session.masks),
        )
        return session

    @staticmethod
    def stored_session(s: Session) -> StoredSession:
        return StoredSession(s.id, s.video.path, s.owner, s.num_frames, s.height, s.width, None)

    # -- lazy replay (callers hold the session lock) -------------------------------------------

    def replay_frame(self, s: Session, obj: int, frame: int) -> None:
        """Before a prompt on (obj, frame): replay the prompts in effect there, or start from the
        stored mask when the frame was only tracked before the rebuild."""
        events = s.pending.get(obj, {}).pop(frame, None)
        if s.pending.get(obj) == {}:
            del s.pending[obj]
        if events:
            for event in events:
                self.run(s, event)
            return
        stored = s.masks.get(frame, {}).get(obj)
        if not s.restored or stored is None or self.segmenter.has_output(s.state, obj, frame):
            return
        mask = rle.decode(stored)
        if not mask.any():
            return  # nothing to refine: the click starts afresh, as on a frame without the object
        prior = PromptEvent(MASK, frame, obj, {"counts": stored["counts"], "prior": True})
        self.writer.append_event(s.id, prior, bump=False)  # committed before the click that follows
        self.segmenter.add_mask(s.state, frame, obj, mask)

    def replay_all(self, s: Session) -> None:
        """Before a propagation: every prompt still waiting, so the tracker has all of them."""
        while s.pending:
            obj, frames = next(iter(s.pending.items()))
            frame = next(iter(frames))
            self.replay_frame(s, obj, frame)

    def run(self, s: Session, event: PromptEvent) -> FrameMasks:
        """Run one prompt event on the model (validated when it was first acknowledged)."""
        p = event.payload
        frame, obj = int(event.frame_index), int(event.object_id)
        if event.kind == MASK:
            mask = rle.decode({"size": [s.height, s.width], "counts": p["counts"]})
            return self.segmenter.add_mask(s.state, frame, obj, mask)
        points = np.asarray(p.get("points", []), dtype=np.float32).reshape(-1, 2)
        labels = np.asarray(p.get("labels", []), dtype=np.int32)
        if event.kind == BOX:
            box = np.asarray(p["box"], dtype=np.float32)
            return self.segmenter.add_points(s.state, frame, obj, points, labels, True, box)
        assert event.kind == POINTS
        return self.segmenter.add_points(s.state, frame, obj, points, labels, bool(p.get("clear_old", True)))

    @staticmethod
    def merged_with_stored(s: Session, obj: int, result: FrameMasks) -> FrameMasks:
        """A rebuilt session's answer to a prompt on `obj`: its new mask, and every other
        object's stored mask on that frame (the model state may not hold them yet)."""
        others = {o: m for o, m in s.masks.get(result.frame_index, {}).items() if o != obj}
        for o, m in result.masks:
            if o != obj and o not in others and o not in s.pending:
                others[o] = m
        new = [(o, m) for o, m in result.masks if o == obj]
        return FrameMasks(result.frame_index, sorted([*others.items(), *new]))
