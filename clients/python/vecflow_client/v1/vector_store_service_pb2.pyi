import datetime

from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vecflow_client.v1 import common_pb2 as _common_pb2
from vecflow_client.v1 import job_pb2 as _job_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class VectorStoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VECTOR_STORE_STATUS_UNSPECIFIED: _ClassVar[VectorStoreStatus]
    VECTOR_STORE_STATUS_IN_PROGRESS: _ClassVar[VectorStoreStatus]
    VECTOR_STORE_STATUS_COMPLETED: _ClassVar[VectorStoreStatus]
    VECTOR_STORE_STATUS_EXPIRED: _ClassVar[VectorStoreStatus]

class VectorStoreFileStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    VECTOR_STORE_FILE_STATUS_UNSPECIFIED: _ClassVar[VectorStoreFileStatus]
    VECTOR_STORE_FILE_STATUS_IN_PROGRESS: _ClassVar[VectorStoreFileStatus]
    VECTOR_STORE_FILE_STATUS_COMPLETED: _ClassVar[VectorStoreFileStatus]
    VECTOR_STORE_FILE_STATUS_FAILED: _ClassVar[VectorStoreFileStatus]
    VECTOR_STORE_FILE_STATUS_CANCELLED: _ClassVar[VectorStoreFileStatus]

class FileBatchStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FILE_BATCH_STATUS_UNSPECIFIED: _ClassVar[FileBatchStatus]
    FILE_BATCH_STATUS_IN_PROGRESS: _ClassVar[FileBatchStatus]
    FILE_BATCH_STATUS_COMPLETED: _ClassVar[FileBatchStatus]
    FILE_BATCH_STATUS_CANCELLED: _ClassVar[FileBatchStatus]
    FILE_BATCH_STATUS_FAILED: _ClassVar[FileBatchStatus]
VECTOR_STORE_STATUS_UNSPECIFIED: VectorStoreStatus
VECTOR_STORE_STATUS_IN_PROGRESS: VectorStoreStatus
VECTOR_STORE_STATUS_COMPLETED: VectorStoreStatus
VECTOR_STORE_STATUS_EXPIRED: VectorStoreStatus
VECTOR_STORE_FILE_STATUS_UNSPECIFIED: VectorStoreFileStatus
VECTOR_STORE_FILE_STATUS_IN_PROGRESS: VectorStoreFileStatus
VECTOR_STORE_FILE_STATUS_COMPLETED: VectorStoreFileStatus
VECTOR_STORE_FILE_STATUS_FAILED: VectorStoreFileStatus
VECTOR_STORE_FILE_STATUS_CANCELLED: VectorStoreFileStatus
FILE_BATCH_STATUS_UNSPECIFIED: FileBatchStatus
FILE_BATCH_STATUS_IN_PROGRESS: FileBatchStatus
FILE_BATCH_STATUS_COMPLETED: FileBatchStatus
FILE_BATCH_STATUS_CANCELLED: FileBatchStatus
FILE_BATCH_STATUS_FAILED: FileBatchStatus

class ExpiresAfter(_message.Message):
    __slots__ = ("days",)
    DAYS_FIELD_NUMBER: _ClassVar[int]
    days: int
    def __init__(self, days: _Optional[int] = ...) -> None: ...

class FileCounts(_message.Message):
    __slots__ = ("in_progress", "completed", "failed", "cancelled", "total")
    IN_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    in_progress: int
    completed: int
    failed: int
    cancelled: int
    total: int
    def __init__(self, in_progress: _Optional[int] = ..., completed: _Optional[int] = ..., failed: _Optional[int] = ..., cancelled: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...

class VectorStore(_message.Message):
    __slots__ = ("id", "object", "project_id", "name", "metadata", "chunking_strategy", "expires_after", "expires_at", "last_active_at", "created_at", "updated_at", "status", "file_counts", "usage_bytes", "embedding_model", "on_behalf_of", "keyword_analyzer")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVE_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_MODEL_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_ANALYZER_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    project_id: str
    name: str
    metadata: _struct_pb2.Struct
    chunking_strategy: _common_pb2.ChunkingStrategy
    expires_after: ExpiresAfter
    expires_at: _timestamp_pb2.Timestamp
    last_active_at: _timestamp_pb2.Timestamp
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    status: VectorStoreStatus
    file_counts: FileCounts
    usage_bytes: int
    embedding_model: str
    on_behalf_of: str
    keyword_analyzer: str
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_common_pb2.ChunkingStrategy, _Mapping]] = ..., expires_after: _Optional[_Union[ExpiresAfter, _Mapping]] = ..., expires_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_active_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[VectorStoreStatus, str]] = ..., file_counts: _Optional[_Union[FileCounts, _Mapping]] = ..., usage_bytes: _Optional[int] = ..., embedding_model: _Optional[str] = ..., on_behalf_of: _Optional[str] = ..., keyword_analyzer: _Optional[str] = ...) -> None: ...

