"""`vecflow stores create|list|get|delete|files|add` and `vecflow batches get|cancel|files`.

`stores add STORE --files ID... | --kb KB [--dir DIR]` creates a file batch and follows it live:
one bar for the batch (completed + failed + cancelled of total, from the batch's file_counts) and
one row per file being chunked and embedded. Exit code: 0 when every file was added, 1 when any
failed (the batch still completes with the others), 3 when the batch was cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from vecflow_client.cli import progress as ui
from vecflow_client.cli.common import (
    EXIT_CANCELLED,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Session,
    add_command,
    confirm,
    fmt_bytes,
    fmt_time,
    parse_json_object,
    resolve_kb,
    resolve_store,
    run,
    short,
    struct_dict,
    to_dict,
)
from vecflow_client.v1 import common_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient

FILE_STATUSES = ["in_progress", "completed", "failed", "cancelled"]
POLL_SECONDS = 0.5


def add_parser(sub: Any) -> None:
    stores = add_command(sub, "stores", help="vector stores: create, list, inspect, delete, add files")
    ssub = stores.add_subparsers(dest="stores_command", required=True)
    p = add_command(ssub, "create", help="create a vector store")
    p.add_argument("name")
    p.add_argument("--chunk-size", type=int, default=0, help="max chunk size in tokens (default: the model's limit)")
    p.add_argument("--chunk-overlap", type=int, default=None, help="tokens shared by consecutive chunks (default 64)")
    p.add_argument(
        "--chunking-mode",
        choices=["token_window", "section"],
        default=None,
        help="section: chunks stay inside one section of the document (default token_window)",
    )
    p.add_argument("--keyword-analyzer", default="", help="BM25 analyzer: english (default), standard, chinese, ...")
    p.add_argument("--expires-days", type=int, default=0, help="expire after this many idle days")
    p.add_argument("--metadata", help="JSON object kept with it")
    p = add_command(ssub, "list", help="the project's vector stores, newest first")
    p.add_argument("--limit", type=int, default=0)
    add_command(ssub, "get", help="one vector store (by id or name)").add_argument("store")
    p = add_command(ssub, "delete", help="delete a vector store and its vectors")
    p.add_argument("store")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask")
    p = add_command(ssub, "files", help="the files of a vector store")
    p.add_argument("store")
    p.add_argument("--status", choices=FILE_STATUSES)
    p = add_command(
        ssub,
        "set-attributes",
        help="change a file's attributes in a store (no re-embedding); other attributes are kept",
    )
    p.add_argument("store")
    p.add_argument("file_id")
    p.add_argument("pairs", nargs="*", metavar="KEY=VALUE", help="VALUE is read as JSON when it is (2024, true)")
    p.add_argument("--unset", action="append", default=[], metavar="KEY", help="remove this attribute")
    p.add_argument("--clear", action="store_true", help="start from no attributes instead of the current ones")
    p = add_command(
        ssub,
        "add",
        help="add files (by id, or every parsed file of a knowledge base) as a batch, live",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("store")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--files", nargs="+", metavar="FILE_ID", help="knowledge-base file ids")
    source.add_argument("--kb", help="every parsed file of this knowledge base (id or name)")
    p.add_argument("--dir", dest="directory", default="", help="with --kb: only files under this directory")
    p.add_argument("--attributes", help="JSON object stored with every chunk (filterable in search)")
    p.add_argument("--no-wait", action="store_true", help="create the batch and return")

    batches = add_command(sub, "batches", help="file batches: inspect, cancel, list files")
    bsub = batches.add_subparsers(dest="batches_command", required=True)
    for name, text in (
        ("get", "one batch with its file counts"),
        ("cancel", "cancel a batch (files not done count as cancelled)"),
        ("files", "the files of a batch"),
    ):
        p = add_command(bsub, name, help=text)
        p.add_argument("store", help="vector store id or name")
        p.add_argument("batch_id")
        if name == "files":
            p.add_argument("--status", choices=FILE_STATUSES)


def file_status(value: int) -> str:
    return short(vs_pb2.VectorStoreFileStatus, value, "VECTOR_STORE_FILE_STATUS_")


def batch_status(value: int) -> str:
    return short(vs_pb2.FileBatchStatus, value, "FILE_BATCH_STATUS_")


def counts_text(c: vs_pb2.FileCounts) -> str:
    return f"completed {c.completed}, failed {c.failed}, cancelled {c.cancelled}, in progress {c.in_progress}"


def print_store(session: Session, store: vs_pb2.VectorStore) -> None:
    c = store.file_counts
    session.line(f"{store.id}  {store.name}  {short(vs_pb2.VectorStoreStatus, store.status, 'VECTOR_STORE_STATUS_')}")
    session.line(f"  files: {c.total} ({counts_text(c)})")
    session.line(f"  usage: {fmt_bytes(store.usage_bytes)}  model: {store.embedding_model}")
    cs = store.chunking_strategy
    mode = short(common_pb2.ChunkingMode, cs.mode, "CHUNKING_MODE_") if cs.mode else "token_window"
    session.line(f"  chunking: {cs.max_chunk_size_tokens} tokens, overlap {cs.chunk_overlap_tokens}, {mode}")
    session.line(f"  keyword analyzer: {store.keyword_analyzer or 'english'}")
    if store.HasField("expires_after"):
        session.line(f"  expires: {store.expires_after.days} idle days (at {fmt_time(store.expires_at)})")
    if store.metadata.fields:
        session.line(f"  metadata: {struct_dict(store.metadata)}")
    session.line(f"  created: {fmt_time(store.created_at)}  last active: {fmt_time(store.last_active_at)}")


def print_batch(session: Session, batch: vs_pb2.FileBatch) -> None:
    c = batch.file_counts
    session.line(f"{batch.id}  {batch_status(batch.status)}  store {batch.vector_store_id}  job {batch.job_id}")
    session.line(f"  files: {c.total} ({counts_text(c)})")


async def list_files(session: Session, files: Any) -> None:
    rows = []
    async for f in files:
        if session.json:
            session.emit(f)
            continue
        error = f"{f.last_error.code}: {f.last_error.message}" if f.HasField("last_error") and f.last_error.code else ""
        rows.append((f.file_id, file_status(f.status), f.chunk_count, fmt_bytes(f.usage_bytes), f.batch_id, error))
    if not session.json:
        session.table(["file", "status", "chunks", "usage", "batch", "error"], rows)


def batch_exit_code(batch: vs_pb2.FileBatch) -> int:
    if batch.status == vs_pb2.FILE_BATCH_STATUS_CANCELLED:
        return EXIT_CANCELLED
    if batch.status == vs_pb2.FILE_BATCH_STATUS_COMPLETED and batch.file_counts.failed == 0:
        return EXIT_OK
    return EXIT_FAILED


async def follow_batch(session: Session, client: VecflowClient, batch: vs_pb2.FileBatch) -> int:
    """Show a batch live until it ends; return its exit code."""
    request = vs_pb2.GetFileBatchRequest(vector_store_id=batch.vector_store_id, batch_id=batch.id)
    progress = ui.new_progress(session) if session.live else None
    overall = None
    if progress is not None:
        overall = progress.add_task("[bold]files[/bold]", total=max(batch.file_counts.total, 1), info="")
    board = ui.StepBoard(session, progress, prefix="  ")
    last_text = ""

    def show(current: vs_pb2.FileBatch) -> None:
        nonlocal last_text
        c = current.file_counts
        done = c.completed + c.failed + c.cancelled
        text = f"✓ {c.completed}  ✗ {c.failed}  ⊘ {c.cancelled}"
        if session.json:
            if text != last_text:
                session.emit({"type": "file_counts", "batch_id": current.id, **ui_counts(c)})
        elif progress is not None and overall is not None:
            progress.update(overall, completed=done, total=max(c.total, 1), info=text)
        elif text != last_text:
            session.line(f"files: {done}/{c.total} done ({counts_text(c)})")
        last_text = text

    async def poll() -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            show((await client.vector_stores.GetFileBatch(request)).file_batch)

    show(batch)
    with ui.live_area(session, progress):
        poller = asyncio.create_task(poll())
        try:
            async for event in ui.follow(session, client, batch.job_id):
                if session.json:
                    session.emit(
                        {"type": "event", "batch_id": batch.id, "job_id": batch.job_id, "event": to_dict(event)}
                    )
                else:
                    board.handle(event)
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poller
        final = (await client.vector_stores.GetFileBatch(request)).file_batch
        show(final)
    job = await client.get_job(batch.job_id)
    if session.json:
        session.emit({"type": "batch", **to_dict(final)})
        return batch_exit_code(final)
    session.line(
        f"batch {final.id} {batch_status(final.status)}: {final.file_counts.total} files ({counts_text(final.file_counts)})",
        style="bold green" if batch_exit_code(final) == EXIT_OK else "bold yellow",
    )
    if job.history:
        session.line(f"steps: {ui.durations_text(job.history)}")
    if job.HasField("error"):
        session.line(f"  error: {job.error.code}: {job.error.message}", style="red")
    if final.file_counts.failed:
        await list_files(session, client.iter_file_batch_files(final.vector_store_id, final.id, status="failed"))
    return batch_exit_code(final)


def ui_counts(c: vs_pb2.FileCounts) -> dict[str, int]:
    return {
        "completed": c.completed,
        "failed": c.failed,
        "cancelled": c.cancelled,
        "in_progress": c.in_progress,
        "total": c.total,
    }


async def add(session: Session, client: VecflowClient) -> int:
    args = session.args
    store = await resolve_store(client, args.store)
    if args.kb:
        kb = await resolve_kb(client, args.kb)
        file_ids, not_parsed = [], 0
        async for f in client.iter_files(kb.id, args.directory.strip("/"), True, page_size=1000):
            # Files still being parsed are added too: the batch indexes each once its parse is done.
            if f.parse_state in (kb_pb2.PARSE_STATE_SUCCESS, kb_pb2.PARSE_STATE_PENDING):
                file_ids.append(f.id)
            else:
                not_parsed += 1
        if not_parsed:
            session.note(f"{not_parsed} file(s) of {kb.name} were not parsed (skipped or failed) and were left out")
        if not file_ids:
            raise CliError(f"knowledge base {kb.name} has no parsed files to add")
    else:
        file_ids = list(args.files)
    request = vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=file_ids)
    attributes = parse_json_object(args.attributes, "--attributes")
    if attributes is not None:
        request.attributes.update(attributes)
    batch = (await client.vector_stores.CreateFileBatch(request)).file_batch
    if not session.json:
        session.line(f"batch {batch.id}: {len(file_ids)} files into {store.name} ({store.id}), job {batch.job_id}")
    if args.no_wait:
        if session.json:
            session.emit(batch)
        return EXIT_OK
    return await follow_batch(session, client, batch)


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    if getattr(args, "batches_command", None):
        store = await resolve_store(client, args.store)
        if args.batches_command == "files":
            files = client.iter_file_batch_files(store.id, args.batch_id, status=args.status, page_size=500)
            await list_files(session, files)
            return EXIT_OK
        if args.batches_command == "get":
            request = vs_pb2.GetFileBatchRequest(vector_store_id=store.id, batch_id=args.batch_id)
            batch = (await client.vector_stores.GetFileBatch(request)).file_batch
        else:
            cancel = vs_pb2.CancelFileBatchRequest(vector_store_id=store.id, batch_id=args.batch_id)
            batch = (await client.vector_stores.CancelFileBatch(cancel)).file_batch
        if session.json:
            session.emit(batch)
        else:
            print_batch(session, batch)
        return EXIT_OK

    command = args.stores_command
    if command == "create":
        create = vs_pb2.CreateVectorStoreRequest(name=args.name)
        if args.chunk_size or args.chunk_overlap is not None:
            create.chunking_strategy.CopyFrom(common_pb2.ChunkingStrategy(max_chunk_size_tokens=args.chunk_size))
            if args.chunk_overlap is not None:
                create.chunking_strategy.chunk_overlap_tokens = args.chunk_overlap
        if args.chunking_mode:
            modes = {"token_window": common_pb2.CHUNKING_MODE_TOKEN_WINDOW, "section": common_pb2.CHUNKING_MODE_SECTION}
            create.chunking_strategy.mode = modes[args.chunking_mode]
        create.keyword_analyzer = args.keyword_analyzer
        if args.expires_days:
            create.expires_after.days = args.expires_days
        metadata = parse_json_object(args.metadata, "--metadata")
        if metadata is not None:
            create.metadata.update(metadata)
        store = (await client.vector_stores.CreateVectorStore(create)).vector_store
        if session.json:
            session.emit(store)
        else:
            session.line(f"created vector store {store.id}  {store.name}")
        return EXIT_OK
    if command == "list":
        rows = []
        async for store in client.iter_vector_stores(page_size=200):
            if session.json:
                session.emit(store)
            else:
                c = store.file_counts
                rows.append(
                    (
                        store.id,
                        store.name,
                        short(vs_pb2.VectorStoreStatus, store.status, "VECTOR_STORE_STATUS_"),
                        f"{c.completed}/{c.total}",
                        fmt_bytes(store.usage_bytes),
                        fmt_time(store.created_at),
                    )
                )
            if args.limit and len(rows) >= args.limit:
                break
        if not session.json:
            session.table(["id", "name", "status", "files", "usage", "created"], rows)
        return EXIT_OK
    if command == "add":
        return await add(session, client)
    store = await resolve_store(client, args.store)
    if command == "get":
        if session.json:
            session.emit(store)
        else:
            print_store(session, store)
        return EXIT_OK
    if command == "files":
        await list_files(session, client.iter_vector_store_files(store.id, status=args.status, page_size=500))
        return EXIT_OK
    if command == "set-attributes":
        return await set_attributes(session, client, store)
    # delete
    if not confirm(session, f"delete vector store {store.name} ({store.id}) and all its vectors?"):
        session.note("not deleted")
        return EXIT_ERROR
    await client.vector_stores.DeleteVectorStore(vs_pb2.DeleteVectorStoreRequest(vector_store_id=store.id))
    if session.json:
        session.emit({"deleted": store.id})
    else:
        session.line(f"deleted vector store {store.id}  {store.name}")
    return EXIT_OK


def attribute_value(text: str) -> Any:
    """A KEY=VALUE value: JSON when it parses as a number, boolean, null, list or object, else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if not isinstance(value, str) else text


async def set_attributes(session: Session, client: VecflowClient, store: vs_pb2.VectorStore) -> int:
    args = session.args
    changes: dict[str, Any] = {}
    for pair in args.pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            session.note(f"{pair!r} is not KEY=VALUE")
            return EXIT_ERROR
        changes[key] = attribute_value(value)
    current = (
        await client.vector_stores.GetVectorStoreFile(
            vs_pb2.GetVectorStoreFileRequest(vector_store_id=store.id, file_id=args.file_id)
        )
    ).file
    attributes = {} if args.clear else struct_dict(current.attributes)
    attributes.update(changes)
    for key in args.unset:
        attributes.pop(key, None)
    request = vs_pb2.UpdateVectorStoreFileRequest(vector_store_id=store.id, file_id=args.file_id)
    request.attributes.update(attributes)
    request.update_mask.paths.append("attributes")
    updated = (await client.vector_stores.UpdateVectorStoreFile(request)).file
    if session.json:
        session.emit(updated)
    else:
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in sorted(struct_dict(updated.attributes).items()))
        session.line(f"{updated.file_id} in {store.name}: {shown or '(no attributes)'}")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
