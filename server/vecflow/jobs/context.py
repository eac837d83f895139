"""What a job handler sees: its parameters, persisted state, steps with timings, progress and cancellation."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from vecflow.failures import CodedFailure
from vecflow.jobs import records as r
from vecflow.jobs.errors import JobCancelled
from vecflow.tracing import Tracing

T = TypeVar("T")


class JobHost(Protocol):
    """What a JobContext needs of the engine running it (vecflow.jobs.engine.JobEngine), so that the context
    does not depend on the engine."""

    progress_interval: float
    tracing: Tracing

    async def emit(
        self,
        ctx: JobContext,
        step: str,
        status: str,
        details: dict[str, Any] | None = None,
        duration: float = 0.0,
        step_done: str | None = None,
        wait: bool = True,
    ) -> None: ...

    async def save_state(self, ctx: JobContext) -> None: ...

    async def release_slot(self, ctx: JobContext) -> None: ...

    async def reclaim_slot(self, ctx: JobContext) -> None: ...


@dataclass
class Step:
    """A running step; put counts and sizes in `details` and they land in its closing event."""

    name: str
    details: dict[str, Any] = field(default_factory=dict)


class JobContext:
    """Handed to a job handler for one attempt at one job."""

    def __init__(self, engine: JobHost, job: dict[str, Any]) -> None:
        self.engine = engine
        self.job_id: str = job["id"]
        self.project_id: str = job["project_id"]
        self.operation: str = job["operation"]
        self.source_id: str = job["source_id"]
        self.params: dict[str, Any] = dict(job["params"] or {})
        self.state: dict[str, Any] = dict(job["state"] or {})
        self.attempt: int = job["attempt"]
        self.correlation_id: str = job.get("correlation_id") or ""
        self.trace_context: dict[str, str] | None = job.get("trace_context")
        self.started = time.monotonic()
        self.current_step = ""
        self.cancel_requested = asyncio.Event()
        self._last_progress = 0.0
        self._pending_progress: tuple[str, dict[str, Any]] | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()  # delayed flushes running now (kept, so none is collected)
        self.finished = False
        self.holds_slot = True  # counts against the engine's workers (not while `waiting`)

    # Cancellation ---------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Raise JobCancelled if CancelJob was called: call it at step and batch boundaries."""
        if self.cancel_requested.is_set():
            raise JobCancelled()

    @asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        """Wait for other jobs (a file's parse, say) without holding a worker slot, so that they can run
        even when every worker is taken by jobs that wait for them."""
        await self.engine.release_slot(self)
        try:
            yield
        finally:
            await self.engine.reclaim_slot(self)

    # Steps ------------------------------------------------------------------------------

    def done(self, name: str) -> bool:
        """Whether step `name` finished in an earlier attempt (so a resumed job may skip it)."""
        return name in self.state.get("done_steps", [])

    def output(self, name: str) -> Any:
        return self.state.get("outputs", {}).get(name)

    @asynccontextmanager
    async def step(self, name: str, **details: Any) -> AsyncIterator[Step]:
        """A timed step: a `started` event, then `succeeded`, `failed` or `cancelled` with duration_ms (and,
        when tracing, a span with the step's details as attributes)."""
        self.checkpoint()
        self.current_step = name
        step = Step(name, dict(details))
        await self.engine.emit(self, name, r.STARTED, details=dict(details), wait=False)
        span = self.engine.tracing.step_span(name, details) if self.engine.tracing.enabled else None
        start = time.monotonic()
        try:
            yield step
        except JobCancelled:
            if span is not None:
                span.set({"vecflow.step.cancelled": True})
            self._cancel_flush()
            await self.engine.emit(
                self, name, r.STEP_CANCELLED, details=step.details, duration=time.monotonic() - start
            )
            raise
        except CodedFailure as err:
            if span is not None:
                span.fail(err.code, err.message)
            self._cancel_flush()
            info = {**step.details, "error_code": err.code, "error_message": err.message, **err.details}
            await self.engine.emit(self, name, r.STEP_FAILED, details=info, duration=time.monotonic() - start)
            raise
        except Exception as err:
            if span is not None:
                span.fail("INTERNAL_ERROR", f"{type(err).__name__}: {err}")
            self._cancel_flush()
            info = {**step.details, "error_code": "INTERNAL_ERROR", "error_message": f"{type(err).__name__}: {err}"}
            await self.engine.emit(self, name, r.STEP_FAILED, details=info, duration=time.monotonic() - start)
            raise
        finally:
            if span is not None:
                span.set({f"vecflow.step.{key}": value for key, value in step.details.items()})
                span.end()
        self._cancel_flush()
        await self.engine.emit(
            self, name, r.STEP_SUCCEEDED, details=step.details, duration=time.monotonic() - start, step_done=name
        )

    async def run_step(self, name: str, fn: Callable[[Step], Awaitable[T]], **details: Any) -> T:
        """Run `fn` as step `name` once: a resumed job gets the stored output and a `skipped` event.

        The output must be JSON-serialisable; it is persisted with the step's closing event.
        """
        if self.done(name):
            self.checkpoint()
            await self.engine.emit(self, name, r.SKIPPED, details={"reason": "finished in an earlier attempt"})
            return self.output(name)
        async with self.step(name, **details) as step:
            result = await fn(step)
            self.state.setdefault("outputs", {})[name] = result
        return result

    async def save_state(self, **updates: Any) -> None:
        """Persist checkpoint data (batch cursors, ids) so a resumed attempt continues from it."""
        self.state.update(updates)
        await self.engine.save_state(self)

    # Progress ---------------------------------------------------------------------------

    async def progress(self, *, step: str | None = None, **counts: Any) -> None:
        """Report cumulative progress of `step` (default: the current step); coalesced to about 10 events
        per second."""
        self._pending_progress = (step or self.current_step, counts)
        now = time.monotonic()
        interval = self.engine.progress_interval
        if now - self._last_progress >= interval:
            await self._emit_progress()
        elif self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(interval - (now - self._last_progress), self._start_flush)

    def _start_flush(self) -> None:
        task = asyncio.get_running_loop().create_task(self._emit_progress())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def _emit_progress(self) -> None:
        self._flush = None
        pending, self._pending_progress = self._pending_progress, None
        if pending is None:
            return
        self._last_progress = time.monotonic()
        step, counts = pending
        try:
            await self.engine.emit(self, step, r.PROGRESS, details=counts, wait=False)
        except Exception:
            if self._flush is None and self.finished:
                return  # a delayed flush that lost the race with the job's end: nothing to report
            raise

    def close(self) -> None:
        """The attempt is over: drop any pending progress flush."""
        self.finished = True
        self._cancel_flush()

    def _cancel_flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        self._pending_progress = None

    async def to_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-heavy or blocking work off the event loop."""
        return await asyncio.to_thread(fn, *args)
