"""Traces: what the rest of the server sees of OpenTelemetry, and all it sees when tracing is off.

A replica traces when an OTLP endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT, read into
Settings.otlp_endpoint) or when a process installed an exporter with `export_to` (tests). Otherwise
`for_replica` returns `OFF`: callers check `enabled` once and do nothing more, and no OpenTelemetry module is
imported (vecflow.tracing.otel, which imports them, is loaded only for a tracing replica).

What travels with a job is its *trace context*: the W3C `traceparent` (and `tracestate`) of the span that
submitted it, stored on the job row (`jobs.trace_context`); the replica that runs the job starts its span as a
child of it. The *correlation id* is the request id (x-request-id) of the call that caused the work: RPCs set
it, jobs are submitted with it as their `correlation_id`, and a running job sets it again for the jobs it submits.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

from vecflow.tracing.base import NO_SPAN, Span, TraceContext, Tracing, log_ids

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

_correlation: ContextVar[str] = ContextVar("vecflow_correlation_id", default="")
_exporters: list[SpanExporter] = []


def correlation_id() -> str:
    """The request id of the call whose work this is ("" outside calls and jobs)."""
    return _correlation.get()


def set_correlation_id(value: str) -> None:
    """Make `value` the correlation id of the current call or job (and of what it submits)."""
    _correlation.set(value)


def export_to(exporter: SpanExporter) -> None:
    """Export the spans of every replica created from now on in this process to `exporter` (synchronously, as
    each ends), whether or not an OTLP endpoint is configured: for tests (the SDK's InMemorySpanExporter)."""
    _exporters.append(exporter)


def stop_exporting(exporter: SpanExporter) -> None:
    if exporter in _exporters:
        _exporters.remove(exporter)


OFF = Tracing()


def for_replica(otlp_endpoint: str, replica_id: str, version: str = "") -> Tracing:
    """`OFF` unless an OTLP endpoint is given or an exporter was installed (`export_to`)."""
    if not otlp_endpoint and not _exporters:
        return OFF
    from vecflow.tracing.otel import OtelTracing

    return OtelTracing(otlp_endpoint, replica_id, version, tuple(_exporters))


__all__ = [
    "NO_SPAN",
    "OFF",
    "Span",
    "TraceContext",
    "Tracing",
    "correlation_id",
    "export_to",
    "for_replica",
    "log_ids",
    "set_correlation_id",
    "stop_exporting",
]
