"""Job and step statuses by their short names, and the history event view (kept in storage), for the engine and API."""

from __future__ import annotations

from vecflow.statuses import JOB_TERMINAL, JobStatus, StepStatus
from vecflow.storage.job_records import EventRecord as EventRecord

# Job statuses (Job.status, JobHistoryEvent.job_status): the StrEnum members, by their short names here.
PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED = JobStatus
TERMINAL = JOB_TERMINAL

# Step statuses (JobHistoryEvent.status).
STARTED, PROGRESS, STEP_SUCCEEDED, STEP_FAILED, STEP_CANCELLED, SKIPPED, INFO = StepStatus
