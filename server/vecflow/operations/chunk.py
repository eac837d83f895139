"""The `chunk` operation (ChunkParseResult): preview the chunks a chunking strategy makes of a parse result."""

from __future__ import annotations

import statistics
from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.operations import parse_results
from vecflow.pipeline.chunk import chunk_text
from vecflow.pipeline.embed import Embedder
from vecflow.storage.db import Database
from vecflow.storage.parsed import ParsedStore

MAX_CHUNK_POSITIONS = 10_000


class ChunkPreview:
    """Runs `chunk` jobs."""

    def __init__(self, db: Database, parsed: ParsedStore, embedder: Embedder) -> None:
        self.db = db
        self.parsed = parsed
        self.embedder = embedder  # its tokenizer counts the tokens

    async def __call__(self, ctx: JobContext) -> dict[str, Any]:
        size, overlap, preview = ctx.params["size"], ctx.params["overlap"], ctx.params["preview"]
        async with ctx.step("load") as step:
            row, data = await parse_results.load(ctx, self.db, self.parsed)
            step.details.update(characters=row.characters)
        tokenizer = await ctx.to_thread(lambda: self.embedder.tokenizer)
        async with ctx.step("chunk", max_chunk_size_tokens=size, chunk_overlap_tokens=overlap) as step:
            pages = [(p["number"], p["char_start"], p["char_end"]) for p in data.get("pages") or []]
            chunks = await ctx.to_thread(chunk_text, data.get("text", ""), tokenizer, size, overlap, pages)
            step.details.update(chunks=len(chunks))
        lengths = [c.token_count for c in chunks]

        def place(c: Any) -> dict[str, Any]:
            return {
                "index": c.index,
                "tokens": c.token_count,
                "page": c.page,
                "char_start": c.char_start,
                "char_end": c.char_end,
            }

        return {
            "parse_result_id": row.id,
            "max_chunk_size_tokens": size,
            "chunk_overlap_tokens": overlap,
            "count": len(chunks),
            "tokens": {
                "total": sum(lengths),
                "min": min(lengths, default=0),
                "max": max(lengths, default=0),
                "mean": round(statistics.fmean(lengths), 2) if lengths else 0,
            },
            "positions": [place(c) for c in chunks[:MAX_CHUNK_POSITIONS]],
            "chunks": [{**place(c), "text": c.text} for c in chunks[:preview]],
        }
