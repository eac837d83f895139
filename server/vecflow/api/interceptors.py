"""Server interceptors: request ids, traces, logging and metrics, error mapping, authentication.

Each interceptor wraps the method handler's behaviour, so streaming calls are
covered for their whole life. Health and reflection (`/grpc.*`) pass through untouched.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import grpc
from grpc.aio import AbortError

from vecflow import errors, metrics, tracing
from vecflow.api import context as call
from vecflow.api.errors import status_code, to_status
from vecflow.pipeline.embed import EMBEDDING_BAD_RESPONSE, EmbeddingError
from vecflow.services.auth import AuthService

log = logging.getLogger("vecflow.rpc")

Around = Callable[[str, grpc.aio.ServicerContext], AbstractAsyncContextManager[None]]


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k.lower(): v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


def _wrap(handler: grpc.RpcMethodHandler, method: str, around: Around) -> grpc.RpcMethodHandler:
    """A copy of `handler` whose behaviour runs inside `around(method, context)`."""
    serialize = handler.response_serializer

    def response_serializer(message: Any) -> bytes:
        # Messages fanned out to many streams are serialised once upstream and passed as bytes.
        return message if isinstance(message, bytes) else serialize(message)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": response_serializer if serialize is not None else None,
    }
    if handler.unary_unary:
        inner_uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            async with around(method, context):
                return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)
    if handler.unary_stream:
        inner_us = handler.unary_stream
        if not inspect.isasyncgenfunction(inner_us):
            # A coroutine handler that writes with context.write() (needed for write timeouts).
            async def unary_stream_writer(request: Any, context: grpc.aio.ServicerContext) -> None:
                async with around(method, context):
                    await inner_us(request, context)

            return grpc.unary_stream_rpc_method_handler(unary_stream_writer, **kwargs)

        async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            async with around(method, context):
                async for item in inner_us(request, context):
                    yield item

        return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)
    if handler.stream_unary:
        inner_su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            async with around(method, context):
                return await inner_su(requests, context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)
    inner_ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async with around(method, context):
            async for item in inner_ss(requests, context):
                yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)


@dataclass(frozen=True)
class _Undecodable:
    """What the guarded deserializer yields for bytes that are not a valid request message."""

    message_type: str
    error: str

    def fail(self) -> errors.InvalidArgument:
        return errors.InvalidArgument(
            f"the request is not a valid {self.message_type} message: it is truncated or malformed, has a string "
            f"that is not UTF-8, or nests more than {MAX_DECODE_DEPTH} levels deep ({self.error})",
            reason="MALFORMED_REQUEST",
            metadata={"message_type": self.message_type},
        )


MAX_DECODE_DEPTH = 100  # protobuf's (upb's) nesting limit while decoding


def _guard_decoding(handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
    """A copy of `handler` whose deserializer never raises: bytes it cannot decode reach the behaviour as an
    `_Undecodable`, which the behaviour turns into INVALID_ARGUMENT (inside the error mapping, so the answer
    has details and the request id, like any other)."""
    decode = handler.request_deserializer
    if decode is None:
        return handler
    message_type = getattr(getattr(decode, "__self__", None), "DESCRIPTOR", None)
    type_name = message_type.full_name if message_type is not None else method

    def request_deserializer(raw: bytes) -> Any:
        try:
            return decode(raw)
        except Exception as err:
            return _Undecodable(type_name, f"{type(err).__name__}: {err}"[:300])

    def checked(request: Any) -> Any:
        if isinstance(request, _Undecodable):
            raise request.fail()
        return request

    async def checked_stream(requests: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in requests:
            yield checked(request)

    kwargs = {"request_deserializer": request_deserializer, "response_serializer": handler.response_serializer}
    if handler.unary_unary:
        uu = handler.unary_unary

        async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await uu(checked(request), context)

        return grpc.unary_unary_rpc_method_handler(unary_unary, **kwargs)
    if handler.unary_stream:
        us = handler.unary_stream
        if inspect.isasyncgenfunction(us):

            async def unary_stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
                async for item in us(checked(request), context):
                    yield item

            return grpc.unary_stream_rpc_method_handler(unary_stream, **kwargs)

        async def unary_stream_writer(request: Any, context: grpc.aio.ServicerContext) -> None:
            await us(checked(request), context)

        return grpc.unary_stream_rpc_method_handler(unary_stream_writer, **kwargs)
    if handler.stream_unary:
        su = handler.stream_unary

        async def stream_unary(requests: Any, context: grpc.aio.ServicerContext) -> Any:
            return await su(checked_stream(requests), context)

        return grpc.stream_unary_rpc_method_handler(stream_unary, **kwargs)
    ss = handler.stream_stream

    async def stream_stream(requests: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        async for item in ss(checked_stream(requests), context):
            yield item

    return grpc.stream_stream_rpc_method_handler(stream_stream, **kwargs)


class _Wrapping(grpc.aio.ServerInterceptor):
    """Base: wrap every vecflow method's behaviour in `self.around`."""

    def around(self, method: str, context: grpc.aio.ServicerContext) -> AbstractAsyncContextManager[None]:
        raise NotImplementedError

    def prepare(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        """The handler to wrap (a subclass may change how it decodes requests)."""
        return handler

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None or details.method.startswith("/grpc."):
            return handler
        return _wrap(self.prepare(handler, details.method), details.method, self.around)


class RequestContextInterceptor(_Wrapping):
    """Takes x-request-id (or makes one), exposes it to the call and returns it in trailing metadata."""

    @asynccontextmanager
    async def around(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        given = _metadata(context).get("x-request-id", "")[:128]
        request_id = given or uuid.uuid4().hex
        call.set_state(call.CallState(method=method, request_id=request_id))
        tracing.set_correlation_id(request_id)  # the correlation id of the jobs this call submits
        context.set_trailing_metadata((("x-request-id", request_id),))
        yield


# Codes that are the server's failure rather than the caller's: their spans have status ERROR (OTel's gRPC rules).
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNIMPLEMENTED,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)


class TracingInterceptor(_Wrapping):
    """A SERVER span for every call, continuing the caller's W3C `traceparent` (installed only when tracing)."""

    def __init__(self, tracer: tracing.Tracing) -> None:
        self.tracer = tracer

    @asynccontextmanager
    async def around(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        state = call.state()
        span = self.tracer.rpc_span(method, _metadata(context), state.request_id if state else "")
        try:
            yield
        finally:  # the inner interceptors have set the call's code (CANCELLED included) by now
            code = state.code if state else grpc.StatusCode.UNKNOWN
            principal = state.principal if state else None
            project = principal.project_id if principal else ""
            span.set({"rpc.response.status_code": code.name, "vecflow.project_id": project})
            if code in SERVER_ERRORS:
                span.fail(code.name, f"the call ended {code.name}")
            span.end()


class LoggingMetricsInterceptor(_Wrapping):
    """One structured log line and the Prometheus series for every call."""

    @asynccontextmanager
    async def around(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        start = time.perf_counter()
        streaming = method.endswith(("WatchJob", "UploadFile"))
        if streaming:
            metrics.GRPC_STREAMS.labels(method).inc()
        state = call.state()
        try:
            yield
        except asyncio.CancelledError:
            if state:
                state.code = grpc.StatusCode.CANCELLED
            raise
        except AbortError:
            raise
        except Exception:
            if state and state.code == grpc.StatusCode.OK:
                state.code = grpc.StatusCode.UNKNOWN
            raise
        finally:
            elapsed = time.perf_counter() - start
            code = state.code if state else grpc.StatusCode.UNKNOWN
            if streaming:
                metrics.GRPC_STREAMS.labels(method).dec()
            metrics.GRPC_CALLS.labels(method, code.name).inc()
            metrics.GRPC_LATENCY.labels(method).observe(elapsed)
            principal = state.principal if state else None
            log.info(
                "rpc",
                extra={
                    "method": method,
                    "code": code.name,
                    "duration_ms": round(elapsed * 1000, 2),
                    "request_id": state.request_id if state else "",
                    "project_id": principal.project_id if principal else "",
                    "peer": context.peer(),
                },
            )


class ErrorMappingInterceptor(_Wrapping):
    """Domain errors become statuses with details; anything unexpected is INTERNAL and logged. Requests that
    cannot be decoded are INVALID_ARGUMENT (MALFORMED_REQUEST) rather than gRPC's own UNKNOWN."""

    def prepare(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler:
        return _guard_decoding(handler, method)

    @asynccontextmanager
    async def around(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        state = call.state()
        try:
            yield
        except errors.VecflowError as err:
            await self._answer(context, state, err)
        except EmbeddingError as err:  # the model or its endpoint cannot embed now: the client may retry
            message = f"embedding failed: {err.message}"
            if err.code == EMBEDDING_BAD_RESPONSE:
                answer = errors.Unavailable(message, reason="EMBEDDING_BAD_RESPONSE")
            else:
                answer = errors.Unavailable(message, reason="EMBEDDING_UNAVAILABLE")
            await self._answer(context, state, answer)
        except (AbortError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("unhandled error in %s", method, extra={"request_id": call.request_id()})
            if state:
                state.code = grpc.StatusCode.INTERNAL
            await context.abort(
                grpc.StatusCode.INTERNAL,
                f"internal error; report request id {call.request_id()} to the operator",
                (("x-request-id", call.request_id()),),
            )

    @staticmethod
    async def _answer(context: grpc.aio.ServicerContext, state: Any, err: errors.VecflowError) -> None:
        status = to_status(err)
        if state:
            state.code = status.code
        trailing = (*status.trailing_metadata, ("x-request-id", call.request_id()))
        await context.abort(status.code, status.details, trailing)


class AuthInterceptor(_Wrapping):
    """Authenticates with `x-api-key` or `authorization: Bearer`, checks x-selected-account-id,
    and records x-on-behalf-of on the call."""

    def __init__(self, auth: AuthService) -> None:
        self.auth = auth

    @asynccontextmanager
    async def around(self, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        md = _metadata(context)
        secret = md.get("x-api-key", "")
        bearer = md.get("authorization", "")
        if not secret and bearer:
            scheme, _, token = bearer.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise errors.Unauthenticated(
                    "the authorization header must be 'Bearer <api key>'", reason="AUTHORIZATION_MALFORMED"
                )
            secret = token.strip()
        principal = await self.auth.authenticate(
            secret, selected_account=md.get("x-selected-account-id", ""), on_behalf_of=md.get("x-on-behalf-of", "")
        )
        state = call.state()
        if state is not None:
            state.principal = principal
        yield


def default_interceptors(auth: AuthService, tracer: tracing.Tracing = tracing.OFF) -> list[grpc.aio.ServerInterceptor]:
    """Outermost first: request id → span (when tracing) → logging/metrics → error mapping → authentication."""
    traced: list[grpc.aio.ServerInterceptor] = [TracingInterceptor(tracer)] if tracer.enabled else []
    return [
        RequestContextInterceptor(),
        *traced,
        LoggingMetricsInterceptor(),
        ErrorMappingInterceptor(),
        AuthInterceptor(auth),
    ]


__all__ = ["default_interceptors", "status_code"]
