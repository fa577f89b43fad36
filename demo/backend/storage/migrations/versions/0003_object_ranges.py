"""An object's frame range: the first and last frame it has masks on (absent: the whole video).

Revision ID: 0003_object_ranges
Revises: 0002_revision
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_object_ranges"
down_revision = "0002_revision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("work_objects") as batch:  # SQLite alters tables by copying them
        batch.add_column(sa.Column("first_frame", sa.Integer, nullable=True))
        batch.add_column(sa.Column("last_frame", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("work_objects") as batch:
        batch.drop_column("last_frame")
        batch.drop_column("first_frame")
