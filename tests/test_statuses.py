"""The status words of vecflow.statuses are exactly the words of their proto enums (the API maps them by name)."""

from __future__ import annotations

import pytest
from vecflow import statuses
from vecflow_client.v1 import (
    job_pb2,
    knowledge_base_service_pb2,
    upsertion_task_service_pb2,
    vector_store_service_pb2,
    webhook_service_pb2,
)

PAIRS = [
    (statuses.JobStatus, job_pb2.JobStatus, "JOB_STATUS_"),
    (statuses.StepStatus, job_pb2.StepStatus, "STEP_STATUS_"),
    (statuses.ParseState, knowledge_base_service_pb2.ParseState, "PARSE_STATE_"),
    (statuses.VectorStoreStatus, vector_store_service_pb2.VectorStoreStatus, "VECTOR_STORE_STATUS_"),
    (statuses.VectorStoreFileStatus, vector_store_service_pb2.VectorStoreFileStatus, "VECTOR_STORE_FILE_STATUS_"),
    (statuses.FileBatchStatus, vector_store_service_pb2.FileBatchStatus, "FILE_BATCH_STATUS_"),
    (statuses.UpsertionTaskStatus, upsertion_task_service_pb2.UpsertionTaskStatus, "UPSERTION_TASK_STATUS_"),
    (statuses.WebhookDeliveryStatus, webhook_service_pb2.WebhookDeliveryStatus, "WEBHOOK_DELIVERY_STATUS_"),
]


@pytest.mark.parametrize(("ours", "proto", "prefix"), PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_status_words_match_the_proto_enum(ours: type, proto: object, prefix: str) -> None:
    declared = {name.removeprefix(prefix).lower() for name, number in proto.items() if number}  # type: ignore[attr-defined]
    assert {member.value for member in ours} == declared  # type: ignore[attr-defined]


def test_terminal_statuses() -> None:
    assert {s for s in statuses.JobStatus if s.terminal} == {"succeeded", "failed", "cancelled"}
    assert statuses.TASK_TERMINAL == {"done", "failed", "canceled"}
