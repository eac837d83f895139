"""One attempt at adding files to a vector store: chunk → embed → insert, in slices that span files.

Files are read and chunked a group at a time in one worker-thread hop (a `chunk` step per group). Their
chunks are cut into slices of about SLICE_CHUNKS, regardless of file boundaries, and SLICES_IN_FLIGHT slices
are worked on at once: while one slice is being inserted into Milvus or its files recorded, the next one is
already being embedded, so the model (the bottleneck) never waits for bookkeeping. Each slice is an `embed`
step, an `insert` step (one Milvus upsert) and one database transaction that marks the files whose last chunk
it carried as completed. Fewer, bigger writes are what make small documents cheap: a file costs a share of a
slice's events and transactions, not a set of its own.

Files may be added while they are still being parsed: the run starts with those that are ready and
polls for the rest, without holding a worker slot while it waits (so the parse jobs it waits for can run
even when every worker is busy); a file whose parse fails ends failed with the parse's error code.

Vectors are upserted under deterministic keys (store, file, generation = this job's id, chunk index), so a
retried attempt replaces rather than duplicates. A file that is re-added keeps its previous generation live
(searches see only a file's live generation) until every chunk of the new one is in; then one transaction
switches it and the old chunks are deleted: a search finds the old or the new chunks, never both, never
neither. What an attempt wrote for a file that did not complete is deleted before it gives up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from vecflow.failures import CodedFailure
from vecflow.jobs.context import JobContext
from vecflow.jobs.engine import JobEngine
from vecflow.operations.parse_results import headings
from vecflow.pipeline.chunk import Chunk, chunk_text
from vecflow.pipeline.embed import Embedder
from vecflow.storage import models as m
from vecflow.storage import store_files
from vecflow.storage.db import Database
from vecflow.storage.models import utcnow
from vecflow.storage.parsed import ParsedStore
from vecflow.vectors.milvus import MilvusIndex, chunk_pk


@dataclass(frozen=True)
class IndexTools:
    """What an indexing run works with."""

    db: Database
    engine: JobEngine  # to wait for the parse jobs of files added while they are parsed
    parsed: ParsedStore
    embedder: Embedder


SLICE_CHUNKS = 64  # chunks per slice: one embed request, one Milvus upsert, one bookkeeping transaction
CHUNK_GROUP_FILES = 32  # files read and chunked per worker-thread hop (one `chunk` step)
SLICES_IN_FLIGHT = 3  # slices worked on at once, so inserting one overlaps embedding the next
GATHER_FILES = 8  # files parsed one by one are gathered into groups of this many ...
GATHER_SECONDS = 0.25  # ... or as many as are ready this long after the first
PARSE_POLL_SECONDS = 2.0  # how often a run looks for files parsed on other servers (it is woken for its own)


@dataclass(eq=False)
class FileWork:
    """A file being indexed in this attempt."""

    file_id: str
    name: str
    attributes: dict[str, Any]
    chunks: int  # how many it has in all
    parse_result_id: str
    inserted: int = 0
    usage: int = 0


@dataclass
class Slice:
    number: int
    parts: list[tuple[FileWork, list[Chunk]]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(chunks) for _, chunks in self.parts)

    def label(self) -> str:
        return _label([work.name or work.file_id for work, _ in self.parts])


def _label(names: list[str]) -> str:
    """How a step over several files is shown: the first one's name and how many more."""
    distinct = list(dict.fromkeys(names))
    return distinct[0] + (f" +{len(distinct) - 1}" if len(distinct) > 1 else "")


@dataclass
class Failure:
    file_id: str
    code: str
    message: str


