"""The `extract` operation (ExtractParseResult): a parse result's metadata and tables."""

from __future__ import annotations

from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.operations import parse_results
from vecflow.pipeline.parse import language_of
from vecflow.storage.db import Database
from vecflow.storage.parsed import ParsedStore

MAX_TABLES = 50
MAX_TABLE_ROWS = 1000


class Extract:
    """Runs `extract` jobs."""

    def __init__(self, db: Database, parsed: ParsedStore) -> None:
        self.db = db
        self.parsed = parsed

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        async with ctx.step("load") as step:
            row, data = await parse_results.load(ctx, self.db, self.parsed)
            step.details.update(characters=row.characters)
        async with ctx.step("extract") as step:
            meta = data.get("metadata") or {}
            tables = data.get("tables") or []
            kept = [
                {
                    "source": t.get("source", ""),
                    "header": t.get("header", []),
                    "rows": t.get("rows", [])[:MAX_TABLE_ROWS],
                    "row_count": len(t.get("rows", [])),
                }
                for t in tables[:MAX_TABLES]
            ]
            language = meta.get("language") or await ctx.to_thread(language_of, data.get("text") or "")
            step.details.update(tables=len(tables), has_title=bool(meta.get("title")), language=language)
        return {
            "parse_result_id": row.id,
            "file_id": row.file_id,
            "metadata": {
                "title": meta.get("title"),
                "authors": meta.get("authors") or [],
                "created": meta.get("created"),
                "modified": meta.get("modified"),
                "language": language,
                "page_count": meta.get("page_count") or row.pages,
            },
            "tables": kept,
            "table_count": len(tables),
        }
