"""Work outside the process: sessions, prompt events, frame masks, objects, share links.

Revision ID: 0001_work
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001_work"
down_revision = None
branch_labels = None
depends_on = None

_EVENT_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")  # SQLite autoincrements INTEGER keys only


def upgrade() -> None:
    op.create_table(
        "work_sessions",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("video_path", sa.String(512), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False, server_default=""),
        sa.Column("num_frames", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("closed_reason", sa.String(256), nullable=True),
    )
    op.create_table(
        "prompt_events",
        sa.Column("id", _EVENT_ID, primary_key=True, autoincrement=True),
        sa.Column(
            "session_id", sa.String(128), sa.ForeignKey("work_sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("frame_index", sa.Integer, nullable=True),
        sa.Column("object_id", sa.BigInteger, nullable=True),
        sa.Column("payload", sa.Text, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_prompt_events_session", "prompt_events", ["session_id", "id"])
    op.create_table(
        "frame_masks",
        sa.Column(
            "session_id", sa.String(128), sa.ForeignKey("work_sessions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("frame_index", sa.Integer, primary_key=True),
        sa.Column("object_id", sa.BigInteger, primary_key=True),
        sa.Column("counts", sa.Text, nullable=False),
    )
    op.create_table(
        "work_objects",
        sa.Column(
            "session_id", sa.String(128), sa.ForeignKey("work_sessions.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("object_id", sa.BigInteger, primary_key=True),
        sa.Column("name", sa.String(256), nullable=False, server_default=""),
        sa.Column("color", sa.String(32), nullable=False, server_default=""),
        sa.Column("label", sa.String(256), nullable=False, server_default=""),
    )
    op.create_table(
        "share_links",
        sa.Column("token", sa.String(128), primary_key=True),
        sa.Column(
            "session_id", sa.String(128), sa.ForeignKey("work_sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("revoked_at", sa.Float, nullable=True),
    )
    op.create_index("ix_share_links_session", "share_links", ["session_id"])


def downgrade() -> None:
    op.drop_table("share_links")
    op.drop_table("work_objects")
    op.drop_table("frame_masks")
    op.drop_index("ix_prompt_events_session", table_name="prompt_events")
    op.drop_table("prompt_events")
    op.drop_table("work_sessions")
