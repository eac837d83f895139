"""knowledge bases and files: the OCR setting

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 19:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The OCR mode (auto, off, force) a knowledge base's uploads get, and the one an upload asked for ("": the
    # knowledge base's); how many pages of a parse result came from OCR.
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.add_column(sa.Column("ocr", sa.String(length=8), server_default="auto", nullable=False))
    with op.batch_alter_table("kb_files") as batch:
        batch.add_column(sa.Column("ocr", sa.String(length=8), server_default="", nullable=False))
    with op.batch_alter_table("parse_results") as batch:
        batch.add_column(sa.Column("ocr_pages", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("parse_results") as batch:
        batch.drop_column("ocr_pages")
    with op.batch_alter_table("kb_files") as batch:
        batch.drop_column("ocr")
    with op.batch_alter_table("knowledge_bases") as batch:
        batch.drop_column("ocr")
