"""Storage: migrations build the schema the models describe, and data survives a restart, on every backend."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers.server import start_server
from vecflow.storage import migrate
from vecflow.storage.db import Database
from vecflow.storage.models import Base
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2


async def test_migrations_match_models_and_are_repeatable(database_url: str) -> None:
    db = Database(database_url)
    try:
        await migrate.upgrade(db)
        await migrate.upgrade(db)  # a second start on an up-to-date database changes nothing
        assert (
            await migrate.current_revision(db)
            == ScriptDirectory.from_config(migrate.alembic_config()).get_current_head()
        )

        def diff(conn: object) -> list:
            return compare_metadata(MigrationContext.configure(conn), Base.metadata)  # type: ignore[arg-type]

        async with db.engine.connect() as conn:
            changes = await conn.run_sync(diff)
        assert changes == [], f"models changed without a migration: {changes}"
    finally:
        await db.dispose()


async def test_resources_persist_across_restart(tmp_path: Path, database_url: str) -> None:
    first = await start_server(tmp_path, database_url)
    stubs = first.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kept"))).knowledge_base
    await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="a/b", create_parents=True))
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="kept"))).vector_store
    key = first.key
    await first.close()

    second = await start_server(tmp_path, database_url, key=key)
    try:
        stubs = second.stubs(key.secret)  # the key still works: it is stored, not in memory
        assert (await stubs.kbs.GetKnowledgeBase(kb_pb2.GetKnowledgeBaseRequest(kb_id=kb.id))).knowledge_base == kb
        dirs = await stubs.kbs.ListDirectories(kb_pb2.ListDirectoriesRequest(kb_id=kb.id, parent="a"))
        assert [d.path for d in dirs.directories] == ["a/b"]
        got = (await stubs.stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store.id))).vector_store
        assert got == store
        assert second.app.bootstrap_key is None  # no second default tenant
    finally:
        await second.close()
