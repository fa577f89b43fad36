"""A revision per session: bumped by every prompt event and every finished tracking pass, so a
worker holding a session in memory notices that another worker changed it since.

Revision ID: 0002_revision
Revises: 0001_work
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_revision"
down_revision = "0001_work"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_sessions") as batch:
        batch.add_column(sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("work_sessions") as batch:
        batch.drop_column("revision")
