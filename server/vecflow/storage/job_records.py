"""Immutable views of job history events, shared by the event log, the watch hub and the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from vecflow.statuses import JOB_TERMINAL
from vecflow.storage import models as m


@dataclass(frozen=True, eq=False)
class EventRecord:
    """One committed history event. Compared by identity; `cache` memoises its wire form."""

    job_id: str
    sequence: int
    step: str
    status: str
    job_status: str
    timestamp: datetime
    duration_ms: int
    details: dict[str, Any]
    cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def terminal(self) -> bool:
        return self.job_status in JOB_TERMINAL

    @classmethod
    def from_row(cls, row: m.JobEvent) -> EventRecord:
        return cls(
            job_id=row.job_id,
            sequence=row.sequence,
            step=row.step,
            status=row.status,
            job_status=row.job_status,
            timestamp=row.timestamp,
            duration_ms=row.duration_ms,
            details=dict(row.details or {}),
        )
