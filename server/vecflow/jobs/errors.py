"""Exceptions a job handler raises (or the engine raises into it) to end a job or a step."""

from __future__ import annotations

from vecflow.failures import CodedFailure


class JobFailed(CodedFailure):
    """End the job as failed with a documented UPPER_SNAKE `code` and a message a person can act on. (The engine
    records any CodedFailure the same way: a pipeline error that reaches it ends the job with its code.)"""


class JobCancelled(Exception):
    """Raised at a step or batch boundary after CancelJob; handlers clean up and let it propagate."""
