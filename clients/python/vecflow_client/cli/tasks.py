"""`vecflow tasks create|get|list|cancel|restart`: upsertion tasks, with live counts while they run.

`tasks create --file items.jsonl` reads one item per line, {"object_id": ..., "payload": {...},
"item_info": {...}}, creates the task and follows it: a bar of upserted items of the total and the
embed / upsert steps of each batch. Exit code: 0 when every item landed, 1 when any item failed (or
the task did), 3 when it was canceled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any

from vecflow_client.cli import progress as ui
from vecflow_client.cli.common import (
    EXIT_CANCELLED,
    EXIT_FAILED,
    EXIT_OK,
    CliError,
    Session,
    add_command,
    fmt_time,
    run,
    short,
    struct_dict,
    to_dict,
)
from vecflow_client.v1 import upsertion_task_service_pb2 as ut_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient

STATUSES = ["pending", "processing", "done", "failed", "canceled"]
SHOW_FAILED = 20


def add_parser(sub: Any) -> None:
    tasks = add_command(sub, "tasks", help="upsertion tasks: embed JSON items into a collection")
    tsub = tasks.add_subparsers(dest="tasks_command", required=True)
    p = add_command(
        tsub,
        "create",
        help="create a task from a JSONL file and follow it live",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--file", "-f", required=True, help="JSONL file, one item per line ('-' reads stdin)")
    p.add_argument("--task-id", default="", help="idempotency key and id of the task (generated when empty)")
    p.add_argument("--collection", choices=["default", "categories"], default="default")
    p.add_argument("--text-field", default="", help="payload field to embed (default: text)")
    p.add_argument("--no-wait", action="store_true", help="create the task and return")
    add_command(tsub, "get", help="one task with its counts and failed items").add_argument("task_id")
    p = add_command(tsub, "list", help="the project's tasks, newest first")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    add_command(tsub, "cancel", help="cancel a task at its next batch").add_argument("task_id")
    p = add_command(tsub, "restart", help="put a failed or canceled task back to pending")
    p.add_argument("task_id")
    p.add_argument("--wait", action="store_true", help="then follow it live")


def task_status(value: int) -> str:
    return short(ut_pb2.UpsertionTaskStatus, value, "UPSERTION_TASK_STATUS_")


def collection(value: int) -> str:
    return short(ut_pb2.Collection, value, "COLLECTION_")


def read_items(path: str) -> list[ut_pb2.UpsertionItem]:
    from google.protobuf import json_format

    try:
        handle = sys.stdin if path == "-" else open(path, encoding="utf-8")
    except OSError as err:
        raise CliError(f"cannot read {path}: {err.strerror}") from None
    items = []
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("each line must be a JSON object")
                items.append(json_format.ParseDict(data, ut_pb2.UpsertionItem()))
            except (ValueError, json_format.ParseError) as err:
                raise CliError(f"{path}:{number}: {err}") from None
    if not items:
        raise CliError(f"{path} has no items")
    return items


def exit_code(task: ut_pb2.UpsertionTask) -> int:
    if task.status == ut_pb2.UPSERTION_TASK_STATUS_CANCELED:
        return EXIT_CANCELLED
    if task.status == ut_pb2.UPSERTION_TASK_STATUS_DONE and not task.failed_items:
        return EXIT_OK
    return EXIT_FAILED


def print_task(session: Session, task: ut_pb2.UpsertionTask) -> None:
    session.line(
        f"{task.id}  {task_status(task.status)}  {task.upserted_items}/{task.total_items} items upserted"
        f"  collection {collection(task.collection)}  job {task.job_id}"
    )
    session.line(
        f"  text field: {task.text_field}  created: {fmt_time(task.created_at)}  updated: {fmt_time(task.updated_at)}"
    )
    if task.failed_items:
        rows = [(f.object_id, f.code, f.reason) for f in task.failed_items[:SHOW_FAILED]]
        session.table(["object_id", "code", "reason"], rows, title=f"{len(task.failed_items)} failed items")


async def follow_task(session: Session, client: VecflowClient, task: ut_pb2.UpsertionTask, after: int = 0) -> int:
    progress = ui.new_progress(session) if session.live else None
    overall = None
    if progress is not None:
        overall = progress.add_task("[bold]items[/bold]", total=max(task.total_items, 1), info="")
        progress.update(overall, completed=task.upserted_items)
    board = ui.StepBoard(session, progress, prefix="  ")
    with ui.live_area(session, progress):
        async for event in ui.follow(session, client, task.job_id, after):
            if session.json:
                session.emit({"type": "event", "task_id": task.id, "job_id": task.job_id, "event": to_dict(event)})
                continue
            board.handle(event)
            details = struct_dict(event.details)
            if "upserted_items" in details and progress is not None and overall is not None:
                progress.update(
                    overall,
                    completed=details["upserted_items"],
                    total=max(details.get("total_items", task.total_items), 1),
                )
    for _ in range(20):  # the job's end is committed just before the task's status; give it a moment
        final = (
            await client.upsertion_tasks.GetUpsertionTask(ut_pb2.GetUpsertionTaskRequest(task_id=task.id))
        ).upsertion_task
        if final.status not in (ut_pb2.UPSERTION_TASK_STATUS_PENDING, ut_pb2.UPSERTION_TASK_STATUS_PROCESSING):
            break
        await asyncio.sleep(0.1)
    job = await client.get_job(task.job_id)
    if session.json:
        session.emit({"type": "task", **to_dict(final)})
        return exit_code(final)
    print_task(session, final)
    if job.history:
        session.line(f"steps: {ui.durations_text(job.history)}")
    if job.HasField("error"):
        session.line(f"  error: {job.error.code}: {job.error.message}", style="red")
    return exit_code(final)


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    command = args.tasks_command
    if command == "create":
        items = read_items(args.file)
        request = ut_pb2.CreateUpsertionTaskRequest(
            task_id=args.task_id,
            items=items,
            collection=f"COLLECTION_{args.collection.upper()}",  # set by name (argparse allows only valid ones)
            text_field=args.text_field,
        )
        reply = await client.upsertion_tasks.CreateUpsertionTask(request)
        task = reply.upsertion_task
        if not session.json:
            verb = "created" if reply.created else "exists:"
            session.line(f"{verb} task {task.id}  {task.total_items} items  job {task.job_id}")
        if args.no_wait:
            if session.json:
                session.emit({"created": reply.created, **to_dict(task)})
            return EXIT_OK
        return await follow_task(session, client, task)
    if command == "list":
        rows = []
        count = 0
        async for task in client.iter_upsertion_tasks(status=args.status, page_size=min(args.limit or 200, 200)):
            if session.json:
                session.emit(task)
            else:
                rows.append(
                    (
                        task.id,
                        task_status(task.status),
                        f"{task.upserted_items}/{task.total_items}",
                        len(task.failed_items),
                        collection(task.collection),
                        fmt_time(task.created_at),
                    )
                )
            count += 1
            if args.limit and count >= args.limit:
                break
        if not session.json:
            session.table(["id", "status", "upserted", "failed", "collection", "created"], rows)
        return EXIT_OK
    if command == "get":
        task = (
            await client.upsertion_tasks.GetUpsertionTask(ut_pb2.GetUpsertionTaskRequest(task_id=args.task_id))
        ).upsertion_task
    elif command == "cancel":
        task = (
            await client.upsertion_tasks.CancelUpsertionTask(ut_pb2.CancelUpsertionTaskRequest(task_id=args.task_id))
        ).upsertion_task
    else:
        task = (
            await client.upsertion_tasks.RestartUpsertionTask(ut_pb2.RestartUpsertionTaskRequest(task_id=args.task_id))
        ).upsertion_task
        if args.wait:
            job = await client.get_job(task.job_id)
            restarts = [e.sequence for e in job.history if e.step == "restarted"]
            after = restarts[-1] - 1 if restarts else job.latest_sequence
            return await follow_task(session, client, task, after=after)
    if session.json:
        session.emit(task)
    else:
        print_task(session, task)
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
