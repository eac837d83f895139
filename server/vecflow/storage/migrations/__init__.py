"""Alembic migrations; `vecflow.storage.migrate.upgrade()` applies them."""
