"""Job operations: one module per `JobOperation` of proto/vecflow/v1/job.proto, each exporting the handler that
runs it (a callable taking the job's `JobContext`, returning its result) and, where a job cancelled before it ran
must settle what it stands for, a `cancelled_unstarted(job)` hook.

The resource services (vecflow.services) validate requests and submit jobs; the handlers here do the work, with
the pipeline, the storage and the vector index. vecflow.app registers every handler, in one list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from vecflow.jobs.context import JobContext
from vecflow.storage import models as m


@dataclass(frozen=True)
class Operation:
    """A job operation's name (its `JobOperation` word), its handler and its cancelled-before-it-ran hook."""

    name: str
    handler: Callable[[JobContext], Awaitable[dict[str, Any]]]
    cancelled_unstarted: Callable[[m.Job], Awaitable[None]] | None = None
