"""`vecflow upload PATH... --kb KB`: upload files and folders (and URLs), then optionally watch them parse.

Folders are uploaded like `cp -r`: `upload reports --dir archive` puts reports/q1/a.pdf at
archive/reports/q1/a.pdf, creating the directories as needed (hidden files and folders are left out
unless --include-hidden). With --wait the parse jobs are shown live, one bar per file, and a summary
table follows: state, pages, characters, tokens, step durations and, for a failed parse, the error.

Exit code: 0 when every file was uploaded (and, with --wait, parsed or deliberately not parsed);
1 when any upload or any parse failed — the other files are still uploaded and parsed, the code
only tells a script that something needs attention; 3 when a parse job was cancelled (and none
failed); 2 for usage errors, an unknown knowledge base or no connection.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from vecflow_client.cli import progress as ui
from vecflow_client.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Session,
    add_command,
    fmt_bytes,
    fmt_ms,
    parse_json_object,
    resolve_kb,
    rpc_text,
    run,
    short,
    struct_dict,
    to_dict,
)
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient

PARSE_STEPS = ("parse", "store")
# Errors that are about the connection or the caller, not one file: they stop the whole command.
FATAL = {
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.UNAUTHENTICATED,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.CANCELLED,
}
WATCHERS = 16


def add_parser(sub: Any) -> None:
    p = add_command(
        sub,
        "upload",
        help="upload files, folders (recursively) and URLs into a knowledge base",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="*", metavar="PATH", help="files and folders")
    p.add_argument("--kb", required=True, help="knowledge base id or name")
    p.add_argument("--dir", dest="directory", default="", help="directory in the knowledge base (created if missing)")
    p.add_argument("--url", action="append", default=[], help="a URL for the server to fetch (repeatable)")
    p.add_argument("--no-parse", action="store_true", help="store the files without parsing them")
    p.add_argument(
        "--replace",
        action="store_true",
        help="a file that exists takes the new content (parsed and re-indexed again); unchanged ones are left alone",
    )
    p.add_argument("--wait", action="store_true", help="watch the parse jobs live, then print a summary")
    p.add_argument("--metadata", help="JSON object kept with every file")
    p.add_argument("--include-hidden", action="store_true", help="also upload files and folders starting with '.'")
    p.add_argument("--concurrency", type=int, default=4, help="files uploaded at once (default 4)")


@dataclass
class Item:
    """One file to upload and what became of it."""

    source: str
    directory: str
    name: str
    size: int = 0
    url: str = ""
    file: kb_pb2.File | None = None
    job_id: str = ""
    error: tuple[str, str] | None = None
    outcome: str = ""  # created | replaced | unchanged
    skipped_because: str = ""  # why the server stored it without parsing
    job: job_pb2.Job | None = None
    steps_done: int = 0
    task: Any = None

    @property
    def kb_path(self) -> str:
        return f"{self.directory}/{self.name}" if self.directory else self.name


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


def plan(paths: list[str], urls: list[str], base: str, include_hidden: bool) -> tuple[list[Item], list[str]]:
    """The files to upload (local ones mirrored under `base`) and the directories they need."""
    from vecflow_client.uploads import url_name as _url_name

    items: list[Item] = []
    directories: list[str] = [base] if base else []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            root = _join(base, path.resolve().name)
            directories.append(root)
            for current, subdirs, files in os.walk(path):
                subdirs[:] = sorted(d for d in subdirs if include_hidden or not d.startswith("."))
                here = _join(root, *Path(current).relative_to(path).parts)
                directories.extend(_join(here, d) for d in subdirs)
                for name in sorted(files):
                    full = Path(current) / name
                    if (include_hidden or not name.startswith(".")) and full.is_file():
                        items.append(Item(str(full), here, name, full.stat().st_size))
        elif path.is_file():
            items.append(Item(str(path), base, path.name, path.stat().st_size))
        else:
            raise CliError(f"no such file or folder: {raw}")
    for url in urls:
        name = _url_name(url)
        if not name:
            raise CliError(f"cannot name a file after {url!r}")
        items.append(Item(url, base, name, url=url))
    seen: dict[str, str] = {}
    for item in items:
        if item.kb_path in seen:
            raise CliError(f"{item.source} and {seen[item.kb_path]} would both be uploaded as {item.kb_path}")
        seen[item.kb_path] = item.source
    return items, list(dict.fromkeys(directories))


async def upload_all(session: Session, client: VecflowClient, kb: kb_pb2.KnowledgeBase, items: list[Item]) -> None:
    args = session.args
    metadata = parse_json_object(args.metadata, "--metadata")
    limit = asyncio.Semaphore(max(args.concurrency, 1))
    progress = ui.new_progress(session) if session.live else None
    overall = None
    if progress is not None:
        total = sum(i.size for i in items) or 1
        overall = progress.add_task(f"uploading {len(items)} files", total=total, info="")
    sent: dict[int, int] = {}

    async def one(index: int, item: Item) -> None:
        def moved(done: int) -> None:
            sent[index] = done
            if progress is not None and overall is not None:
                progress.update(overall, completed=sum(sent.values()), info=item.kb_path)

        async with limit:
            try:
                reply = await client.upload_file(
                    kb.id,
                    None if item.url else item.source,
                    name=item.name,
                    directory=item.directory,
                    url=item.url,
                    metadata=metadata,
                    parse=False if args.no_parse else None,
                    replace=args.replace,
                    progress=moved,
                )
            except grpc.aio.AioRpcError as err:
                if err.code() in FATAL:
                    raise
                item.error = rpc_text(err)
                report_upload(session, item)
                return
        item.file = reply.file
        item.job_id = reply.parse_job.id if reply.HasField("parse_job") else ""
        item.outcome = short(kb_pb2.UploadOutcome, reply.outcome, "UPLOAD_OUTCOME_") if reply.outcome else "created"
        if reply.file.parse_state == kb_pb2.PARSE_STATE_SKIPPED:
            if args.no_parse:
                item.skipped_because = "--no-parse"
            elif not kb.auto_parse:
                item.skipped_because = f"knowledge base {kb.name} does not parse uploads (auto-parse off)"
            else:
                item.skipped_because = f"{reply.file.content_type} is not a type vecflow parses"
        report_upload(session, item)

    with ui.live_area(session, progress):
        await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
        if progress is not None and overall is not None:
            progress.update(overall, completed=progress.tasks[0].total, info="done")


def report_upload(session: Session, item: Item) -> None:
    if session.json:
        if item.error:
            session.emit(
                {
                    "type": "upload_failed",
                    "source": item.source,
                    "path": item.kb_path,
                    "error": {"code": item.error[0], "message": item.error[1]},
                }
            )
        else:
            assert item.file is not None
            session.emit(
                {
                    "type": "uploaded",
                    "source": item.source,
                    "path": item.kb_path,
                    "file": to_dict(item.file),
                    "parse_job_id": item.job_id,
                    "outcome": item.outcome,
                    "not_parsed_because": item.skipped_because or None,
                }
            )
        return
    if item.error:
        session.line(f"✗ {item.kb_path}  upload failed: {item.error[0]}: {item.error[1]}", style="red")
        return
    assert item.file is not None
    if item.job_id:
        then = f"parse job {item.job_id}"
    elif item.outcome == "unchanged":
        then = "unchanged (same content): nothing to do"
    else:
        then = f"not parsed: {item.skipped_because}" if item.skipped_because else "not parsed"
    mark = {"replaced": "↻", "unchanged": "="}.get(item.outcome, "↑")
    done = " replaced" if item.outcome == "replaced" else ""
    session.line(f"{mark} {item.kb_path}{done}  {fmt_bytes(item.file.content_length)}  {item.file.id}  {then}")


async def watch_all(session: Session, client: VecflowClient, items: list[Item]) -> None:
    """Follow every parse job at once (at most WATCHERS streams at a time), one row per file."""
    jobs = [i for i in items if i.job_id]
    if not jobs:
        return
    progress = None
    if session.live:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(
            ui.StatusSpinner(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=session.console,
        )
        for item in jobs:
            item.task = progress.add_task(item.kb_path, total=len(PARSE_STEPS), info="queued", mark="")
    session.watching.extend(i.job_id for i in jobs)
    limit = asyncio.Semaphore(WATCHERS)

    async def follow(item: Item) -> None:
        async with limit:
            async for event in ui.follow(session, client, item.job_id):
                on_event(session, progress, item, event)
        session.watching.remove(item.job_id)

    with ui.live_area(session, progress):
        await asyncio.gather(*(follow(item) for item in jobs))
    for item in jobs:
        item.job = await client.get_job(item.job_id)


def on_event(session: Session, progress: Any, item: Item, event: job_pb2.JobHistoryEvent) -> None:
    if session.json:
        session.emit(
            {
                "type": "event",
                "path": item.kb_path,
                "file_id": item.file.id if item.file else "",
                "job_id": item.job_id,
                "event": to_dict(event),
            }
        )
        return
    details = struct_dict(event.details)
    ended = event.job_status in ui.TERMINAL and event.step == "job"
    if event.step in PARSE_STEPS and event.status in (job_pb2.STEP_STATUS_SUCCEEDED, job_pb2.STEP_STATUS_SKIPPED):
        item.steps_done += 1
    if progress is not None:
        if event.status == job_pb2.STEP_STATUS_STARTED:
            info = f"{event.step}…"
        elif ended:
            words = {job_pb2.JOB_STATUS_SUCCEEDED: "parsed", job_pb2.JOB_STATUS_CANCELLED: "cancelled"}
            info = words.get(event.job_status, str(details.get("error_code", "failed")))
        else:
            info = f"{event.step} {ui.step_status(event.status)}"
        done = len(PARSE_STEPS) if event.job_status == job_pb2.JOB_STATUS_SUCCEEDED else item.steps_done
        if ended:
            marks = {job_pb2.JOB_STATUS_SUCCEEDED: "[green]✓", job_pb2.JOB_STATUS_CANCELLED: "[yellow]⊘"}
            progress.update(item.task, mark=marks.get(event.job_status, "[red]✗"))
            progress.stop_task(item.task)
        progress.update(item.task, completed=done, info=info)
        return
    if event.status in ui.ENDED or event.status == job_pb2.STEP_STATUS_SKIPPED:
        took = f"  {fmt_ms(event.duration_ms)}" if event.duration_ms else ""
        shown = ui.details_text(details, skip=["error_message", "parse_result_id", "model"])
        session.line(f"{item.kb_path}: {event.step} {ui.step_status(event.status)}{took}  {shown}".rstrip())


def outcome(item: Item) -> str:
    if item.error:
        return "upload failed"
    if not item.job_id:
        return "skipped"
    if item.job is None:
        return "pending"
    return ui.job_status(item.job.status)


def summarize(session: Session, items: list[Item]) -> None:
    rows = []
    for item in items:
        state = outcome(item)
        pages = chars = tokens = ""
        steps: dict[str, int] = {}
        error = {"code": item.error[0], "message": item.error[1]} if item.error else None
        if item.job is not None:
            result = struct_dict(item.job.result)
            pages, chars, tokens = (result.get(k, "") for k in ("pages", "characters", "tokens"))
            steps = {step: ms for step, _, ms in ui.step_durations(item.job.history)}
            if item.job.HasField("error"):
                error = {"code": item.job.error.code, "message": item.job.error.message}
        if session.json:
            session.emit(
                {
                    "type": "summary",
                    "path": item.kb_path,
                    "file_id": item.file.id if item.file else "",
                    "job_id": item.job_id,
                    "state": state,
                    "pages": int(pages) if pages != "" else None,
                    "characters": int(chars) if chars != "" else None,
                    "tokens": int(tokens) if tokens != "" else None,
                    "steps_ms": steps,
                    "error": error,
                }
            )
            continue
        rows.append(
            (
                item.kb_path,
                state,
                _int(pages),
                _int(chars),
                _int(tokens),
                " · ".join(f"{s} {fmt_ms(ms)}" for s, ms in steps.items()),
                f"{error['code']}: {error['message']}" if error else "",
            )
        )
    if not session.json:
        session.table(["file", "state", "pages", "chars", "tokens", "steps", "error"], rows, wrap=["error", "file"])


def _int(value: Any) -> str:
    return "" if value in ("", None) else str(int(value))


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    if not args.paths and not args.url:
        raise CliError("nothing to upload: give files, folders or --url")
    base = _join(args.directory)
    items, directories = plan(args.paths, args.url, base, args.include_hidden)
    kb = await resolve_kb(client, args.kb)
    for directory in directories:
        await client.ensure_directory(kb.id, directory)
    if not items:
        session.note("no files to upload")
        return EXIT_OK
    await upload_all(session, client, kb, items)
    failed_uploads = [i for i in items if i.error]
    if args.replace and not session.json:
        counts = {kind: sum(1 for i in items if i.outcome == kind) for kind in ("created", "replaced", "unchanged")}
        session.note(
            f"{counts['created']} new, {counts['replaced']} replaced, {counts['unchanged']} unchanged"
            + (f", {len(failed_uploads)} failed" if failed_uploads else "")
        )
    if not args.wait:
        jobs = [i.job_id for i in items if i.job_id]
        if jobs and not session.json:
            session.note(
                f"{len(jobs)} parse job(s) started; watch one with: vecflow jobs watch {jobs[0]}  (or use --wait)"
            )
        return EXIT_FAILED if failed_uploads else EXIT_OK
    await watch_all(session, client, items)
    summarize(session, items)
    states = [outcome(i) for i in items]
    if failed_uploads or "failed" in states:
        return EXIT_FAILED
    if "cancelled" in states:
        return EXIT_CANCELLED
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
