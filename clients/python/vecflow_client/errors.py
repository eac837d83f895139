"""Reading a failed call's rich error details (google.rpc.ErrorInfo)."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2

RESUMABLE_REASONS = {"WATCHER_TOO_SLOW"}  # a watch cut off for these resumes from its last sequence


def error_info(err: grpc.aio.AioRpcError | grpc.RpcError) -> tuple[str, dict[str, str]]:
    """The google.rpc.ErrorInfo (reason, metadata) of a failed call, or ("", {})."""
    trailing = err.trailing_metadata() if hasattr(err, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == "grpc-status-details-bin":
            for detail in status_pb2.Status.FromString(value).details:
                # types-protobuf types Message.DESCRIPTOR as Descriptor | the upb one, Any.Is as Descriptor only.
                if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):  # type: ignore[arg-type]
                    info = error_details_pb2.ErrorInfo()
                    detail.Unpack(info)
                    return info.reason, dict(info.metadata)
    return "", {}


def error_reason(err: grpc.aio.AioRpcError | grpc.RpcError) -> str:
    """The google.rpc.ErrorInfo reason of a failed call, or ""."""
    return error_info(err)[0]
