"""The `chunk` operation (ChunkParseResult): preview the chunks a chunking strategy makes of a parse result."""

from __future__ import annotations

import statistics
from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.operations import parse_results
from vecflow.pipeline.chunk import DEFAULT_CHUNKING_MODE, chunk_text
from vecflow.pipeline.embed import Embedder
from vecflow.storage.db import Database
from vecflow.storage.parsed import ParsedStore

MAX_CHUNK_POSITIONS = 10_000
MAX_POSITION_SECTION_CHARS = 256  # a position's section path is cut here (a previewed chunk's is whole)


class ChunkPreview:
    """Runs `chunk` jobs."""

    def __init__(self, db: Database, parsed: ParsedStore, embedder: Embedder) -> None:
        self.db = db
        self.parsed = parsed
        self.embedder = embedder  # its tokenizer counts the tokens

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        size, overlap, preview = ctx.params["size"], ctx.params["overlap"], ctx.params["preview"]
        mode = ctx.params.get("mode") or DEFAULT_CHUNKING_MODE  # jobs submitted before modes existed have none
        async with ctx.step("load") as step:
            row, data = await parse_results.load(ctx, self.db, self.parsed)
            step.details.update(characters=row.characters)
        tokenizer = await ctx.to_thread(lambda: self.embedder.tokenizer)
        async with ctx.step("chunk", max_chunk_size_tokens=size, chunk_overlap_tokens=overlap, mode=mode) as step:
            pages = [(p["number"], p["char_start"], p["char_end"]) for p in data.get("pages") or []]
            headings = parse_results.headings(data)
            chunks = await ctx.to_thread(
                chunk_text, data.get("text", ""), tokenizer, size, overlap, pages, headings, mode
            )
            step.details.update(chunks=len(chunks), headings=len(headings))
        lengths = [c.token_count for c in chunks]

        def place(c: Any, section_chars: int = MAX_POSITION_SECTION_CHARS) -> dict[str, Any]:
            return {
                "index": c.index,
                "tokens": c.token_count,
                "page": c.page,
                "char_start": c.char_start,
                "char_end": c.char_end,
                "section": c.section[:section_chars],
            }

        return {
            "parse_result_id": row.id,
            "max_chunk_size_tokens": size,
            "chunk_overlap_tokens": overlap,
            "mode": mode,
            "count": len(chunks),
            "tokens": {
                "total": sum(lengths),
                "min": min(lengths, default=0),
                "max": max(lengths, default=0),
                "mean": round(statistics.fmean(lengths), 2) if lengths else 0,
            },
            "positions": [place(c) for c in chunks[:MAX_CHUNK_POSITIONS]],
            "chunks": [{**place(c, len(c.section)), "text": c.text} for c in chunks[:preview]],
        }
