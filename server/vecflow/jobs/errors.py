"""Exceptions a job handler raises (or the engine raises into it) to end a job or a step."""

from __future__ import annotations


class JobFailed(Exception):
    """End the job as failed with a documented UPPER_SNAKE `code` and a message a person can act on."""

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class JobCancelled(Exception):
    """Raised at a step or batch boundary after CancelJob; handlers clean up and let it propagate."""
