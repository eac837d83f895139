"""What vecflow.tracing's callers use: a replica's Tracing (this base one is tracing off) and its spans."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

TraceContext = dict[str, str]  # a W3C carrier: "traceparent", optionally "tracestate" and "link" (see otel.py)

_log_ids: Callable[[], tuple[str, str] | None] | None = None  # set once a replica of this process traces


def log_ids() -> tuple[str, str] | None:
    """(trace id, span id) in hex of the current span, for log lines; None when there is none or nothing traces."""
    return _log_ids() if _log_ids is not None else None


def enable_log_ids(ids: Callable[[], tuple[str, str] | None]) -> None:
    global _log_ids
    _log_ids = ids


class Span(Protocol):
    """A started span that is the current one until `end()`."""

    def set(self, attributes: Mapping[str, Any]) -> None:
        """Add attributes (values that are not str, bool, int or float are written as strings)."""

    def fail(self, code: str, message: str) -> None:
        """Mark it failed: status ERROR with `message`, attribute vecflow.error_code = `code`."""

    def end(self) -> None:
        """End it, and make the span that was current before it current again."""


class _NoSpan:
    def set(self, attributes: Mapping[str, Any]) -> None:
        pass

    def fail(self, code: str, message: str) -> None:
        pass

    def end(self) -> None:
        pass


NO_SPAN: Span = _NoSpan()


class Tracing:
    """A replica's tracing; this base is tracing off, which makes nothing (callers skip their work when
    `enabled` is false; the methods are safe to call all the same)."""

    enabled = False

    def rpc_span(self, method: str, metadata: Mapping[str, str], request_id: str) -> Span:
        """A SERVER span for an RPC `method` (/package.Service/Method), continuing the caller's `traceparent`."""
        return NO_SPAN

    def job_span(self, operation: str, trace_context: TraceContext | None, attributes: Mapping[str, Any]) -> Span:
        """The span of one attempt at a job, a child of the context it was submitted in."""
        return NO_SPAN

    def step_span(self, name: str, details: Mapping[str, Any]) -> Span:
        """The span of one job step, a child of the current (job) span."""
        return NO_SPAN

    def submitted(self, job_id: str, operation: str) -> TraceContext | None:
        """The trace context to store with a job submitted now (None without a current span); records the
        submission as an event on the current span."""
        return None

    def restarted(self, previous: TraceContext | None) -> TraceContext | None:
        """The trace context for a job restarted now: the current one, linked to `previous` (None: keep it)."""
        return None

    def shutdown(self) -> None:
        """Export what is left and stop (blocking: call it off the event loop)."""
