"""The OpenTelemetry SDK behind vecflow.tracing: imported only by a replica that traces.

Each replica (an App) has its own TracerProvider, so that its spans name it: resource attributes service.name
("vecflow", or OTEL_SERVICE_NAME), service.instance.id (VECFLOW_REPLICA_ID) and service.version. The SDK reads
the standard variables itself: OTEL_TRACES_SAMPLER(_ARG) (default: parentbased_always_on, so a caller's sampling
decision holds for the whole trace, jobs included), OTEL_RESOURCE_ATTRIBUTES, and for the OTLP/gRPC exporter
OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT, _COMPRESSION, _CERTIFICATE and _INSECURE (and their _TRACES_ forms).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import OTELResourceDetector, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from vecflow.tracing.base import Span, TraceContext, Tracing, enable_log_ids

PROPAGATOR = TraceContextTextMapPropagator()
DEFAULT_SERVICE_NAME = "vecflow"
MAX_ATTRIBUTE_CHARS = 1024


def _value(value: Any) -> str | bool | int | float:
    """An attribute value: numbers and booleans as they are, anything else as a (plain, bounded) string."""
    if isinstance(value, bool | int | float) and not isinstance(value, str):
        return value
    return str(value)[:MAX_ATTRIBUTE_CHARS]


def current_ids() -> tuple[str, str] | None:
    """(trace id, span id) of the current span as 32 and 16 hex digits, or None."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def _carrier() -> TraceContext | None:
    """The current span's context as W3C headers, or None without a current span."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: TraceContext = {}
    PROPAGATOR.inject(carrier)
    return carrier


def _parent(carrier: Mapping[str, str]) -> Context:
    """The context a W3C carrier names, or an empty one (a new trace) when it names none."""
    return PROPAGATOR.extract(carrier, context=Context())


class _Current:
    """A started span, made the current one for the task (or context) that started it."""

    __slots__ = ("_context", "_span", "_token")

    def __init__(self, span: trace.Span) -> None:
        self._span = span
        self._context = trace.set_span_in_context(span)
        self._token = otel_context.attach(self._context)

    def set(self, attributes: Mapping[str, Any]) -> None:
        self._span.set_attributes({key: _value(value) for key, value in attributes.items()})

    def fail(self, code: str, message: str) -> None:
        self._span.set_attribute("vecflow.error_code", code)
        self._span.set_status(Status(StatusCode.ERROR, message or code))

    def end(self) -> None:
        # Only where it is still current: a generator finalised in another task has another context.
        if otel_context.get_current() is self._context:
            otel_context.detach(self._token)
        self._span.end()


class OtelTracing(Tracing):
    """Tracing on: spans go to the OTLP endpoint (batched, from a background thread) and to the exporters
    installed with vecflow.tracing.export_to (synchronously)."""

    enabled = True

    def __init__(self, otlp_endpoint: str, replica_id: str, version: str, exporters: Sequence[SpanExporter]) -> None:
        attributes = {"service.name": DEFAULT_SERVICE_NAME, "service.instance.id": replica_id}
        if version:
            attributes["service.version"] = version
        # The standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) have the last word.
        resource = Resource.create(attributes).merge(OTELResourceDetector().detect())
        self.provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        self._owned: list[SpanProcessor] = []
        for exporter in exporters:
            self.provider.add_span_processor(SimpleSpanProcessor(exporter))
        if otlp_endpoint:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            batch = BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint))
            self.provider.add_span_processor(batch)
            self._owned.append(batch)
        self.tracer = self.provider.get_tracer("vecflow", version or None)
        enable_log_ids(current_ids)

    def rpc_span(self, method: str, metadata: Mapping[str, str], request_id: str) -> Span:
        name = method.lstrip("/")
        span = self.tracer.start_span(
            name,
            context=_parent(metadata),
            kind=SpanKind.SERVER,
            attributes={"rpc.system.name": "grpc", "rpc.method": name, "vecflow.request_id": request_id},
        )
        return _Current(span)

    def job_span(self, operation: str, trace_context: TraceContext | None, attributes: Mapping[str, Any]) -> Span:
        links: list[Link] = []
        linked = (trace_context or {}).get("link")
        if linked:
            earlier = trace.get_current_span(_parent({"traceparent": linked})).get_span_context()
            if earlier.is_valid:
                links.append(Link(earlier, {"vecflow.link": "restarted from"}))
        span = self.tracer.start_span(
            f"job {operation}",
            context=_parent(trace_context or {}),
            kind=SpanKind.CONSUMER,
            attributes={key: _value(value) for key, value in attributes.items()},
            links=links,
        )
        return _Current(span)

    def step_span(self, name: str, details: Mapping[str, Any]) -> Span:
        attributes = {f"vecflow.step.{key}": _value(value) for key, value in details.items()}
        return _Current(self.tracer.start_span(name, attributes=attributes))

    def submitted(self, job_id: str, operation: str) -> TraceContext | None:
        carrier = _carrier()
        if carrier is not None:
            event = {"vecflow.job.id": job_id, "vecflow.job.operation": operation}
            trace.get_current_span().add_event("job submitted", event)
        return carrier

    def restarted(self, previous: TraceContext | None) -> TraceContext | None:
        carrier = _carrier()
        if carrier is not None and previous and previous.get("traceparent"):
            carrier["link"] = previous["traceparent"]
        return carrier

    def shutdown(self) -> None:
        # The batch exports what it holds (giving up after OTEL_EXPORTER_OTLP_TIMEOUT, 10 s, when the collector is
        # down); the installed exporters have every span already, and other replicas may still use them.
        for processor in self._owned:
            processor.shutdown()
