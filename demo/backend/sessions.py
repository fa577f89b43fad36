"""Session store: one `Session` per open video, each with its own lock; LRU eviction and idle TTL.

A session that is busy (a call or a propagation holds its lock) is never evicted or expired:
when every session is busy, a new one is refused with "busy" instead. Each call and each
propagated frame marks the session as used, so tracking for longer than the TTL keeps it.

There is no global model lock. The store's own lock guards only the id -> session map and is
held for microseconds; work on a session's inference state happens under `Session.lock`, so
one user's propagation never waits on another user's click.

A session in memory is a cache of what the database holds (`storage/`): eviction and the idle
timeout only drop the cached copy, and the next request naming it rebuilds it (service.py).
Only a session its user closed ends for good.

Cancellation is lock-free: `cancel()` bumps `Session.cancel_epoch`; a propagation remembers the
epoch it started with and stops at the next frame once it differs (also while it still waits
for the session lock).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import BadInput, Busy, NotFound, SessionExpired
from .library import VideoRecord
from .storage.replay import PendingPrompts

log = logging.getLogger(__name__)

_REMEMBERED_ENDINGS = 4096  # ids of ended sessions kept to answer "expired" rather than "unknown"


@dataclass
class Session:
    """One client's open video. `state` is the predictor's inference state (a dict by API)."""

    id: str
    video: VideoRecord
    video_file: Path
    state: Any
    num_frames: int
    height: int
    width: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = field(default_factory=time.monotonic)
    cancel_epoch: int = 0
    ended: str | None = None  # why it ended (closed, evicted, idle), once it has
    # Latest mask of every object on every frame, as RLE: frame -> object id -> rle.
    masks: dict[int, dict[int, dict]] = field(default_factory=dict)
    # Frames holding prompts, per object id (the objects the session tracks).
    prompted: dict[int, set[int]] = field(default_factory=dict)
    masks_version: int = 0  # bumped on every change of `masks` (exports are cached by it)
    # Frame ranges (first, last; None: open) of objects that have one: no masks are kept outside.
    ranges: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    stream_abort: Callable[[], None] | None = None  # breaks a propagation's stalled write
    owner: str = ""  # the client id that started it
    # Rebuilt from the database: prompts not yet replayed into `state` (object -> frame ->
    # events); they are replayed when the model needs them, and masks come from the database.
    restored: bool = False
    pending: PendingPrompts = field(default_factory=dict)
    # The database's revision of it this copy reflects (another worker's change bumps it there),
    # and the last change of its own on its way to the database (an Ack of storage/writer.py).
    revision: int = 0
    own_bump: Any = None

    @classmethod
    def on_state(cls, session_id: str, video: VideoRecord, video_file: Path, state: Any, **fields) -> Session:
        """A session on a freshly opened inference state (frame count and size read from it)."""
        return cls(
            id=session_id,
            video=video,
            video_file=video_file,
            state=state,
            num_frames=int(state["num_frames"]),
            height=int(state["video_height"]),
            width=int(state["video_width"]),
            **fields,
        )

    def cancel(self) -> None:
        self.cancel_epoch += 1

    def is_cancelled(self, epoch: int) -> bool:
        return self.ended is not None or self.cancel_epoch != epoch

    def acquire(self, timeout: float, cancel_epoch: int | None = None) -> bool:
        """Take the session lock; False when cancelled first (if an epoch is given).

        Raises Busy after `timeout` seconds, SessionExpired if the session ends meanwhile.
        """
        deadline = time.monotonic() + timeout
        while True:
            if self.ended is not None:
                raise SessionExpired(f"Session expired: {self.ended}. Start a new session.")
            if cancel_epoch is not None and self.is_cancelled(cancel_epoch):
                return False
            if self.lock.acquire(timeout=0.05):
                if self.ended is not None:
                    self.lock.release()
                    raise SessionExpired(f"Session expired: {self.ended}. Start a new session.")
                return True
            if time.monotonic() > deadline:
                raise Busy(
                    f"The session is busy (waited {timeout:g} s); try again, or cancel the propagation."
                )


class SessionStore:
    """Thread-safe map of session id -> Session, bounded in count and idle time."""

    def __init__(
        self,
        max_sessions: int,
        ttl_sec: float,
        clock: Callable[[], float] = time.monotonic,
        on_release: Callable[[], None] | None = None,
    ):
        self.max_sessions = max_sessions
        self.ttl_sec = ttl_sec
        self.clock = clock
        self.on_release = on_release  # called when a session's state was let go (memory.py)
        self._sessions: OrderedDict[str, Session] = OrderedDict()  # least recently used first
        self._endings: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(24)  # 192 random bits: unguessable

    def add(self, session: Session) -> list[Session]:
        """Insert a session, evicting the least recently used ones beyond the limit.

        Returns the evicted sessions (already marked ended and cancelled). Raises Busy when
        the store is full of sessions that are all busy.
        """
        with self._lock:
            evicted = self._sweep_locked()
            while len(self._sessions) >= self.max_sessions:
                oldest = next((s for s in self._sessions.values() if not s.lock.locked()), None)
                if oldest is None:
                    raise Busy(
                        f"All {self.max_sessions} sessions of this server are busy tracking or "
                        "segmenting; try again in a moment."
                    )
                del self._sessions[oldest.id]
                self._end_locked(
                    oldest,
                    f"closed to make room: the server holds at most {self.max_sessions} sessions",
                    final=False,
                )
                evicted.append(oldest)
            session.last_used = self.clock()
            self._sessions[session.id] = session
        for old in evicted:
            log.info("session %s… ended: %s", old.id[:6], old.ended)
        return evicted

    def get(self, session_id: object) -> Session:
        """The live session with this id (marked as just used), or a clear error: NotFound when
        this process does not hold it (the caller may rebuild it), SessionExpired once closed."""
        if not isinstance(session_id, str) or not 8 <= len(session_id) <= 128:
            raise BadInput("sessionId must be the id returned by startSession.")
        with self._lock:
            self._sweep_locked()
            session = self._sessions.get(session_id)
            if session is None:
                reason = self._endings.get(session_id)
                if reason is not None:
                    raise SessionExpired(f"Session expired: {reason}. Start a new session.")
                raise NotFound("Unknown session id; start a session first.")
            session.last_used = self.clock()
            self._sessions.move_to_end(session_id)
            return session

    def touch(self, session: Session) -> None:
        """Mark a session as used now (each propagated frame does, so tracking never idles out)."""
        session.last_used = self.clock()

    def close(self, session_id: object) -> bool:
        """End a session. True if it was open."""
        if not isinstance(session_id, str):
            raise BadInput("sessionId must be the id returned by startSession.")
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is None:
                return False
            self._end_locked(session, "it was closed")
        if session.stream_abort is not None:
            session.stream_abort()  # a stream stuck writing to a client that does not read ends now
        return True

    def sweep(self) -> int:
        """End sessions idle for longer than the TTL; returns how many ended."""
        with self._lock:
            return len(self._sweep_locked())

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    def sessions(self) -> list[Session]:
        with self._lock:
            return list(self._sessions.values())

    def _sweep_locked(self) -> list[Session]:
        now = self.clock()
        idle = [
            s
            for s in self._sessions.values()
            if now - s.last_used > self.ttl_sec and not s.lock.locked()  # never under a running call
        ]
        for session in idle:
            del self._sessions[session.id]
            self._end_locked(session, f"idle for more than {self.ttl_sec:g} s", final=False)
        return idle

    def drop(self, session: Session, reason: str) -> None:
        """Drop a cached copy that is out of date (the next request rebuilds it)."""
        with self._lock:
            if self._sessions.get(session.id) is session:
                del self._sessions[session.id]
                self._end_locked(session, reason, final=False)

    def forget(self, session_id: str, reason: str) -> None:
        """Remember that a session ended for good (closed elsewhere, e.g. by another worker)."""
        with self._lock:
            self._remember_ending_locked(session_id, reason)

    def _end_locked(self, session: Session, reason: str, final: bool = True) -> None:
        """Stop a session's work and drop its state; `final`: its id answers "expired" from now
        on (else it is only out of memory, and can be rebuilt from the database)."""
        session.ended = reason
        session.cancel()
        session.state = None if not session.lock.locked() else session.state  # free memory now if idle
        if self.on_release is not None:
            self.on_release()
        if final:
            self._remember_ending_locked(session.id, reason)

    def _remember_ending_locked(self, session_id: str, reason: str) -> None:
        self._endings[session_id] = reason
        while len(self._endings) > _REMEMBERED_ENDINGS:
            self._endings.popitem(last=False)
