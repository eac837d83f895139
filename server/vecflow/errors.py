"""Domain errors: what went wrong, in terms the API layer maps to status codes.

Services raise these; `vecflow.api.errors` turns them into gRPC statuses with
google.rpc details. Nothing here imports gRPC.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FieldViolation:
    """One invalid request field (google.rpc.BadRequest.FieldViolation)."""

    field: str
    description: str


@dataclass
class VecflowError(Exception):
    """Base of every error a client can cause or observe.

    `reason` is an UPPER_SNAKE code (google.rpc.ErrorInfo.reason); `metadata`
    carries machine-readable context such as the id that was not found.
    """

    message: str
    reason: str = "ERROR"
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass
class InvalidArgument(VecflowError):
    """The request is malformed; `violations` says which fields and why."""

    reason: str = "INVALID_ARGUMENT"
    violations: list[FieldViolation] = field(default_factory=list)

    @classmethod
    def field(cls, name: str, description: str, reason: str = "INVALID_ARGUMENT") -> InvalidArgument:
        return cls(f"{name}: {description}", reason=reason, violations=[FieldViolation(name, description)])


@dataclass
class NotFound(VecflowError):
    """The resource does not exist, or belongs to another project (never said which)."""

    reason: str = "NOT_FOUND"

    @classmethod
    def resource(cls, kind: str, resource_id: str) -> NotFound:
        return cls(
            f"{kind} {resource_id!r} was not found in this project",
            reason=f"{kind.upper().replace(' ', '_')}_NOT_FOUND",
            metadata={"resource_type": kind, "resource_id": resource_id},
        )


@dataclass
class AlreadyExists(VecflowError):
    """A resource with the same unique name or id exists."""

    reason: str = "ALREADY_EXISTS"


@dataclass
class FailedPrecondition(VecflowError):
    """The resource is not in a state that allows the operation."""

    reason: str = "FAILED_PRECONDITION"


@dataclass
class ResourceExhausted(VecflowError):
    """A size or count limit was exceeded; the message states the limit."""

    reason: str = "LIMIT_EXCEEDED"


@dataclass
class Unauthenticated(VecflowError):
    """No credentials, or credentials the server does not accept."""

    reason: str = "UNAUTHENTICATED"


@dataclass
class PermissionDenied(VecflowError):
    """The credentials are valid but do not allow this call."""

    reason: str = "PERMISSION_DENIED"


@dataclass
class Aborted(VecflowError):
    """The call was ended early and should be retried or resumed as the metadata says."""

    reason: str = "ABORTED"


@dataclass
class Unavailable(VecflowError):
    """A dependency (the vector index, an embedding endpoint) is down; retrying later may work."""

    reason: str = "UNAVAILABLE"


@dataclass
class Unimplemented(VecflowError):
    """The RPC is part of the contract but not yet served by this release."""

    reason: str = "NOT_IMPLEMENTED"
