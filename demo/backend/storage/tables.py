"""The database's tables (SQLAlchemy Core): a user's work on a video, kept outside the process.

- `work_sessions`: one row per session id a client was given (its video, its owner).
- `prompt_events`: every prompt and removal, in the order the server acknowledged them; a
  session's model state is rebuilt by folding them (see `storage/replay.py`).
- `frame_masks`: the latest mask of each object on each frame (COCO RLE counts), the
  derived data a rebuilt session serves without tracking again.
- `work_objects`: what the page calls an object (name, colour, label, frame range).
- `share_links`: tokens that open a session's work in another browser, editable or not.

Changing a table means a new migration in `migrations/versions/`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

work_sessions = Table(
    "work_sessions",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("video_path", String(512), nullable=False),
    Column("owner", String(128), nullable=False, server_default=""),
    Column("num_frames", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("width", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("closed_reason", String(256), nullable=True),  # set once its owner closed it
    Column("revision", BigInteger, nullable=False, server_default="0"),  # bumped by every change
)

prompt_events = Table(
    "prompt_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("session_id", String(128), ForeignKey("work_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),  # see replay.PromptEvent.kind
    Column("frame_index", Integer, nullable=True),
    Column("object_id", BigInteger, nullable=True),
    Column("payload", Text, nullable=False, server_default="{}"),  # JSON
    Column("created_at", Float, nullable=False),
    Index("ix_prompt_events_session", "session_id", "id"),
)

frame_masks = Table(
    "frame_masks",
    metadata,
    Column("session_id", String(128), ForeignKey("work_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("frame_index", Integer, primary_key=True),
    Column("object_id", BigInteger, primary_key=True),
    Column("counts", Text, nullable=False),  # COCO RLE counts string; size is the session's
)

work_objects = Table(
    "work_objects",
    metadata,
    Column("session_id", String(128), ForeignKey("work_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("object_id", BigInteger, primary_key=True),
    Column("name", String(256), nullable=False, server_default=""),
    Column("color", String(32), nullable=False, server_default=""),
    Column("label", String(256), nullable=False, server_default=""),
    # Its frame range, inclusive (NULL: from the start / to the end): no masks outside it.
    Column("first_frame", Integer, nullable=True),
    Column("last_frame", Integer, nullable=True),
)

share_links = Table(
    "share_links",
    metadata,
    Column("token", String(128), primary_key=True),
    Column("session_id", String(128), ForeignKey("work_sessions.id", ondelete="CASCADE"), nullable=False),
    Column("mode", String(8), nullable=False),  # "edit" | "view"
    Column("created_by", String(128), nullable=False, server_default=""),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Index("ix_share_links_session", "session_id"),
)
