"""`vecflow jobs list|get|watch|cancel|restart`: the job commands, talking to a server over gRPC."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vecflow_client.cli import progress as ui
from vecflow_client.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    Session,
    add_command,
    fmt_time,
    run,
)
from vecflow_client.v1 import job_pb2, job_service_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient

# Kept for callers of the old module-level names.
EXIT_CANCELLED = 3
_event_line = ui.event_line
_exit_code = ui.job_exit_code

STATUSES = ["pending", "running", "succeeded", "failed", "cancelled"]
OPERATIONS = ["parse", "extract", "vector_store", "chunk", "upsert", "file_batch"]


def add_parser(sub: Any) -> None:
    jobs = add_command(sub, "jobs", help="list, inspect, watch, cancel and restart jobs")
    jsub = jobs.add_subparsers(dest="jobs_command", required=True)
    p = add_command(jsub, "list", help="the newest jobs, optionally filtered")
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--operation", choices=OPERATIONS)
    p.add_argument("--source", default="", help="only jobs working on this resource id")
    p.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    add_command(jsub, "get", help="a job with its history").add_argument("job_id")
    add_command(jsub, "cancel", help="cancel a job (a running one stops at its next step)").add_argument("job_id")
    p = add_command(jsub, "restart", help="put a failed or cancelled job back to pending")
    p.add_argument("job_id")
    p.add_argument("--watch", action="store_true", help="then watch it until it ends")
    p = add_command(jsub, "watch", help="show a job live until it ends (Ctrl-C stops watching, not the job; exit 130)")
    p.add_argument("job_id")
    p.add_argument("--after", type=int, default=0, help="resume after this sequence")


def print_job(session: Session, job: job_pb2.Job, *, history: bool = True) -> None:
    session.line(f"{job.id}  {ui.operation(job.operation)}  {ui.job_status(job.status)}  attempt {job.attempt}")
    session.line(f"  source: {job.source_id}  created: {fmt_time(job.created_at)}  updated: {fmt_time(job.updated_at)}")
    if job.HasField("error"):
        session.line(f"  error: {job.error.code}: {job.error.message}", style="red")
    if job.result.fields:
        session.line(f"  result: {ui.details_text(ui.struct_dict(job.result))}")
    if history:
        for event in job.history:
            session.line(ui.event_line(event))


async def watch(session: Session, client: VecflowClient, job_id: str, after: int = 0) -> int:
    """Follow one job to its end; return 0 succeeded, 1 failed, 3 cancelled."""
    job = await client.get_job(job_id)
    if session.json:
        async for event in ui.follow(session, client, job_id, after):
            session.emit(event)
        return ui.job_exit_code(await client.get_job(job_id))
    if not session.live:
        async for event in ui.follow(session, client, job_id, after):
            session.line(ui.event_line(event))
        final = await client.get_job(job_id)
        ui.print_outcome(session, final)
        return ui.job_exit_code(final)

    from rich.console import Group
    from rich.text import Text

    header = Text()

    def describe(status: int, sequence: int) -> None:
        header.plain = ""
        header.append(f"{job.id}  ", style="bold")
        kind = ui.operation(job.operation)
        header.append(
            f"{'' if kind == 'unspecified' else kind + '  '}{ui.job_status(status)}  #{sequence}", style="cyan"
        )

    describe(job.status, job.latest_sequence)
    progress = ui.new_progress(session)
    board = ui.StepBoard(session, progress)
    with ui.live_area(session, Group(header, progress)):
        async for event in ui.follow(session, client, job_id, after):
            board.handle(event)
            describe(event.job_status, event.sequence)
    final = await client.get_job(job_id)
    if final.history:
        rows = [(step, n, ui.fmt_ms(ms)) for step, n, ms in ui.step_durations(final.history)]
        if rows:
            session.table(["step", "runs", "time"], rows)
    ui.print_outcome(session, final, durations=False)
    return ui.job_exit_code(final)


async def handle(session: Session, client: VecflowClient) -> int:
    args = session.args
    command = args.jobs_command
    if command == "list":
        rows = []
        count = 0
        async for job in client.iter_jobs(
            status=args.status, operation=args.operation, source_id=args.source, page_size=min(args.limit or 200, 200)
        ):
            if session.json:
                session.emit(job)
            else:
                rows.append(
                    (
                        job.id,
                        ui.job_status(job.status),
                        ui.operation(job.operation),
                        job.source_id,
                        fmt_time(job.created_at),
                    )
                )
            count += 1
            if args.limit and count >= args.limit:
                break
        if not session.json:
            session.table(["id", "status", "operation", "source", "created"], rows)
        return EXIT_OK
    if command == "watch":
        return await watch(session, client, args.job_id, args.after)
    if command == "get":
        job = await client.get_job(args.job_id)
    elif command == "cancel":
        job = (await client.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=args.job_id))).job
    elif command == "restart":
        job = (await client.jobs.RestartJob(job_service_pb2.RestartJobRequest(job_id=args.job_id))).job
        if args.watch:
            return await watch(session, client, job.id, job.latest_sequence)
    else:  # pragma: no cover - argparse keeps this out
        return EXIT_ERROR
    if session.json:
        session.emit(job)
    else:
        print_job(session, job, history=command == "get")
    return EXIT_OK


def main(args: argparse.Namespace) -> int:
    return run(args, handle)
