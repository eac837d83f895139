"""Alembic environment: runs on the connection handed over by vecflow.storage.migrate."""

from __future__ import annotations

from alembic import context

from vecflow.storage.models import Base

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - a developer ran the alembic CLI
    raise RuntimeError("apply migrations with `vecflow migrate` (vecflow.storage.migrate), not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
