"""The demo's database: the engine for `DATABASE_URL` (SQLite under DATA_PATH by default), its
migrations, and every read and write of a user's work. The only module that speaks SQL.

Durability: SQLite runs in WAL mode with `synchronous=NORMAL`, so a committed transaction
survives the process being killed (it may not survive the machine losing power); PostgreSQL
commits are durable as configured on the server (on by default). What the server acknowledges
to a client is committed first (see `writer.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, delete, event, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from .replay import PromptEvent
from .tables import frame_masks, prompt_events, share_links, work_objects, work_sessions

log = logging.getLogger(__name__)

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 726_202_401  # PostgreSQL advisory lock: workers starting together migrate once


@dataclass(frozen=True)
class StoredSession:
    id: str
    video_path: str
    owner: str
    num_frames: int
    height: int
    width: int
    closed_reason: str | None
    revision: int = 0


@dataclass(frozen=True)
class StoredObject:
    object_id: int
    name: str
    color: str
    label: str
    # Frames it has masks on, inclusive (None: from the start / to the end of the video).
    first_frame: int | None = None
    last_frame: int | None = None

    def covers(self, frame: int) -> bool:
        return (self.first_frame is None or frame >= self.first_frame) and (
            self.last_frame is None or frame <= self.last_frame
        )


@dataclass(frozen=True)
class StoredWork:
    """All a rebuilt session needs: its row, its events (oldest first), its latest masks."""

    session: StoredSession
    events: list[PromptEvent]
    masks: dict[int, dict[int, str]]  # frame -> object id -> RLE counts


@dataclass(frozen=True)
class ShareLink:
    token: str
    session_id: str
    mode: str  # "edit" | "view"
    revoked: bool


def _delete_of_session(conn, table, session_id: str, object_id: int | None) -> None:
    """Delete a session's rows of `table` (one object's only, given its id)."""
    condition = table.c.session_id == session_id
    if object_id is not None:
        condition = condition & (table.c.object_id == object_id)
    conn.execute(delete(table).where(condition))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def connect(url: str) -> Engine:
    """An engine for `url`, with the pragmas SQLite needs to be durable and concurrent."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait on the writer
            cursor.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=4, max_overflow=4)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (several workers may start at once)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


