"""Map domain errors to gRPC statuses with google.rpc details (ErrorInfo, BadRequest)."""

from __future__ import annotations

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from vecflow import errors

DOMAIN = "vecflow.v1"

_CODES: list[tuple[type[errors.VecflowError], grpc.StatusCode, int]] = [
    (errors.InvalidArgument, grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT),
    (errors.NotFound, grpc.StatusCode.NOT_FOUND, code_pb2.NOT_FOUND),
    (errors.AlreadyExists, grpc.StatusCode.ALREADY_EXISTS, code_pb2.ALREADY_EXISTS),
    (errors.FailedPrecondition, grpc.StatusCode.FAILED_PRECONDITION, code_pb2.FAILED_PRECONDITION),
    (errors.ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED, code_pb2.RESOURCE_EXHAUSTED),
    (errors.Unauthenticated, grpc.StatusCode.UNAUTHENTICATED, code_pb2.UNAUTHENTICATED),
    (errors.PermissionDenied, grpc.StatusCode.PERMISSION_DENIED, code_pb2.PERMISSION_DENIED),
    (errors.Aborted, grpc.StatusCode.ABORTED, code_pb2.ABORTED),
    (errors.Unimplemented, grpc.StatusCode.UNIMPLEMENTED, code_pb2.UNIMPLEMENTED),
    (errors.Unavailable, grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE),
]


def status_code(err: errors.VecflowError) -> tuple[grpc.StatusCode, int]:
    for kind, code, number in _CODES:
        if isinstance(err, kind):
            return code, number
    return grpc.StatusCode.INTERNAL, code_pb2.INTERNAL


def to_status(err: errors.VecflowError) -> grpc.Status:
    """A grpc.Status whose trailing metadata carries google.rpc.Status with details."""
    _, number = status_code(err)
    proto = status_pb2.Status(code=number, message=err.message)
    info = error_details_pb2.ErrorInfo(reason=err.reason, domain=DOMAIN, metadata=err.metadata)
    proto.details.add().Pack(info)
    if isinstance(err, errors.InvalidArgument) and err.violations:
        bad = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                for v in err.violations
            ]
        )
        proto.details.add().Pack(bad)
    return rpc_status.to_status(proto)
