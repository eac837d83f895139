"""Client interceptors that add fixed metadata (an API key, say) to every call of a channel."""

from __future__ import annotations

from typing import Any

import grpc

Metadata = tuple[tuple[str, str], ...]


def _with_metadata(details: Any, metadata: Metadata) -> Any:
    return details._replace(metadata=tuple(details.metadata or ()) + metadata)


class _UnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request)


class _UnaryStream(grpc.aio.UnaryStreamClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request)


class _StreamUnary(grpc.aio.StreamUnaryClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self.metadata = metadata

    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(_with_metadata(details, self.metadata), request_iterator)


def metadata_interceptors(metadata: Metadata) -> list[grpc.aio.ClientInterceptor]:
    """Client interceptors that add fixed metadata (an API key, say) to every call of a channel."""
    return [_UnaryUnary(metadata), _UnaryStream(metadata), _StreamUnary(metadata)]
