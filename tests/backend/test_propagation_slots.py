"""Propagation slots: a stream whose client stopped reading gives its slot up to a new one."""

import time
from pathlib import Path

import pytest

from demo.backend.errors import BadInput, Busy
from demo.backend.library import VideoRecord
from demo.backend.service import DemoService
from demo.backend.sessions import Session, SessionStore
from demo.backend.settings import Settings
from demo.backend.storage.database import WorkDatabase, connect, migrate
from demo.backend.storage.writer import WorkWriter


def prompted_session(store: SessionStore) -> Session:
    session = Session(
        id=store.new_id(),
        video=VideoRecord("gallery/x.mp4", None, 8, 6, 25.0, 10, 0.4),
        video_file=Path("x.mp4"),
        state=None,
        num_frames=10,
        height=6,
        width=8,
    )
    session.prompted[1] = {0}
    store.add(session)
    return session


def test_a_stalled_stream_loses_its_slot_when_all_are_taken(tmp_path):
    settings = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "DATA_PATH": str(tmp_path), "MAX_PROPAGATIONS": "1"})
    store = SessionStore(max_sessions=4, ttl_sec=100)
    engine = connect(settings.database)
    migrate(engine)
    db = WorkDatabase(engine)
    service = DemoService(settings, library=None, store=store, segmenter=None, db=db, writer=None)
    first = service.start_propagation(prompted_session(store).id)
    aborted = []

    def abort():  # what the transport does: the broken write ends the stream, which frees its slot
        aborted.append(True)
        first.close()

    first.abort_transport = abort
    first.writing_since = time.monotonic()  # its client is taking the frames: it keeps the slot
    with pytest.raises(Busy, match="already running"):
        service.start_propagation(prompted_session(store).id)
    assert not aborted
    first.writing_since = time.monotonic() - 5  # its client has read nothing for 5 s
    second = service.start_propagation(prompted_session(store).id)
    assert aborted == [True] and service.active_propagations == 1
    second.close()
    assert service.active_propagations == 0


def test_prompts_cleared_while_a_propagation_waits_are_a_clear_error(tmp_path):
    settings = Settings.from_env({"SAM2_DEMO_DEVICE": "cpu", "DATA_PATH": str(tmp_path)})
    store = SessionStore(max_sessions=4, ttl_sec=100)
    engine = connect(settings.database)
    migrate(engine)
    db = WorkDatabase(engine)
    service = DemoService(settings, library=None, store=store, segmenter=None, db=db, writer=WorkWriter(db))
    session = prompted_session(store)
    propagation = service.start_propagation(session.id)
    session.prompted.clear()  # clearPointsInVideo ran between the request and the session lock
    with pytest.raises(BadInput, match="cleared meanwhile"):
        next(propagation.frames())
    assert service.active_propagations == 0  # its slot is back
