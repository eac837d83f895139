"""Showing jobs as they run: live rich progress on a terminal, plain lines on a pipe, JSON with --json."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from vecflow_client.cli.common import EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, Session, fmt_ms, short, struct_dict
from vecflow_client.v1 import job_pb2

if TYPE_CHECKING:
    from vecflow_client import VecflowClient

# Cumulative (done, total) pairs that job handlers report in progress events, in order of preference.
COUNT_PAIRS = (
    ("embedded", "chunks"),
    ("done", "total"),
    ("upserted_items", "total_items"),
    ("completed", "total"),
)
LABEL_KEYS = ("label", "file", "file_id", "batch")
TERMINAL = {job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED}
ENDED = {job_pb2.STEP_STATUS_SUCCEEDED, job_pb2.STEP_STATUS_FAILED, job_pb2.STEP_STATUS_CANCELLED}
MARKS = {
    job_pb2.STEP_STATUS_SUCCEEDED: ("✓", "green"),
    job_pb2.STEP_STATUS_FAILED: ("✗", "red"),
    job_pb2.STEP_STATUS_CANCELLED: ("⊘", "yellow"),
    job_pb2.STEP_STATUS_SKIPPED: ("↷", "dim"),
    job_pb2.STEP_STATUS_INFO: ("·", "dim"),
    job_pb2.STEP_STATUS_STARTED: ("▸", "cyan"),
    job_pb2.STEP_STATUS_PROGRESS: ("…", "cyan"),
}


def job_status(value: int) -> str:
    return short(job_pb2.JobStatus, value, "JOB_STATUS_")


def step_status(value: int) -> str:
    return short(job_pb2.StepStatus, value, "STEP_STATUS_")


def operation(value: int) -> str:
    return short(job_pb2.JobOperation, value, "JOB_OPERATION_")


def job_exit_code(job: job_pb2.Job) -> int:
    """0 succeeded, 3 cancelled, 1 anything else (failed, or not finished)."""
    return {job_pb2.JOB_STATUS_SUCCEEDED: EXIT_OK, job_pb2.JOB_STATUS_CANCELLED: EXIT_CANCELLED}.get(
        job.status, EXIT_FAILED
    )


def details_text(details: dict[str, Any], skip: Sequence[str] = ()) -> str:
    def value(v: Any) -> str:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)

    return " ".join(f"{k}={value(v)}" for k, v in details.items() if k not in skip)


def event_line(event: job_pb2.JobHistoryEvent) -> str:
    """One history event as a plain line: sequence, time, step, status, duration, details."""
    details = struct_dict(event.details)
    took = f" {event.duration_ms} ms" if event.duration_ms else ""
    stamp = event.timestamp.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
    return f"{event.sequence:>5}  {stamp}  {event.step:<16} {step_status(event.status):<10}{took}  {details_text(details)}".rstrip()


def counts(details: dict[str, Any]) -> tuple[float, float] | None:
    for done, total in COUNT_PAIRS:
        if isinstance(details.get(done), int | float) and isinstance(details.get(total), int | float):
            return float(details[done]), float(details[total])
    return None


def step_durations(history: Sequence[job_pb2.JobHistoryEvent]) -> list[tuple[str, int, int]]:
    """(step, times it ran, total ms) for each step that ended, in order of first appearance."""
    totals: dict[str, list[int]] = {}
    for event in history:
        if event.status in ENDED and event.step != "job":
            entry = totals.setdefault(event.step, [0, 0])
            entry[0] += 1
            entry[1] += event.duration_ms
    return [(step, n, ms) for step, (n, ms) in totals.items()]


def durations_text(history: Sequence[job_pb2.JobHistoryEvent]) -> str:
    parts = []
    for step, n, ms in step_durations(history):
        parts.append(f"{step} {fmt_ms(ms)}" + (f" (×{n})" if n > 1 else ""))
    return " · ".join(parts)


class StatusSpinner(SpinnerColumn):
    """A spinner that shows the task's `mark` field (✓, ✗, ...) once it has one."""

    def __init__(self) -> None:
        super().__init__(finished_text=" ")

    def render(self, task: Task) -> RenderableType:
        mark = task.fields.get("mark")
        return Text.from_markup(mark) if mark else super().render(task)


def new_progress(session: Session, *, bar_width: int | None = 30) -> Progress:
    return Progress(
        StatusSpinner(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=bar_width),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}", style="dim"),
        TimeElapsedColumn(),
        console=session.console,
        expand=False,
    )


