"""vector stores and collections: the keyword analyzer; chunk sections

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Stores made before these existed were chunked by token window and searched with the english analyzer.
    with op.batch_alter_table("vector_stores") as batch:
        batch.add_column(
            sa.Column("chunking_mode", sa.String(length=16), nullable=False, server_default="token_window")
        )
        batch.add_column(sa.Column("keyword_analyzer", sa.String(length=32), nullable=False, server_default="english"))
    with op.batch_alter_table("upsertion_tasks") as batch:
        batch.add_column(sa.Column("keyword_analyzer", sa.String(length=32), nullable=False, server_default="english"))
    op.create_table(
        "item_collections",
        sa.Column("project_id", sa.String(length=40), nullable=False),
        sa.Column("collection", sa.String(length=16), nullable=False),
        sa.Column("keyword_analyzer", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name=op.f("fk_item_collections_project_id_projects"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("project_id", "collection", name=op.f("pk_item_collections")),
    )


def downgrade() -> None:
    op.drop_table("item_collections")
    with op.batch_alter_table("upsertion_tasks") as batch:
        batch.drop_column("keyword_analyzer")
    with op.batch_alter_table("vector_stores") as batch:
        batch.drop_column("keyword_analyzer")
        batch.drop_column("chunking_mode")
