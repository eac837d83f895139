"""vector-store files: the generation of chunks that serves searches; an index by file

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "" is the generation of chunks written before generations existed (their pks have no generation part).
    with op.batch_alter_table("vector_store_files") as batch:
        batch.add_column(sa.Column("live_generation", sa.String(length=40), nullable=False, server_default=""))
    # Deleting or replacing a file finds the stores that hold it.
    op.create_index(op.f("ix_vector_store_files_file_id"), "vector_store_files", ["file_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_vector_store_files_file_id"), table_name="vector_store_files")
    with op.batch_alter_table("vector_store_files") as batch:
        batch.drop_column("live_generation")