@contextlib.contextmanager
def live_area(session: Session, renderable: Any) -> Iterator[Any]:
    """A rich Live display of `renderable` on a terminal; nothing otherwise. Yields the Live or None."""
    if not session.live:
        yield None
        return
    with Live(renderable, console=session.console, refresh_per_second=8, transient=False) as live:
        yield live


async def follow(session: Session, client: VecflowClient, job_id: str, after: int = 0) -> AsyncIterator[Any]:
    """The job's events, each once, across reconnects; the job is remembered for a Ctrl-C note.

    It stays in `session.watching` unless the watch ends normally, so an interrupted command can
    say which jobs to watch again.
    """
    session.watching.append(job_id)
    async for event in client.watch_job(job_id, after_sequence=after, max_attempts=120, max_backoff=2.0):
        yield event
    session.watching.remove(job_id)


class StepBoard:
    """Live rows for a job's running steps; finished steps become log lines above them.

    Steps are told apart by their label (label, file, file_id or batch in the started event), so several
    files' `chunk` and `embed` steps can run side by side.
    """

    def __init__(self, session: Session, progress: Progress | None, *, prefix: str = "") -> None:
        self.session = session
        self.progress = progress
        self.prefix = prefix
        self.rows: dict[tuple[str, str], TaskID] = {}
        self.labels: dict[tuple[str, str], dict[str, Any]] = {}

    @staticmethod
    def label(details: dict[str, Any]) -> str:
        for key in LABEL_KEYS:
            if details.get(key) not in (None, ""):
                value = details[key]
                return f"{key} {value:g}" if isinstance(value, float) else str(value)
        return ""

    def _find(self, step: str, details: dict[str, Any]) -> tuple[str, str] | None:
        file_id = details.get("file_id")
        if file_id:
            for key, info in self.labels.items():
                if info.get("file_id") == file_id:
                    return key
        key = (step, self.label(details))
        if key in self.rows:
            return key
        same = [k for k in self.rows if k[0] == step]
        return same[-1] if same else None

    def handle(self, event: job_pb2.JobHistoryEvent) -> None:
        details = struct_dict(event.details)
        mark, style = MARKS.get(event.status, ("?", ""))
        progress = self.progress
        if event.status == job_pb2.STEP_STATUS_STARTED:
            key = (event.step, self.label(details))
            self.labels[key] = details
            if progress is not None:
                name = f"{self.prefix}{event.step}" + (f" [dim]{key[1]}[/dim]" if key[1] else "")
                self.rows[key] = progress.add_task(name, total=None, info="")
            return
        if event.status == job_pb2.STEP_STATUS_PROGRESS:
            found = self._find(event.step, details)
            if progress is not None and found is not None and found in self.rows:
                pair = counts(details)
                extra = details_text(details, skip=[k for pair_ in COUNT_PAIRS for k in pair_] + ["file_id"])
                if pair is not None:
                    progress.update(self.rows[found], completed=pair[0], total=max(pair[1], 1), info=extra)
                else:
                    progress.update(self.rows[found], info=extra)
            return
        if event.step == "job" and event.status in ENDED:  # nothing runs any more: no row stays behind
            for task in self.rows.values():
                if progress is not None:
                    progress.remove_task(task)
            self.rows.clear()
            self.labels.clear()
            return  # the command prints the outcome itself
        if event.status in ENDED:
            found = self._find(event.step, details)
            if found is not None:
                self.labels.pop(found, None)
                ended = self.rows.pop(found, None)
                if progress is not None and ended is not None:
                    progress.remove_task(ended)
        label = self.label(details)
        took = f"  {fmt_ms(event.duration_ms)}" if event.duration_ms else ""
        shown = details_text(details, skip=["file_id", "file", "position", "of", "batch", "error_message"])
        text = f"{mark} {self.prefix}{event.step}" + (f" {label}" if label else "") + f"{took}  {shown}".rstrip()
        if event.status == job_pb2.STEP_STATUS_FAILED and details.get("error_message"):
            text += f"\n    {details.get('error_code', '')}: {details['error_message']}"
        self.session.console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)


def print_outcome(session: Session, job: job_pb2.Job, *, durations: bool = True) -> None:
    """The end of a watch: step durations, `job <id> <status>`, and the error when it failed."""
    if durations and job.history:
        text = durations_text(job.history)
        if text:
            session.line(f"steps: {text}")
    style = {job_pb2.JOB_STATUS_SUCCEEDED: "bold green", job_pb2.JOB_STATUS_FAILED: "bold red"}.get(
        job.status, "bold yellow"
    )
    session.line(f"job {job.id} {job_status(job.status)}", style=style)
    if job.HasField("error"):
        session.line(f"  error: {job.error.code}: {job.error.message}", style="red")
