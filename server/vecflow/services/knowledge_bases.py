"""Knowledge bases, their directories and files (metadata side; uploads come with the pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from vecflow import validation as v
from vecflow.errors import AlreadyExists, FailedPrecondition, NotFound
from vecflow.ids import new_id
from vecflow.services.auth import Principal
from vecflow.services.purge import FilePurge
from vecflow.storage import models as m
from vecflow.storage import paging
from vecflow.storage import purge as purge_rows
from vecflow.storage import repositories as repo
from vecflow.storage.db import Connection, Database
from vecflow.storage.files import file_exists, page_directories, page_files
from vecflow.storage.knowledge_bases import knowledge_base_named, page_knowledge_bases
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
        ocr: str = "auto",
    ) -> m.KnowledgeBase:
        """`ocr`: the OCR mode its uploads get when they do not say (auto, off, force)."""
        name = v.display_name("name", name)
        v.text("description", description, v.MAX_DESCRIPTION)
        metadata = v.metadata("metadata", metadata)
        async with self.db.session() as s:
            clash = await knowledge_base_named(s, caller.project_id, name)
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
                ocr=ocr,
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
        async with self.db.read_session() as s:
            return await page_knowledge_bases(s, caller.project_id, size, page_token)

    async def delete(self, caller: Principal, kb_id: str) -> int:
        """Delete the knowledge base, its directories and its files (chunks included: see services.purge);
        returns how many files went."""
        v.required("kb_id", kb_id)
        async with self.db.read_session() as s:
            await self._owned_kb(s, caller, kb_id)

        def drop_knowledge_base(conn: Connection) -> None:
            purge_rows.delete_knowledge_base(conn, kb_id)

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
            return await page_directories(s, kb.id, parent, size, page_token)

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
            directories = purge_rows.delete_directories_in_tree(conn, kb_id, path)

        files = await self.purge.delete_files(
            caller.project_id,
            kb_id,
            purge_rows.files_in_tree(path),
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
            return await page_files(s, kb.id, directory, recursive, parse_state, size, page_token)

    async def delete_file(self, caller: Principal, file_id: str) -> None:
        """Delete a file: its row, parse results and vector-store files at once, its chunks in a job."""
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            row = await self.owned_file(s, caller, file_id)

        def still_there(conn: Connection) -> None:
            if not file_exists(conn, file_id):
                raise NotFound.resource("file", file_id)

        await self.purge.delete_files(
            caller.project_id,
            row.kb_id,
            purge_rows.file_with_id(file_id),
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