class IndexRun:
    """Indexes `file_ids` (in order) into `store` for one attempt of job `ctx`."""

    def __init__(
        self, tools: IndexTools, ctx: JobContext, index: MilvusIndex, store: m.VectorStore, total_files: int
    ) -> None:
        self.tools = tools
        self.ctx = ctx
        self.index = index
        self.store = store
        self.total_files = total_files
        self.outcome: dict[str, str] = {}  # file_id → "completed" | "failed", as recorded in the database
        self.touched: set[str] = set()  # files this attempt may have written vectors for
        self.planned: dict[str, int] = {}  # file → how many chunks this generation has for it
        self.embedded = 0
        self._parse_jobs: dict[str, str] = {}  # file still being parsed → its parse job

    async def run(self, file_ids: Sequence[str]) -> None:
        """Index every file; JobCancelled (or an unexpected error) propagates once all work has stopped."""
        queue: asyncio.Queue[Slice | None] = asyncio.Queue(maxsize=SLICES_IN_FLIGHT)
        try:
            async with asyncio.TaskGroup() as group:
                workers = [group.create_task(self._consume(queue)) for _ in range(SLICES_IN_FLIGHT)]
                await self._produce(file_ids, queue)
                for _ in workers:
                    await queue.put(None)
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        finally:
            await asyncio.shield(self._drop_unfinished())

    # Reading and chunking ----------------------------------------------------------------------------

    async def _produce(self, file_ids: Sequence[str], queue: asyncio.Queue[Slice | None]) -> None:
        current = Slice(1)
        ready, pending = await self._parsed(list(file_ids))
        while True:
            for first in range(0, len(ready), CHUNK_GROUP_FILES):
                self.ctx.checkpoint()
                for work, chunks in await self._chunk_group(ready[first : first + CHUNK_GROUP_FILES]):
                    start = 0
                    while start < len(chunks):
                        take = min(SLICE_CHUNKS - current.size, len(chunks) - start)
                        current.parts.append((work, chunks[start : start + take]))
                        start += take
                        if current.size >= SLICE_CHUNKS:
                            await queue.put(current)
                            current = Slice(current.number + 1)
            if not pending:
                break
            if current.parts:  # do not hold back a part-filled slice while files are still being parsed
                await queue.put(current)
                current = Slice(current.number + 1)
            ready, pending = await self._wait_for_parses(pending)
        if current.parts:
            await queue.put(current)

    async def _wait_for_parses(self, pending: list[str]) -> tuple[list[str], list[str]]:
        """Wait until some of `pending` have been parsed (or have failed to be), without a worker slot:
        woken when one of their parse jobs ends here, polling for those that run on other servers.

        Once one is ready it gathers a few more (up to GATHER_FILES, for at most GATHER_SECONDS), so
        that files parsed one by one still make slices worth an embed call and a Milvus upsert."""
        ready: list[str] = []
        first_ready = 0.0
        async with self.ctx.waiting():
            while True:
                wait = PARSE_POLL_SECONDS if not ready else max(0.0, first_ready + GATHER_SECONDS - time.monotonic())
                jobs = [self._parse_jobs[f] for f in pending if f in self._parse_jobs]
                await self.tools.engine.wait_finished(jobs, wait)
                self.ctx.checkpoint()
                now_ready, pending = await self._parsed(pending)
                if now_ready and not ready:
                    first_ready = time.monotonic()
                ready += now_ready
                if ready and (
                    not pending or len(ready) >= GATHER_FILES or time.monotonic() - first_ready >= GATHER_SECONDS
                ):
                    return ready, pending

    async def _parsed(self, file_ids: list[str]) -> tuple[list[str], list[str]]:
        """Split files into those ready to chunk and those whose parse is still to come; files whose
        parse failed, was skipped or will not run are recorded as failed here."""
        async with self.tools.db.read_session() as s:
            rows = await store_files.parse_progress(s, self.store.id, file_ids)
        found = {row[0]: row for row in rows}
        ready: list[str] = []
        pending: list[str] = []
        failures: list[Failure] = []
        for file_id in file_ids:
            row = found.get(file_id)
            if row is None or row[1]:  # removed from the store meanwhile (see _chunk_group), or has its result
                ready.append(file_id)
                continue
            _, _, exists, state, code, message, job_status, parse_job = row
            if exists is None:
                failures.append(Failure(file_id, "FILE_NOT_FOUND", "the file was deleted before it could be added"))
            elif state == "success":
                ready.append(file_id)
            elif state == "failed":
                failures.append(Failure(file_id, code or "PARSE_FAILED", f"the file could not be parsed: {message}"))
            elif state == "pending" and job_status in (None, "pending", "running"):
                pending.append(file_id)
                self._parse_jobs[file_id] = parse_job
            else:
                why = f"its parse job is {job_status}" if state == "pending" else f"its parse_state is {state}"
                failures.append(Failure(file_id, "FILE_NOT_PARSED", f"the file has no parse result ({why}); parse it"))
        await self._fail(failures)
        return ready, pending

    async def _fail(self, failures: list[Failure]) -> None:
        """Record files as failed: one update per distinct error (none for a file no longer in the store)."""
        for failure in failures:
            self.outcome[failure.file_id] = "failed"
        for code, message in dict.fromkeys((f.code, f.message) for f in failures if f.code):
            ids = [f.file_id for f in failures if (f.code, f.message) == (code, message)]
            await store_files.set_files(self.tools.db, self.store.id, ids, "failed", code, message)

    async def _chunk_group(self, file_ids: list[str]) -> list[tuple[FileWork, list[Chunk]]]:
        store, ctx = self.store, self.ctx
        async with self.tools.db.read_session() as s:
            rows = {row.file_id: row for row in await store_files.files_in_store(s, store.id, file_ids)}
            files = await store_files.names_and_results(s, file_ids)
        names = {file_id: name for file_id, (name, _) in files.items()}
        # A file added while it was being parsed gets its (by now finished) result.
        results = {f: row.parse_result_id or files.get(f, ("", ""))[1] for f, row in rows.items()}
        tokenizer = self.tools.embedder.tokenizer
        parsed = self.tools.parsed

        def chunk_all() -> list[tuple[str, list[Chunk] | Failure]]:
            out: list[tuple[str, list[Chunk] | Failure]] = []
            for file_id in file_ids:
                row = rows.get(file_id)
                if row is None:  # removed from the store meanwhile
                    out.append((file_id, Failure(file_id, "", "")))
                    continue
                data = parsed.read(results[file_id]) if results[file_id] else None
                if data is None:
                    out.append(
                        (
                            file_id,
                            Failure(
                                file_id,
                                "PARSE_RESULT_NOT_FOUND",
                                f"parse result {results[file_id]} no longer exists; parse the file again",
                            ),
                        )
                    )
                    continue
                pages = [(p["number"], p["char_start"], p["char_end"]) for p in data.get("pages") or []]
                chunks = chunk_text(
                    data.get("text", ""),
                    tokenizer,
                    store.max_chunk_size_tokens,
                    store.chunk_overlap_tokens,
                    pages,
                    headings(data),
                    store.chunking_mode,
                )
                if not chunks:
                    out.append((file_id, Failure(file_id, "NO_TEXT", "the parse result has no text to embed")))
                    continue
                out.append((file_id, chunks))
            return out

        label = _label([names.get(f) or f for f in file_ids])
        async with ctx.step("chunk", label=label, files=len(file_ids)) as step:
            chunked_or_not = await ctx.to_thread(chunk_all)
            chunked = [(f, c) for f, c in chunked_or_not if not isinstance(c, Failure)]
            step.details.update(
                chunks=sum(len(c) for _, c in chunked),
                tokens=sum(x.token_count for _, c in chunked for x in c),
                failed=len(chunked_or_not) - len(chunked),
            )
        await self._fail([c for _, c in chunked_or_not if isinstance(c, Failure)])
        # An older version's chunks stay (and serve searches) until this generation is complete; a crashed
        # attempt's are overwritten, pk for pk.
        self.planned.update((f, len(chunks)) for f, chunks in chunked)
        return [
            (FileWork(f, (names.get(f) or "")[:1024], rows[f].attributes or {}, len(chunks), results[f]), chunks)
            for f, chunks in chunked
        ]

    # Embedding, inserting, recording -------------------------------------------------------------------

    async def _consume(self, queue: asyncio.Queue[Slice | None]) -> None:
        while (piece := await queue.get()) is not None:
            self.ctx.checkpoint()
            piece.parts = [(w, c) for w, c in piece.parts if self.outcome.get(w.file_id) != "failed"]
            if piece.parts:
                try:
                    await self._index_slice(piece)
                except CodedFailure as err:  # these files fail (embedding endpoint down, say); the others go on
                    ids = dict.fromkeys(w.file_id for w, _ in piece.parts)
                    await self._fail([Failure(f, err.code, err.message) for f in ids])

    async def _index_slice(self, piece: Slice) -> None:
        ctx, store, embedder = self.ctx, self.store, self.tools.embedder
        texts = [c.text for _, chunks in piece.parts for c in chunks]
        label = {"label": piece.label(), "slice": piece.number, "files": len({w.file_id for w, _ in piece.parts})}
        async with ctx.step("embed", **label, chunks=len(texts), model=embedder.name) as step:
            started = time.monotonic()
            vectors = await embedder.embed(texts)
            step.details["chunks_per_second"] = round(len(texts) / max(time.monotonic() - started, 1e-6), 1)
        rows = []
        at = 0
        for work, chunks in piece.parts:
            for c in chunks:
                rows.append(
                    {
                        "pk": chunk_pk(store.id, work.file_id, ctx.job_id, c.index),
                        "project_id": ctx.project_id,
                        "vector_store_id": store.id,
                        "file_id": work.file_id,
                        "file_name": work.name,
                        "chunk_index": c.index,
                        "page": c.page,
                        "char_start": c.char_start,
                        "char_end": c.char_end,
                        "text": c.text,
                        "dense": vectors[at],
                        "attributes": work.attributes,
                        "section": c.section,
                    }
                )
                at += 1
        async with ctx.step("insert", **label, rows=len(rows)):
            self.touched.update(w.file_id for w, _ in piece.parts)
            # Never abandon an insert half-way: if this task is cancelled (a sibling saw the cancellation),
            # let the insert land first, so that the cleanup deletes it too.
            insert = asyncio.ensure_future(self.index.upsert_chunks(rows, analyzer=store.keyword_analyzer))
            try:
                await asyncio.shield(insert)
            except asyncio.CancelledError:
                await asyncio.gather(insert, return_exceptions=True)
                raise
        dimension_bytes = 4 * len(vectors[0])
        finished: list[FileWork] = []
        for work, chunks in piece.parts:
            work.inserted += len(chunks)
            work.usage += sum(len(c.text.encode()) + dimension_bytes for c in chunks)
            if work.inserted == work.chunks:
                finished.append(work)
        if finished:
            await self._complete(finished)
        self.embedded += len(texts)
        await ctx.progress(
            step="embed",
            embedded=self.embedded,
            chunks=sum(self.planned.values()),  # of the files chunked so far
            files_completed=sum(1 for o in self.outcome.values() if o == "completed"),
            files=self.total_files,
        )

    async def _complete(self, works: list[FileWork]) -> None:
        """Mark files completed with their counts, make this generation the live one, and recount the store's
        usage, in one transaction; then delete the chunks of the generation each file had before."""
        store_id, generation = self.store.id, self.ctx.job_id
        replaced: list[str] = []
        async with self.tools.db.session() as s:
            rows = await store_files.files_in_store(s, store_id, [w.file_id for w in works])
            by_id = {row.file_id: row for row in rows}
            now = utcnow()
            for work in works:
                row = by_id.get(work.file_id)
                if row is not None:
                    if row.live_generation != generation:
                        replaced += [
                            chunk_pk(store_id, row.file_id, row.live_generation, i) for i in range(row.chunk_count)
                        ]
                    row.status, row.chunk_count, row.usage_bytes = "completed", work.chunks, work.usage
                    row.parse_result_id, row.live_generation, row.updated_at = work.parse_result_id, generation, now
                    row.last_error_code = row.last_error_message = ""
            await s.flush()
            await store_files.recount_usage(s, store_id)
            await store_files.touch(s, store_id)
        for work in works:
            self.outcome[work.file_id] = "completed"
        # Searches see only the live generation, so the old chunks are already out of sight; a crash before
        # this leaves them unseen until the file is re-added, removed or deleted.
        await self.index.delete_chunks(self.ctx.project_id, store_id, replaced, analyzer=self.store.keyword_analyzer)

    async def _drop_unfinished(self) -> None:
        """Delete the chunks this generation wrote for files that did not complete (failed, cancelled, crashed);
        the generation they had before stays live."""
        unfinished = sorted(f for f in self.touched if self.outcome.get(f) != "completed")
        pks = [
            chunk_pk(self.store.id, f, self.ctx.job_id, i) for f in unfinished for i in range(self.planned.get(f, 0))
        ]
        await self.index.delete_chunks(self.ctx.project_id, self.store.id, pks, analyzer=self.store.keyword_analyzer)