class WorkDatabase:
    """Reads and writes of a user's work. Writes take an open connection (a transaction of
    the writer thread); reads open their own."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    # -- writes (inside the writer's transaction) --------------------------------------------

    @staticmethod
    def create_session(conn, s: StoredSession) -> None:
        now = time.time()
        conn.execute(
            work_sessions.insert().values(
                id=s.id, video_path=s.video_path, owner=s.owner, num_frames=s.num_frames, height=s.height,
                width=s.width, created_at=now, updated_at=now, closed_reason=None,
            )
        )

    @staticmethod
    def close_session(conn, session_id: str, reason: str) -> None:
        conn.execute(
            update(work_sessions)
            .where(work_sessions.c.id == session_id)
            .values(closed_reason=reason, updated_at=time.time())
        )

    def append_event(self, conn, session_id: str, e: PromptEvent, bump: bool = True) -> tuple[int, int | None]:
        """(the event's id, the session's revision after it, or None when `bump` is off: the
        caller marks the change later, with what follows from it)."""
        result = conn.execute(
            prompt_events.insert().values(
                session_id=session_id, kind=e.kind, frame_index=e.frame_index, object_id=e.object_id,
                payload=e.payload_json(), created_at=time.time(),
            )
        )
        return int(result.inserted_primary_key[0]), self.bump_revision(conn, session_id) if bump else None

    @staticmethod
    def bump_revision(conn, session_id: str) -> int:
        """Mark a session as changed; returns its new revision."""
        return int(
            conn.execute(
                update(work_sessions)
                .where(work_sessions.c.id == session_id)
                .values(revision=work_sessions.c.revision + 1, updated_at=time.time())
                .returning(work_sessions.c.revision)
            ).scalar_one()
        )

    @staticmethod
    def drop_event(conn, event_id: int) -> None:
        conn.execute(delete(prompt_events).where(prompt_events.c.id == event_id))

    def put_masks(self, conn, rows: Iterable[tuple[str, int, int, str]]) -> None:
        """Upsert (session id, frame, object id, counts) rows."""
        values = [{"session_id": s, "frame_index": f, "object_id": o, "counts": c} for s, f, o, c in rows]
        if not values:
            return
        stmt = self._insert(frame_masks)
        stmt = stmt.on_conflict_do_update(
            index_elements=["session_id", "frame_index", "object_id"], set_={"counts": stmt.excluded.counts}
        )
        conn.execute(stmt, values)

    @staticmethod
    def delete_masks(conn, session_id: str, object_id: int | None = None) -> None:
        _delete_of_session(conn, frame_masks, session_id, object_id)

    def put_object(self, conn, session_id: str, obj: StoredObject) -> None:
        stmt = self._insert(work_objects).values(
            session_id=session_id, object_id=obj.object_id, name=obj.name, color=obj.color, label=obj.label,
            first_frame=obj.first_frame, last_frame=obj.last_frame,
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["session_id", "object_id"],
                set_={"name": obj.name, "color": obj.color, "label": obj.label,
                      "first_frame": obj.first_frame, "last_frame": obj.last_frame},
            )
        )

    @staticmethod
    def delete_masks_outside(conn, session_id: str, obj: StoredObject) -> None:
        """Delete an object's masks outside its frame range."""
        outside = []
        if obj.first_frame is not None:
            outside.append(frame_masks.c.frame_index < obj.first_frame)
        if obj.last_frame is not None:
            outside.append(frame_masks.c.frame_index > obj.last_frame)
        if outside:
            conn.execute(
                delete(frame_masks).where(
                    (frame_masks.c.session_id == session_id)
                    & (frame_masks.c.object_id == obj.object_id)
                    & or_(*outside)
                )
            )

    @staticmethod
    def delete_masks_between(conn, session_id: str, object_id: int, first: int, last: int) -> None:
        """Delete an object's masks on frames first..last (inclusive)."""
        conn.execute(
            delete(frame_masks).where(
                (frame_masks.c.session_id == session_id)
                & (frame_masks.c.object_id == object_id)
                & frame_masks.c.frame_index.between(first, last)
            )
        )

    @staticmethod
    def delete_objects(conn, session_id: str, object_id: int | None = None) -> None:
        _delete_of_session(conn, work_objects, session_id, object_id)

    # -- share links (rare: written directly, not through the writer) ----------------------------

    def create_share(self, token: str, session_id: str, mode: str, created_by: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                share_links.insert().values(
                    token=token, session_id=session_id, mode=mode, created_by=created_by, created_at=time.time()
                )
            )

    def revoke_share(self, token: str, session_id: str) -> bool:
        with self.engine.begin() as conn:
            result = conn.execute(
                update(share_links)
                .where(
                    (share_links.c.token == token)
                    & (share_links.c.session_id == session_id)
                    & share_links.c.revoked_at.is_(None)
                )
                .values(revoked_at=time.time())
            )
            return result.rowcount > 0

    def share(self, token: str) -> ShareLink | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(share_links).where(share_links.c.token == token)).first()
        if row is None:
            return None
        return ShareLink(row.token, row.session_id, row.mode, row.revoked_at is not None)

    def shares_of(self, session_id: str) -> list[ShareLink]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(share_links)
                .where((share_links.c.session_id == session_id) & share_links.c.revoked_at.is_(None))
                .order_by(share_links.c.created_at)
            ).all()
        return [ShareLink(r.token, r.session_id, r.mode, False) for r in rows]

    # -- reads -----------------------------------------------------------------------------------

    def events(self, session_id: str) -> list[PromptEvent]:
        with self.engine.connect() as conn:
            return self._events(conn, session_id)

    def objects(self, session_id: str) -> list[StoredObject]:
        with self.engine.connect() as conn:
            return [
                StoredObject(int(r.object_id), r.name, r.color, r.label, r.first_frame, r.last_frame)
                for r in conn.execute(
                    select(work_objects).where(work_objects.c.session_id == session_id).order_by(work_objects.c.object_id)
                )
            ]

    @staticmethod
    def _events(conn, session_id: str) -> list[PromptEvent]:
        return [
            PromptEvent.from_row(r.kind, r.frame_index, r.object_id, r.payload)
            for r in conn.execute(
                select(prompt_events.c.kind, prompt_events.c.frame_index, prompt_events.c.object_id,
                       prompt_events.c.payload)
                .where(prompt_events.c.session_id == session_id)
                .order_by(prompt_events.c.id)
            )
        ]

    def revision(self, session_id: str) -> tuple[int, str | None] | None:
        """(revision, closed reason) of a session, or None: the cheap check of a cached copy."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(work_sessions.c.revision, work_sessions.c.closed_reason).where(work_sessions.c.id == session_id)
            ).first()
        return None if row is None else (int(row.revision), row.closed_reason)

    def session(self, session_id: str) -> StoredSession | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(work_sessions).where(work_sessions.c.id == session_id)).first()
        return None if row is None else self._session(row)

    def load(self, session_id: str) -> StoredWork | None:
        """Everything stored of a session, or None when there is no such session."""
        with self.engine.connect() as conn:
            row = conn.execute(select(work_sessions).where(work_sessions.c.id == session_id)).first()
            if row is None:
                return None
            events = self._events(conn, session_id)
            masks: dict[int, dict[int, str]] = {}
            for r in conn.execute(
                select(frame_masks.c.frame_index, frame_masks.c.object_id, frame_masks.c.counts).where(
                    frame_masks.c.session_id == session_id
                )
            ):
                masks.setdefault(r.frame_index, {})[int(r.object_id)] = r.counts
        return StoredWork(self._session(row), events, masks)

    @staticmethod
    def _session(row) -> StoredSession:
        return StoredSession(
            row.id, row.video_path, row.owner, row.num_frames, row.height, row.width, row.closed_reason, row.revision
        )
