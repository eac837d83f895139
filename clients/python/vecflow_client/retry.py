"""Retries with exponential backoff and jitter, automatic request ids and default deadlines for unary calls."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import grpc


@dataclass(frozen=True)
class RetryPolicy:
    """How unary calls are retried.

    A call that fails with one of `codes` is tried again, up to `attempts` tries in all, after
    `initial_backoff * multiplier ** (n - 1)` seconds (at most `max_backoff`), each delay jittered
    to between half and all of itself. Mutating requests carry a `request_id` (set automatically
    when the caller left it empty), so the server answers a retry with the first call's result
    instead of doing the work twice (AIP-155).
    """

    attempts: int = 4
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    multiplier: float = 2.0
    codes: Collection[grpc.StatusCode] = field(default_factory=lambda: frozenset({grpc.StatusCode.UNAVAILABLE}))

    def backoff(self, failures: int) -> float:
        """The jittered delay before the next try, after `failures` failed tries (1, 2, ...)."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** max(failures - 1, 0))
        return base * (0.5 + random.random() / 2)


NO_RETRY = RetryPolicy(attempts=1)


def with_request_id(request: Any) -> Any:
    """`request` with a fresh UUID request_id when it has that field and it is empty (a copy; never mutated)."""
    descriptor = getattr(request, "DESCRIPTOR", None)
    if descriptor is None or "request_id" not in descriptor.fields_by_name or request.request_id:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    copy.request_id = str(uuid.uuid4())
    return copy


@dataclass
class RetryStats:
    """Counters a client keeps about its retries (tests and diagnostics read them)."""

    retries: int = 0
    last_error: grpc.StatusCode | None = None


class RetryingUnaryUnary(grpc.aio.UnaryUnaryClientInterceptor):
    """Outermost interceptor of a channel: request id, default deadline, retries.

    A deadline the caller gives (`timeout=`) bounds all tries together; without one each try gets
    `default_timeout` seconds (None: no deadline).
    """

    def __init__(self, policy: RetryPolicy, default_timeout: float | None, stats: RetryStats) -> None:
        self.policy = policy
        self.default_timeout = default_timeout
        self.stats = stats

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        request = with_request_id(request)
        loop = asyncio.get_running_loop()
        deadline = None if details.timeout is None else loop.time() + details.timeout
        failures = 0
        while True:
            timeout = self.default_timeout if deadline is None else max(deadline - loop.time(), 0.001)
            call = None
            try:
                call = await continuation(details._replace(timeout=timeout), request)
                await call
                return call
            except grpc.aio.AioRpcError as err:
                failures += 1
                final = err.code() not in self.policy.codes or failures >= self.policy.attempts
                delay = self.policy.backoff(failures)
                if final or (deadline is not None and loop.time() + delay >= deadline):
                    if call is not None:
                        return call  # awaiting it again raises the same error for the caller
                    raise
                self.stats.retries += 1
                self.stats.last_error = err.code()
            await asyncio.sleep(delay)
