import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_PENDING: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]

class JobOperation(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_OPERATION_UNSPECIFIED: _ClassVar[JobOperation]
    JOB_OPERATION_PARSE: _ClassVar[JobOperation]
    JOB_OPERATION_EXTRACT: _ClassVar[JobOperation]
    JOB_OPERATION_VECTOR_STORE: _ClassVar[JobOperation]
    JOB_OPERATION_CHUNK: _ClassVar[JobOperation]
    JOB_OPERATION_UPSERT: _ClassVar[JobOperation]
    JOB_OPERATION_FILE_BATCH: _ClassVar[JobOperation]
    JOB_OPERATION_PURGE_FILES: _ClassVar[JobOperation]

class StepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STEP_STATUS_UNSPECIFIED: _ClassVar[StepStatus]
    STEP_STATUS_STARTED: _ClassVar[StepStatus]
    STEP_STATUS_PROGRESS: _ClassVar[StepStatus]
    STEP_STATUS_SUCCEEDED: _ClassVar[StepStatus]
    STEP_STATUS_FAILED: _ClassVar[StepStatus]
    STEP_STATUS_CANCELLED: _ClassVar[StepStatus]
    STEP_STATUS_SKIPPED: _ClassVar[StepStatus]
    STEP_STATUS_INFO: _ClassVar[StepStatus]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_PENDING: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus
JOB_OPERATION_UNSPECIFIED: JobOperation
JOB_OPERATION_PARSE: JobOperation
JOB_OPERATION_EXTRACT: JobOperation
JOB_OPERATION_VECTOR_STORE: JobOperation
JOB_OPERATION_CHUNK: JobOperation
JOB_OPERATION_UPSERT: JobOperation
JOB_OPERATION_FILE_BATCH: JobOperation
JOB_OPERATION_PURGE_FILES: JobOperation
STEP_STATUS_UNSPECIFIED: StepStatus
STEP_STATUS_STARTED: StepStatus
STEP_STATUS_PROGRESS: StepStatus
STEP_STATUS_SUCCEEDED: StepStatus
STEP_STATUS_FAILED: StepStatus
STEP_STATUS_CANCELLED: StepStatus
STEP_STATUS_SKIPPED: StepStatus
STEP_STATUS_INFO: StepStatus

class JobError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class JobHistoryEvent(_message.Message):
    __slots__ = ("sequence", "step", "timestamp", "duration_ms", "status", "details", "job_status")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    STEP_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    JOB_STATUS_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    step: str
    timestamp: _timestamp_pb2.Timestamp
    duration_ms: int
    status: StepStatus
    details: _struct_pb2.Struct
    job_status: JobStatus
    def __init__(self, sequence: _Optional[int] = ..., step: _Optional[str] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., status: _Optional[_Union[StepStatus, str]] = ..., details: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., job_status: _Optional[_Union[JobStatus, str]] = ...) -> None: ...

class Job(_message.Message):
    __slots__ = ("id", "project_id", "operation", "status", "created_at", "started_at", "completed_at", "object", "source_id", "correlation_id", "result", "error", "history", "latest_sequence", "updated_at", "attempt", "on_behalf_of")
    ID_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    HISTORY_FIELD_NUMBER: _ClassVar[int]
    LATEST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    id: str
    project_id: str
    operation: JobOperation
    status: JobStatus
    created_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    object: str
    source_id: str
    correlation_id: str
    result: _struct_pb2.Struct
    error: JobError
    history: _containers.RepeatedCompositeFieldContainer[JobHistoryEvent]
    latest_sequence: int
    updated_at: _timestamp_pb2.Timestamp
    attempt: int
    on_behalf_of: str
    def __init__(self, id: _Optional[str] = ..., project_id: _Optional[str] = ..., operation: _Optional[_Union[JobOperation, str]] = ..., status: _Optional[_Union[JobStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., object: _Optional[str] = ..., source_id: _Optional[str] = ..., correlation_id: _Optional[str] = ..., result: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., error: _Optional[_Union[JobError, _Mapping]] = ..., history: _Optional[_Iterable[_Union[JobHistoryEvent, _Mapping]]] = ..., latest_sequence: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempt: _Optional[int] = ..., on_behalf_of: _Optional[str] = ...) -> None: ...
