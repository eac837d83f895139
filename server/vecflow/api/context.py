"""Per-call state shared by the interceptors and handlers (a ContextVar per RPC)."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import grpc

from vecflow.services.auth import Principal


@dataclass
class CallState:
    method: str
    request_id: str
    code: grpc.StatusCode = grpc.StatusCode.OK
    principal: Principal | None = None


_state: ContextVar[CallState | None] = ContextVar("vecflow_call_state", default=None)


def set_state(state: CallState) -> None:
    _state.set(state)


def state() -> CallState | None:
    return _state.get()


def principal() -> Principal:
    """The authenticated caller of the current RPC (set by the auth interceptor)."""
    current = _state.get()
    if current is None or current.principal is None:
        raise RuntimeError("no authenticated principal: is the auth interceptor installed?")
    return current.principal


def request_id() -> str:
    current = _state.get()
    return current.request_id if current else ""
