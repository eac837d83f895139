"""The statuses of every resource, as the words stored in the database (`JOB_STATUS_SUCCEEDED` ↔ "succeeded").

Each is a StrEnum, so a member is its word (it compares equal to the string, and is stored as it); the API layer
maps them to the proto enums by name (vecflow.api.convert.EnumWords), and tests/test_layout.py checks that each
enum here has exactly the words of its proto enum.

Spelling: upsertion tasks say "canceled" (`UPSERTION_TASK_STATUS_CANCELED`), everything else "cancelled". The two
spellings are in the published contract (the upsertion-task API follows the hosted API it mirrors); proto enum
names and values are wire-visible in JSON and in generated code, so neither is renamed.
"""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in JOB_TERMINAL


JOB_TERMINAL = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class StepStatus(StrEnum):
    STARTED = "started"
    PROGRESS = "progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    INFO = "info"


class ParseState(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILED = "failed"
    SKIPPED = "skipped"


class VectorStoreStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    EXPIRED = "expired"


class VectorStoreFileStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class FileBatchStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"


class UpsertionTaskStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"  # sic: the upsertion-task contract's spelling (see the module docstring)


TASK_TERMINAL = frozenset({UpsertionTaskStatus.DONE, UpsertionTaskStatus.FAILED, UpsertionTaskStatus.CANCELED})


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