class VectorStoreFile(_message.Message):
    __slots__ = ("file_id", "object", "vector_store_id", "parse_result_id", "status", "last_error", "usage_bytes", "chunk_count", "attributes", "created_at", "updated_at", "batch_id")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PARSE_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    USAGE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CHUNK_COUNT_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    object: str
    vector_store_id: str
    parse_result_id: str
    status: VectorStoreFileStatus
    last_error: _common_pb2.ErrorSummary
    usage_bytes: int
    chunk_count: int
    attributes: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    batch_id: str
    def __init__(self, file_id: _Optional[str] = ..., object: _Optional[str] = ..., vector_store_id: _Optional[str] = ..., parse_result_id: _Optional[str] = ..., status: _Optional[_Union[VectorStoreFileStatus, str]] = ..., last_error: _Optional[_Union[_common_pb2.ErrorSummary, _Mapping]] = ..., usage_bytes: _Optional[int] = ..., chunk_count: _Optional[int] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., batch_id: _Optional[str] = ...) -> None: ...

class FileBatch(_message.Message):
    __slots__ = ("id", "object", "created_at", "vector_store_id", "status", "file_counts", "job_id", "completed_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    FILE_COUNTS_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    created_at: _timestamp_pb2.Timestamp
    vector_store_id: str
    status: FileBatchStatus
    file_counts: FileCounts
    job_id: str
    completed_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., vector_store_id: _Optional[str] = ..., status: _Optional[_Union[FileBatchStatus, str]] = ..., file_counts: _Optional[_Union[FileCounts, _Mapping]] = ..., job_id: _Optional[str] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateVectorStoreRequest(_message.Message):
    __slots__ = ("name", "metadata", "chunking_strategy", "expires_after", "request_id", "keyword_analyzer")
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_ANALYZER_FIELD_NUMBER: _ClassVar[int]
    name: str
    metadata: _struct_pb2.Struct
    chunking_strategy: _common_pb2.ChunkingStrategy
    expires_after: ExpiresAfter
    request_id: str
    keyword_analyzer: str
    def __init__(self, name: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., chunking_strategy: _Optional[_Union[_common_pb2.ChunkingStrategy, _Mapping]] = ..., expires_after: _Optional[_Union[ExpiresAfter, _Mapping]] = ..., request_id: _Optional[str] = ..., keyword_analyzer: _Optional[str] = ...) -> None: ...

class CreateVectorStoreResponse(_message.Message):
    __slots__ = ("vector_store",)
    VECTOR_STORE_FIELD_NUMBER: _ClassVar[int]
    vector_store: VectorStore
    def __init__(self, vector_store: _Optional[_Union[VectorStore, _Mapping]] = ...) -> None: ...

class GetVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id",)
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    def __init__(self, vector_store_id: _Optional[str] = ...) -> None: ...

class GetVectorStoreResponse(_message.Message):
    __slots__ = ("vector_store",)
    VECTOR_STORE_FIELD_NUMBER: _ClassVar[int]
    vector_store: VectorStore
    def __init__(self, vector_store: _Optional[_Union[VectorStore, _Mapping]] = ...) -> None: ...

class ListVectorStoresRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVectorStoresResponse(_message.Message):
    __slots__ = ("vector_stores", "next_page_token")
    VECTOR_STORES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vector_stores: _containers.RepeatedCompositeFieldContainer[VectorStore]
    next_page_token: str
    def __init__(self, vector_stores: _Optional[_Iterable[_Union[VectorStore, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "name", "metadata", "expires_after", "update_mask", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AFTER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    name: str
    metadata: _struct_pb2.Struct
    expires_after: ExpiresAfter
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., name: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., expires_after: _Optional[_Union[ExpiresAfter, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateVectorStoreResponse(_message.Message):
    __slots__ = ("vector_store",)
    VECTOR_STORE_FIELD_NUMBER: _ClassVar[int]
    vector_store: VectorStore
    def __init__(self, vector_store: _Optional[_Union[VectorStore, _Mapping]] = ...) -> None: ...

class DeleteVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteVectorStoreResponse(_message.Message):
    __slots__ = ("vector_store_id",)
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    def __init__(self, vector_store_id: _Optional[str] = ...) -> None: ...

class AddFilesToVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "parse_result_ids", "file_ids", "attributes", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PARSE_RESULT_IDS_FIELD_NUMBER: _ClassVar[int]
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    parse_result_ids: _containers.RepeatedScalarFieldContainer[str]
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    attributes: _struct_pb2.Struct
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., parse_result_ids: _Optional[_Iterable[str]] = ..., file_ids: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddFilesToVectorStoreResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class ListVectorStoreFilesRequest(_message.Message):
    __slots__ = ("vector_store_id", "status", "page_size", "page_token")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    status: VectorStoreFileStatus
    page_size: int
    page_token: str
    def __init__(self, vector_store_id: _Optional[str] = ..., status: _Optional[_Union[VectorStoreFileStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListVectorStoreFilesResponse(_message.Message):
    __slots__ = ("files", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[VectorStoreFile]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[VectorStoreFile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ...) -> None: ...

class GetVectorStoreFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: VectorStoreFile
    def __init__(self, file: _Optional[_Union[VectorStoreFile, _Mapping]] = ...) -> None: ...

class UpdateVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "attributes", "update_mask", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    attributes: _struct_pb2.Struct
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class UpdateVectorStoreFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: VectorStoreFile
    def __init__(self, file: _Optional[_Union[VectorStoreFile, _Mapping]] = ...) -> None: ...

class DeleteVectorStoreFileRequest(_message.Message):
    __slots__ = ("vector_store_id", "file_id", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    file_id: str
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., file_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteVectorStoreFileResponse(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class CreateFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "parse_result_ids", "file_ids", "attributes", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    PARSE_RESULT_IDS_FIELD_NUMBER: _ClassVar[int]
    FILE_IDS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    parse_result_ids: _containers.RepeatedScalarFieldContainer[str]
    file_ids: _containers.RepeatedScalarFieldContainer[str]
    attributes: _struct_pb2.Struct
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., parse_result_ids: _Optional[_Iterable[str]] = ..., file_ids: _Optional[_Iterable[str]] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateFileBatchResponse(_message.Message):
    __slots__ = ("file_batch",)
    FILE_BATCH_FIELD_NUMBER: _ClassVar[int]
    file_batch: FileBatch
    def __init__(self, file_batch: _Optional[_Union[FileBatch, _Mapping]] = ...) -> None: ...

class GetFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ...) -> None: ...

class GetFileBatchResponse(_message.Message):
    __slots__ = ("file_batch",)
    FILE_BATCH_FIELD_NUMBER: _ClassVar[int]
    file_batch: FileBatch
    def __init__(self, file_batch: _Optional[_Union[FileBatch, _Mapping]] = ...) -> None: ...

class CancelFileBatchRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id", "request_id")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    request_id: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CancelFileBatchResponse(_message.Message):
    __slots__ = ("file_batch",)
    FILE_BATCH_FIELD_NUMBER: _ClassVar[int]
    file_batch: FileBatch
    def __init__(self, file_batch: _Optional[_Union[FileBatch, _Mapping]] = ...) -> None: ...

class ListFileBatchFilesRequest(_message.Message):
    __slots__ = ("vector_store_id", "batch_id", "status", "page_size", "page_token")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    batch_id: str
    status: VectorStoreFileStatus
    page_size: int
    page_token: str
    def __init__(self, vector_store_id: _Optional[str] = ..., batch_id: _Optional[str] = ..., status: _Optional[_Union[VectorStoreFileStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFileBatchFilesResponse(_message.Message):
    __slots__ = ("files", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[VectorStoreFile]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[VectorStoreFile, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SearchVectorStoreRequest(_message.Message):
    __slots__ = ("vector_store_id", "query", "max_num_results", "filter", "ranking_options")
    VECTOR_STORE_ID_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    MAX_NUM_RESULTS_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    RANKING_OPTIONS_FIELD_NUMBER: _ClassVar[int]
    vector_store_id: str
    query: str
    max_num_results: int
    filter: str
    ranking_options: _common_pb2.RankingOptions
    def __init__(self, vector_store_id: _Optional[str] = ..., query: _Optional[str] = ..., max_num_results: _Optional[int] = ..., filter: _Optional[str] = ..., ranking_options: _Optional[_Union[_common_pb2.RankingOptions, _Mapping]] = ...) -> None: ...

class SearchVectorStoreResponse(_message.Message):
    __slots__ = ("hits",)
    HITS_FIELD_NUMBER: _ClassVar[int]
    hits: _containers.RepeatedCompositeFieldContainer[_common_pb2.SearchHit]
    def __init__(self, hits: _Optional[_Iterable[_Union[_common_pb2.SearchHit, _Mapping]]] = ...) -> None: ...
