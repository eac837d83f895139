"""Parse results (read side; parse, extract and chunk jobs come with the pipeline)."""

from __future__ import annotations

from vecflow import validation as v
from vecflow.errors import NotFound
from vecflow.services.auth import Principal
from vecflow.storage import models as m
from vecflow.storage import repositories as repo
from vecflow.storage.db import Database


class ParseResultService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, caller: Principal, parse_result_id: str) -> m.ParseResult:
        v.required("parse_result_id", parse_result_id)
        async with self.db.read_session() as s:
            row = await repo.get_owned(s, m.ParseResult, caller.project_id, parse_result_id)
        if row is None:
            raise NotFound.resource("parse result", parse_result_id)
        return row

    async def require_file(self, caller: Principal, file_id: str) -> m.File:
        v.required("file_id", file_id)
        async with self.db.read_session() as s:
            row = await repo.get_owned(s, m.File, caller.project_id, file_id)
        if row is None:
            raise NotFound.resource("file", file_id)
        return row
