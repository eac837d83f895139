import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vecflow_client.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Collection(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLLECTION_UNSPECIFIED: _ClassVar[Collection]
    COLLECTION_DEFAULT: _ClassVar[Collection]
    COLLECTION_CATEGORIES: _ClassVar[Collection]

class UpsertionTaskStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPSERTION_TASK_STATUS_UNSPECIFIED: _ClassVar[UpsertionTaskStatus]
    UPSERTION_TASK_STATUS_PENDING: _ClassVar[UpsertionTaskStatus]
    UPSERTION_TASK_STATUS_PROCESSING: _ClassVar[UpsertionTaskStatus]
    UPSERTION_TASK_STATUS_DONE: _ClassVar[UpsertionTaskStatus]
    UPSERTION_TASK_STATUS_FAILED: _ClassVar[UpsertionTaskStatus]
    UPSERTION_TASK_STATUS_CANCELED: _ClassVar[UpsertionTaskStatus]
COLLECTION_UNSPECIFIED: Collection
COLLECTION_DEFAULT: Collection
COLLECTION_CATEGORIES: Collection
UPSERTION_TASK_STATUS_UNSPECIFIED: UpsertionTaskStatus
UPSERTION_TASK_STATUS_PENDING: UpsertionTaskStatus
UPSERTION_TASK_STATUS_PROCESSING: UpsertionTaskStatus
UPSERTION_TASK_STATUS_DONE: UpsertionTaskStatus
UPSERTION_TASK_STATUS_FAILED: UpsertionTaskStatus
UPSERTION_TASK_STATUS_CANCELED: UpsertionTaskStatus

class UpsertionItem(_message.Message):
    __slots__ = ("object_id", "payload", "item_info")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    ITEM_INFO_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    payload: _struct_pb2.Struct
    item_info: _struct_pb2.Struct
    def __init__(self, object_id: _Optional[str] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., item_info: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class FailedItem(_message.Message):
    __slots__ = ("object_id", "reason", "code")
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    object_id: str
    reason: str
    code: str
    def __init__(self, object_id: _Optional[str] = ..., reason: _Optional[str] = ..., code: _Optional[str] = ...) -> None: ...

class UpsertionTask(_message.Message):
    __slots__ = ("id", "object", "project_id", "status", "collection", "created_at", "updated_at", "failed_items", "job_id", "total_items", "upserted_items", "text_field", "keyword_analyzer")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ITEMS_FIELD_NUMBER: _ClassVar[int]
    UPSERTED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_ANALYZER_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    project_id: str
    status: UpsertionTaskStatus
    collection: Collection
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    failed_items: _containers.RepeatedCompositeFieldContainer[FailedItem]
    job_id: str
    total_items: int
    upserted_items: int
    text_field: str
    keyword_analyzer: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., project_id: _Optional[str] = ..., status: _Optional[_Union[UpsertionTaskStatus, str]] = ..., collection: _Optional[_Union[Collection, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_items: _Optional[_Iterable[_Union[FailedItem, _Mapping]]] = ..., job_id: _Optional[str] = ..., total_items: _Optional[int] = ..., upserted_items: _Optional[int] = ..., text_field: _Optional[str] = ..., keyword_analyzer: _Optional[str] = ...) -> None: ...

class CreateUpsertionTaskRequest(_message.Message):
    __slots__ = ("task_id", "items", "collection", "text_field", "request_id", "keyword_analyzer")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_ANALYZER_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    items: _containers.RepeatedCompositeFieldContainer[UpsertionItem]
    collection: Collection
    text_field: str
    request_id: str
    keyword_analyzer: str
    def __init__(self, task_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[UpsertionItem, _Mapping]]] = ..., collection: _Optional[_Union[Collection, str]] = ..., text_field: _Optional[str] = ..., request_id: _Optional[str] = ..., keyword_analyzer: _Optional[str] = ...) -> None: ...

class CreateUpsertionTaskResponse(_message.Message):
    __slots__ = ("upsertion_task", "created")
    UPSERTION_TASK_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    upsertion_task: UpsertionTask
    created: bool
    def __init__(self, upsertion_task: _Optional[_Union[UpsertionTask, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class GetUpsertionTaskRequest(_message.Message):
    __slots__ = ("task_id",)
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    def __init__(self, task_id: _Optional[str] = ...) -> None: ...

class GetUpsertionTaskResponse(_message.Message):
    __slots__ = ("upsertion_task",)
    UPSERTION_TASK_FIELD_NUMBER: _ClassVar[int]
    upsertion_task: UpsertionTask
    def __init__(self, upsertion_task: _Optional[_Union[UpsertionTask, _Mapping]] = ...) -> None: ...

class ListUpsertionTasksRequest(_message.Message):
    __slots__ = ("offset", "limit", "status", "page_size", "page_token")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    offset: int
    limit: int
    status: UpsertionTaskStatus
    page_size: int
    page_token: str
    def __init__(self, offset: _Optional[int] = ..., limit: _Optional[int] = ..., status: _Optional[_Union[UpsertionTaskStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListUpsertionTasksResponse(_message.Message):
    __slots__ = ("upsertion_tasks", "total", "next_page_token")
    UPSERTION_TASKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    upsertion_tasks: _containers.RepeatedCompositeFieldContainer[UpsertionTask]
    total: int
    next_page_token: str
    def __init__(self, upsertion_tasks: _Optional[_Iterable[_Union[UpsertionTask, _Mapping]]] = ..., total: _Optional[int] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RestartUpsertionTaskRequest(_message.Message):
    __slots__ = ("task_id", "request_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request_id: str
    def __init__(self, task_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class RestartUpsertionTaskResponse(_message.Message):
    __slots__ = ("upsertion_task",)
    UPSERTION_TASK_FIELD_NUMBER: _ClassVar[int]
    upsertion_task: UpsertionTask
    def __init__(self, upsertion_task: _Optional[_Union[UpsertionTask, _Mapping]] = ...) -> None: ...

class CancelUpsertionTaskRequest(_message.Message):
    __slots__ = ("task_id", "request_id")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    request_id: str
    def __init__(self, task_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CancelUpsertionTaskResponse(_message.Message):
    __slots__ = ("upsertion_task",)
    UPSERTION_TASK_FIELD_NUMBER: _ClassVar[int]
    upsertion_task: UpsertionTask
    def __init__(self, upsertion_task: _Optional[_Union[UpsertionTask, _Mapping]] = ...) -> None: ...

class SearchCollectionRequest(_message.Message):
    __slots__ = ("collection", "query", "max_num_results", "filter", "ranking_options")
    COLLECTION_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    collection: Collection
    query: str
    max_num_results: int
    filter: str
    ranking_options: _common_pb2.RankingOptions
    def __init__(self, collection: _Optional[_Union[Collection, str]] = ..., query: _Optional[str] = ..., max_num_results: _Optional[int] = ..., filter: _Optional[str] = ..., ranking_options: _Optional[_Union[_common_pb2.RankingOptions, _Mapping]] = ...) -> None: ...

class SearchCollectionResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_common_pb2.SearchHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[_common_pb2.SearchHit, _Mapping]]] = ...) -> None: ...
