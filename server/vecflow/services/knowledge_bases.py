"""Knowledge bases, their directories and files (metadata side; uploads come with the pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, select

from vecflow import validation as v
from vecflow.errors import AlreadyExists, FailedPrecondition, NotFound
from vecflow.ids import new_id
from vecflow.services.auth import Principal
from vecflow.services.purge import DIRS, FILES, KBS, FilePurge
from vecflow.storage import models as m
from vecflow.storage import paging
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow

PARSE_STATES = ("pending", "success", "failed", "skipped")


class KnowledgeBaseService:
    def __init__(self, db: Database, purge: FilePurge) -> None:
        self.db = db
        self.purge = purge

    async def create(
        self,
        caller: Principal,
        name: str,
        description: str = "",
        metadata: dict[str, Any] | None = None,
        auto_parse: bool = True,
    ) -> m.KnowledgeBase:
        name = v.display_name("name", name)
        v.text("description", description, v.MAX_DESCRIPTION)
        metadata = v.metadata("metadata", metadata)
        async with self.db.session() as s:
            clash = await s.scalar(
                select(m.KnowledgeBase.id).where(
                    m.KnowledgeBase.project_id == caller.project_id, m.KnowledgeBase.name == name
                )
            )
            if clash:
                raise AlreadyExists(
                    f"a knowledge base named {name!r} already exists in this project ({clash})",
                    reason="KNOWLEDGE_BASE_NAME_TAKEN",
                    metadata={"name": name, "existing_id": clash},
                )
            now = utcnow()
            kb = m.KnowledgeBase(
                id=new_id("knowledge_base"),
                created_at=now,
                updated_at=now,
                project_id=caller.project_id,
                name=name,
                description=description,
                metadata_=metadata,
                auto_parse=auto_parse,
                on_behalf_of=caller.on_behalf_of,
            )
            s.add(kb)
        return kb

    async def get(self, caller: Principal, kb_id: str) -> m.KnowledgeBase:
        v.required("kb_id", kb_id)
        async with self.db.read_session() as s:
            return await self._owned_kb(s, caller, kb_id)

    async def list(self, caller: Principal, page_size: int, page_token: str) -> tuple[Sequence[m.KnowledgeBase], str]:
        size = paging.page_size(page_size)
        stmt = select(m.KnowledgeBase).where(m.KnowledgeBase.project_id == caller.project_id)
        async with self.db.read_session() as s:
            return await repo.page_newest_first(
                s, stmt, m.KnowledgeBase, size, page_token, {"kind": "kb", "project": caller.project_id}
            )

    async def delete(self, caller: Principal, kb_id: str) -> int:
        """Delete the knowledge base, its directories and its files (chunks included: see services.purge);
        returns how many files went."""
        v.required("kb_id", kb_id)
        async with self.db.read_session() as s:
            await self._owned_kb(s, caller, kb_id)

        def drop_knowledge_base(conn: Connection) -> None:
            conn.execute(delete(DIRS).where(DIRS.c.kb_id == kb_id))
            conn.execute(delete(KBS).where(KBS.c.id == kb_id))

        return await self.purge.delete_files(
            caller.project_id, kb_id, None, source_id=kb_id, on_behalf_of=caller.on_behalf_of, after=drop_knowledge_base
        )

    # Directories -----------------------------------------------------------------------

    async def create_directory(
        self, caller: Principal, kb_id: str, path: str, create_parents: bool = False
    ) -> m.Directory:
        v.required("kb_id", kb_id)
        path = v.directory_path("path", path, allow_root=False)
        async with self.db.session() as s:
            kb = await self._owned_kb(s, caller, kb_id)
            segments = path.split("/")
            created: m.Directory | None = None
            for depth in range(1, len(segments) + 1):
                current = "/".join(segments[:depth])
                parent = "/".join(segments[: depth - 1])
                is_last = depth == len(segments)
                taken = await repo.name_taken(s, kb.id, parent, segments[depth - 1])
                if taken == "directory" and not is_last:
                    continue
                if taken is not None:
                    raise AlreadyExists(
                        f"{current!r} already exists as a {taken} in knowledge base {kb.id}",
                        reason="NAME_TAKEN",
                        metadata={"path": current, "existing_kind": taken},
                    )
                if not is_last and not create_parents:
                    raise NotFound(
                        f"parent directory {current!r} does not exist; create it first or set create_parents",
                        reason="PARENT_DIRECTORY_NOT_FOUND",
                        metadata={"path": current},
                    )
                created = m.Directory(
                    id=new_id("directory"),
                    project_id=caller.project_id,
                    kb_id=kb.id,
                    path=current,
                    parent=parent,
                    name=segments[depth - 1],
                )
                s.add(created)
                await s.flush()
            assert created is not None
        return created

    async def list_directories(
        self, caller: Principal, kb_id: str, parent: str, page_size: int, page_token: str
    ) -> tuple[Sequence[m.Directory], str]:
        v.required("kb_id", kb_id)
        parent = v.directory_path("parent", parent)
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            kb = await self._owned_kb(s, caller, kb_id)
            await self._require_directory(s, kb.id, parent, "parent")
            stmt = select(m.Directory).where(m.Directory.kb_id == kb.id, m.Directory.parent == parent)
            filters = {"kind": "dirs", "kb": kb.id, "parent": parent}
            return await repo.page_by_key(s, stmt, [m.Directory.name], size, page_token, filters)

    async def delete_directory(self, caller: Principal, kb_id: str, path: str, recursive: bool) -> tuple[int, int]:
        """Delete a directory (with `recursive`, everything below it: files leave their vector stores too);
        returns (files, directories) deleted."""
        v.required("kb_id", kb_id)
        path = v.directory_path("path", path, allow_root=False)
        async with self.db.read_session() as s:
            kb = await self._owned_kb(s, caller, kb_id)
            await self._require_directory(s, kb.id, path, "path")
            if not recursive and not await repo.directory_is_empty(s, kb.id, path):
                raise FailedPrecondition(
                    f"directory {path!r} is not empty; delete its contents first or set recursive",
                    reason="DIRECTORY_NOT_EMPTY",
                    metadata={"path": path},
                )
        directories = 0

        def drop_directories(conn: Connection) -> None:
            nonlocal directories
            directories = (
                conn.execute(delete(DIRS).where(DIRS.c.kb_id == kb_id, repo.in_tree(DIRS.c.path, path))).rowcount or 0
            )

        files = await self.purge.delete_files(
            caller.project_id,
            kb_id,
            repo.in_tree(FILES.c.directory, path),
            source_id=kb_id,
            on_behalf_of=caller.on_behalf_of,
            after=drop_directories,
        )
        return files, directories

    # Files -------------------------------------------------------------------------------

    async def get_file(self, caller: Principal, file_id: str) -> m.File:
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            return await self.owned_file(s, caller, file_id)

    async def list_files(
        self,
        caller: Principal,
        kb_id: str,
        directory: str,
        recursive: bool,
        parse_state: str,
        page_size: int,
        page_token: str,
    ) -> tuple[Sequence[m.File], str]:
        v.required("kb_id", kb_id)
        directory = v.directory_path("directory", directory)
        size = paging.page_size(page_size)
        async with self.db.read_session() as s:
            kb = await self._owned_kb(s, caller, kb_id)
            await self._require_directory(s, kb.id, directory, "directory")
            stmt = select(m.File).where(m.File.kb_id == kb.id)
            if recursive:
                if directory:
                    stmt = stmt.where(
                        (m.File.directory == directory) | m.File.directory.startswith(directory + "/", autoescape=True)
                    )
            else:
                stmt = stmt.where(m.File.directory == directory)
            if parse_state:
                stmt = stmt.where(m.File.parse_state == parse_state)
            filters = {"kind": "files", "kb": kb.id, "dir": directory, "r": recursive, "state": parse_state}
            return await repo.page_by_key(s, stmt, [m.File.directory, m.File.name], size, page_token, filters)

    async def delete_file(self, caller: Principal, file_id: str) -> None:
        """Delete a file: its row, parse results and vector-store files at once, its chunks in a job."""
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            row = await self.owned_file(s, caller, file_id)

        def still_there(conn: Connection) -> None:
            if conn.execute(select(FILES.c.id).where(FILES.c.id == file_id)).first() is None:
                raise NotFound.resource("file", file_id)

        await self.purge.delete_files(
            caller.project_id,
            row.kb_id,
            FILES.c.id == file_id,
            source_id=file_id,
            on_behalf_of=caller.on_behalf_of,
            before=still_there,
        )

    # Helpers -----------------------------------------------------------------------------

    async def _owned_kb(self, s: Any, caller: Principal, kb_id: str) -> m.KnowledgeBase:
        kb = await repo.get_owned(s, m.KnowledgeBase, caller.project_id, kb_id)
        if kb is None:
            raise NotFound.resource("knowledge base", kb_id)
        return kb

    async def owned_file(self, s: Any, caller: Principal, file_id: str) -> m.File:
        row = await repo.get_owned(s, m.File, caller.project_id, file_id)
        if row is None:
            raise NotFound.resource("file", file_id)
        return row

    @staticmethod
    async def _require_directory(s: Any, kb_id: str, path: str, field: str) -> None:
        if not await repo.directory_exists(s, kb_id, path):
            raise NotFound(
                f"{field}: directory {path!r} does not exist in knowledge base {kb_id}",
                reason="DIRECTORY_NOT_FOUND",
                metadata={"path": path},
            )
