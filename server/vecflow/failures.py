"""The base of every failure that carries a documented UPPER_SNAKE code and a message a person can act on.

Jobs end with one (vecflow.jobs.errors.JobFailed); the pipeline raises its own (EmbeddingError) without
knowing about jobs; the job engine records any of them as the job's `error`.
"""

from __future__ import annotations


class CodedFailure(Exception):
    """A failure with a documented `code`, a `message` and optional `details`."""

    def __init__(self, code: str, message: str, details: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
