"""Session store: LRU eviction, idle TTL, clear "expired" errors, per-session locks, cancel epochs."""

import threading
import time
from pathlib import Path

import pytest

from demo.backend.errors import BadInput, Busy, NotFound, SessionExpired
from demo.backend.library import VideoRecord
from demo.backend.sessions import Session, SessionStore

VIDEO = VideoRecord("gallery/x.mp4", None, 8, 6, 25.0, 10, 0.4)


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def make(store: SessionStore) -> Session:
    s = Session(
        id=store.new_id(),
        video=VIDEO,
        video_file=Path("x.mp4"),
        state={"num_frames": 10},
        num_frames=10,
        height=6,
        width=8,
    )
    store.add(s)
    return s


def test_ids_are_unguessable_tokens():
    ids = {SessionStore.new_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) >= 32 for i in ids)


def test_lru_eviction_drops_the_cached_copy_only():
    store = SessionStore(max_sessions=2, ttl_sec=100, clock=FakeClock())
    a, b = make(store), make(store)
    store.get(a.id)  # a is now the most recently used
    c = make(store)
    assert store.get(a.id) is a and store.get(c.id) is c
    # Not "expired": the service rebuilds an evicted session from the database.
    with pytest.raises(NotFound):
        store.get(b.id)
    assert b.ended and "at most 2 sessions" in b.ended and b.state is None  # memory released


def test_idle_ttl():
    clock = FakeClock()
    store = SessionStore(max_sessions=5, ttl_sec=10, clock=clock)
    a, b = make(store), make(store)
    clock.now += 6
    store.get(b.id)
    clock.now += 6
    assert store.sweep() == 1
    with pytest.raises(NotFound):  # out of memory, not gone: rebuilt from the database
        store.get(a.id)
    assert "idle" in a.ended
    assert store.get(b.id) is b


def test_busy_session_is_not_swept_while_in_use():
    clock = FakeClock()
    store = SessionStore(max_sessions=5, ttl_sec=10, clock=clock)
    a = make(store)
    a.lock.acquire()
    clock.now += 60
    assert store.sweep() == 0
    a.lock.release()
    assert store.sweep() == 1


def test_unknown_closed_and_malformed_ids():
    store = SessionStore(max_sessions=5, ttl_sec=10)
    a = make(store)
    assert store.close(a.id) is True and store.close(a.id) is False
    with pytest.raises(SessionExpired, match="closed"):
        store.get(a.id)
    with pytest.raises(NotFound):
        store.get("x" * 32)
    for bad in (None, 5, "short", "y" * 500):
        with pytest.raises(BadInput):
            store.get(bad)


def test_lock_timeout_and_cancel_while_waiting():
    store = SessionStore(max_sessions=5, ttl_sec=100)
    a = make(store)
    a.lock.acquire()
    t0 = time.monotonic()
    with pytest.raises(Busy):
        a.acquire(timeout=0.2)
    assert 0.15 < time.monotonic() - t0 < 2
    epoch = a.cancel_epoch
    threading.Timer(0.2, a.cancel).start()
    assert a.acquire(timeout=5, cancel_epoch=epoch) is False  # the cancel landed while it waited
    a.lock.release()
    assert a.acquire(timeout=1, cancel_epoch=a.cancel_epoch) is True
    a.lock.release()


def test_ended_session_refuses_the_lock():
    store = SessionStore(max_sessions=5, ttl_sec=100)
    a = make(store)
    store.close(a.id)
    with pytest.raises(SessionExpired):
        a.acquire(timeout=1)


def test_busy_sessions_are_never_evicted_and_a_full_busy_store_refuses():
    store = SessionStore(max_sessions=2, ttl_sec=100, clock=FakeClock())
    a, b = make(store), make(store)
    a.lock.acquire()  # a is tracking: its lock is held
    c = make(store)  # evicts b, the least recently used idle one, although a is older
    assert a.ended is None and b.ended is not None and store.get(a.id) is a
    c.lock.acquire()
    with pytest.raises(Busy, match="All 2 sessions"):
        make(store)
    assert a.ended is None and c.ended is None
    a.lock.release()
    c.lock.release()


def test_use_while_tracking_keeps_a_session_past_its_ttl():
    clock = FakeClock()
    store = SessionStore(max_sessions=4, ttl_sec=10, clock=clock)
    s = make(store)
    s.lock.acquire()  # a long propagation: each frame marks the session as used
    for _ in range(5):
        clock.now += 8
        store.touch(s)
        assert store.sweep() == 0
    s.lock.release()
    clock.now += 8
    assert store.sweep() == 0 and store.get(s.id) is s  # the export right after the run works
    clock.now += 11
    assert store.sweep() == 1
