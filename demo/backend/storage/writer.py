"""One thread that writes a user's work to the database, in order, in batches.

Request threads never run SQL on the model's path: they queue a write and go on. A prompt is
queued *before* the model runs on it and its acknowledgement waited for *after*, so the
commit overlaps the model's work and adds nothing to a click unless it is slower than the
model. Each batch is one transaction (a group commit): while one commits, the next gathers.

The guarantee: a prompt the server acknowledged to its client is committed; the masks it
answered with and tracked masks are written within half a second (a killed process may lose
the last ones, and those frames are simply not in the database: the page still holds them,
and they can be tracked again).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from .database import StoredObject, StoredSession, WorkDatabase
from .replay import PromptEvent

log = logging.getLogger(__name__)

_MAX_BATCH = 2000  # operations in one transaction
_MASKS_LINGER_SEC = 0.5  # a batch of masks only waits this long for more


class StorageError(RuntimeError):
    """A write the caller waits for failed or did not finish in time."""


class Ack:
    """Completion of one queued write: `wait()` returns its value or raises StorageError."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def _finish(self, value: Any = None, error: BaseException | None = None) -> None:
        self._value, self._error = value, error
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float = 30.0) -> Any:
        if not self._done.wait(timeout):
            raise StorageError(f"the database did not confirm a write within {timeout:g} s")
        if self._error is not None:
            raise StorageError(f"the database refused a write: {self._error}")
        return self._value


_Write = Callable[[Any], Any]  # runs inside the batch's transaction with its connection


class WorkWriter:
    def __init__(self, db: WorkDatabase):
        self.db = db
        self._queue: queue.SimpleQueue[tuple[str, Any, Ack | None]] = queue.SimpleQueue()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="work-writer", daemon=True)
        self._thread.start()

    # -- what callers queue ------------------------------------------------------------------

    def create_session(self, s: StoredSession) -> Ack:
        return self._call(lambda conn: self.db.create_session(conn, s))

    def close_session(self, session_id: str, reason: str) -> Ack:
        return self._call(lambda conn: self.db.close_session(conn, session_id, reason))

    def append_event(self, session_id: str, event: PromptEvent, bump: bool = True) -> Ack:
        """Queue an event; its Ack's value is (the event's row id, the session's new revision,
        None without `bump`)."""
        return self._call(lambda conn: self.db.append_event(conn, session_id, event, bump))

    def bump_revision(self, session_id: str) -> Ack:
        """Queue a mark that the session changed (after a tracking pass); value: the revision."""
        return self._call(lambda conn: self.db.bump_revision(conn, session_id))

    def drop_event(self, appended: Ack) -> None:
        """Take back an event whose prompt failed (it must not be replayed)."""
        try:
            event_id, _ = appended.wait()
        except StorageError:
            return  # never written
        self._call(lambda conn: self.db.drop_event(conn, event_id))

    def put_masks(self, session_id: str, frame_index: int, masks: list[tuple[int, dict]]) -> None:
        """Queue a frame's masks [(object id, RLE)]; nobody waits for them."""
        self._queue.put(("masks", [(session_id, frame_index, obj, m["counts"]) for obj, m in masks], None))

    def delete_masks(self, session_id: str, object_id: int | None = None) -> Ack:
        return self._call(lambda conn: self.db.delete_masks(conn, session_id, object_id))

    def put_object(self, session_id: str, obj: StoredObject) -> Ack:
        return self._call(lambda conn: self.db.put_object(conn, session_id, obj))

    def delete_masks_outside(self, session_id: str, obj: StoredObject) -> Ack:
        return self._call(lambda conn: self.db.delete_masks_outside(conn, session_id, obj))

    def delete_masks_between(self, session_id: str, object_id: int, first: int, last: int) -> Ack:
        return self._call(lambda conn: self.db.delete_masks_between(conn, session_id, object_id, first, last))

    def delete_objects(self, session_id: str, object_id: int | None = None) -> Ack:
        return self._call(lambda conn: self.db.delete_objects(conn, session_id, object_id))

    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far is committed."""
        self._call(lambda conn: None).wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        if not self._stopped:
            self._stopped = True
            self._queue.put(("stop", None, None))
            self._thread.join(timeout)

    def _call(self, write: _Write) -> Ack:
        ack = Ack()
        if self._stopped:
            ack._finish(error=RuntimeError("the server is shutting down"))
            return ack
        self._queue.put(("call", write, ack))
        return ack

    # -- the thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            # Nobody waits for masks: gather them a moment longer (fewer, larger commits while
            # tracking), but write at once as soon as a write someone waits for comes in.
            linger_until = time.monotonic() + _MASKS_LINGER_SEC
            while len(batch) < _MAX_BATCH:
                only_masks = all(kind == "masks" for kind, _, _ in batch)
                wait = linger_until - time.monotonic() if only_masks else 0.0
                try:
                    batch.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(kind == "stop" for kind, _, _ in batch)
            self._write(batch)
            if stop:
                return

    def _write(self, batch: list[tuple[str, Any, Ack | None]]) -> None:
        try:
            results = self._commit(batch)
        except Exception:
            if len(batch) == 1:
                log.exception("a database write failed")
                _, _, ack = batch[0]
                if ack is not None:
                    ack._finish(error=RuntimeError("see the server log"))
                return
            # One bad write must not fail the others of its batch: write each on its own.
            for op in batch:
                self._write([op])
            return
        for ack, value in results:
            ack._finish(value)

    def _commit(self, batch: list[tuple[str, Any, Ack | None]]) -> list[tuple[Ack, Any]]:
        """Write a batch in one transaction; the Acks to finish and their values."""
        results: list[tuple[Ack, Any]] = []
        with self.db.engine.begin() as conn:
            masks: dict[tuple[str, int, int], str] = {}  # a frame written twice: the newest wins
            for kind, item, ack in batch:
                if kind == "masks":
                    for s, f, o, counts in item:
                        masks[(s, f, o)] = counts
                    continue
                if masks:  # keep the order of masks and the writes after them
                    self.db.put_masks(conn, [(*key, c) for key, c in masks.items()])
                    masks.clear()
                if kind == "call":
                    results.append((ack, item(conn)))
            if masks:
                self.db.put_masks(conn, [(*key, c) for key, c in masks.items()])
        return results
