import datetime

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

class ParseState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARSE_STATE_UNSPECIFIED: _ClassVar[ParseState]
    PARSE_STATE_PENDING: _ClassVar[ParseState]
    PARSE_STATE_SUCCESS: _ClassVar[ParseState]
    PARSE_STATE_FAILED: _ClassVar[ParseState]
    PARSE_STATE_SKIPPED: _ClassVar[ParseState]

class IfExists(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IF_EXISTS_UNSPECIFIED: _ClassVar[IfExists]
    IF_EXISTS_FAIL: _ClassVar[IfExists]
    IF_EXISTS_REPLACE: _ClassVar[IfExists]

class UploadOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    UPLOAD_OUTCOME_UNSPECIFIED: _ClassVar[UploadOutcome]
    UPLOAD_OUTCOME_CREATED: _ClassVar[UploadOutcome]
    UPLOAD_OUTCOME_REPLACED: _ClassVar[UploadOutcome]
    UPLOAD_OUTCOME_UNCHANGED: _ClassVar[UploadOutcome]
PARSE_STATE_UNSPECIFIED: ParseState
PARSE_STATE_PENDING: ParseState
PARSE_STATE_SUCCESS: ParseState
PARSE_STATE_FAILED: ParseState
PARSE_STATE_SKIPPED: ParseState
IF_EXISTS_UNSPECIFIED: IfExists
IF_EXISTS_FAIL: IfExists
IF_EXISTS_REPLACE: IfExists
UPLOAD_OUTCOME_UNSPECIFIED: UploadOutcome
UPLOAD_OUTCOME_CREATED: UploadOutcome
UPLOAD_OUTCOME_REPLACED: UploadOutcome
UPLOAD_OUTCOME_UNCHANGED: UploadOutcome

class KnowledgeBase(_message.Message):
    __slots__ = ("id", "object", "project_id", "name", "description", "metadata", "auto_parse", "created_at", "updated_at", "on_behalf_of", "ocr")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AUTO_PARSE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    OCR_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    project_id: str
    name: str
    description: str
    metadata: _struct_pb2.Struct
    auto_parse: bool
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    on_behalf_of: str
    ocr: _common_pb2.OcrMode
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., project_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., auto_parse: _Optional[bool] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., on_behalf_of: _Optional[str] = ..., ocr: _Optional[_Union[_common_pb2.OcrMode, str]] = ...) -> None: ...

class File(_message.Message):
    __slots__ = ("id", "object", "uid", "kb_id", "name", "directory", "content_type", "content_length", "metadata", "url", "parse_state", "created_at", "updated_at", "parse_job_id", "parse_result_id", "parse_error", "project_id", "on_behalf_of", "parse_skipped_reason", "ocr")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    UID_FIELD_NUMBER: _ClassVar[int]
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_LENGTH_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    PARSE_STATE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    PARSE_JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PARSE_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    PARSE_ERROR_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ON_BEHALF_OF_FIELD_NUMBER: _ClassVar[int]
    PARSE_SKIPPED_REASON_FIELD_NUMBER: _ClassVar[int]
    OCR_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    uid: str
    kb_id: str
    name: str
    directory: str
    content_type: str
    content_length: int
    metadata: _struct_pb2.Struct
    url: str
    parse_state: ParseState
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    parse_job_id: str
    parse_result_id: str
    parse_error: _common_pb2.ErrorSummary
    project_id: str
    on_behalf_of: str
    parse_skipped_reason: _common_pb2.ErrorSummary
    ocr: _common_pb2.OcrMode
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., uid: _Optional[str] = ..., kb_id: _Optional[str] = ..., name: _Optional[str] = ..., directory: _Optional[str] = ..., content_type: _Optional[str] = ..., content_length: _Optional[int] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., url: _Optional[str] = ..., parse_state: _Optional[_Union[ParseState, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., parse_job_id: _Optional[str] = ..., parse_result_id: _Optional[str] = ..., parse_error: _Optional[_Union[_common_pb2.ErrorSummary, _Mapping]] = ..., project_id: _Optional[str] = ..., on_behalf_of: _Optional[str] = ..., parse_skipped_reason: _Optional[_Union[_common_pb2.ErrorSummary, _Mapping]] = ..., ocr: _Optional[_Union[_common_pb2.OcrMode, str]] = ...) -> None: ...

class Directory(_message.Message):
    __slots__ = ("id", "kb_id", "path", "name", "created_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    kb_id: str
    path: str
    name: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kb_id: _Optional[str] = ..., path: _Optional[str] = ..., name: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateKnowledgeBaseRequest(_message.Message):
    __slots__ = ("name", "description", "metadata", "auto_parse", "request_id", "ocr")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    AUTO_PARSE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OCR_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    metadata: _struct_pb2.Struct
    auto_parse: bool
    request_id: str
    ocr: _common_pb2.OcrMode
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., auto_parse: _Optional[bool] = ..., request_id: _Optional[str] = ..., ocr: _Optional[_Union[_common_pb2.OcrMode, str]] = ...) -> None: ...

class CreateKnowledgeBaseResponse(_message.Message):
    __slots__ = ("knowledge_base",)
    KNOWLEDGE_BASE_FIELD_NUMBER: _ClassVar[int]
    knowledge_base: KnowledgeBase
    def __init__(self, knowledge_base: _Optional[_Union[KnowledgeBase, _Mapping]] = ...) -> None: ...

class GetKnowledgeBaseRequest(_message.Message):
    __slots__ = ("kb_id",)
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    def __init__(self, kb_id: _Optional[str] = ...) -> None: ...

class GetKnowledgeBaseResponse(_message.Message):
    __slots__ = ("knowledge_base",)
    KNOWLEDGE_BASE_FIELD_NUMBER: _ClassVar[int]
    knowledge_base: KnowledgeBase
    def __init__(self, knowledge_base: _Optional[_Union[KnowledgeBase, _Mapping]] = ...) -> None: ...

class ListKnowledgeBasesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListKnowledgeBasesResponse(_message.Message):
    __slots__ = ("knowledge_bases", "next_page_token")
    KNOWLEDGE_BASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    knowledge_bases: _containers.RepeatedCompositeFieldContainer[KnowledgeBase]
    next_page_token: str
    def __init__(self, knowledge_bases: _Optional[_Iterable[_Union[KnowledgeBase, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteKnowledgeBaseRequest(_message.Message):
    __slots__ = ("kb_id", "request_id")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    request_id: str
    def __init__(self, kb_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteKnowledgeBaseResponse(_message.Message):
    __slots__ = ("kb_id",)
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    def __init__(self, kb_id: _Optional[str] = ...) -> None: ...

class UploadFileMetadata(_message.Message):
    __slots__ = ("kb_id", "name", "directory", "metadata", "parse", "url", "content_type", "sha256", "request_id", "if_exists", "ocr")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PARSE_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    IF_EXISTS_FIELD_NUMBER: _ClassVar[int]
    OCR_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    name: str
    directory: str
    metadata: _struct_pb2.Struct
    parse: bool
    url: str
    content_type: str
    sha256: str
    request_id: str
    if_exists: IfExists
    ocr: _common_pb2.OcrMode
    def __init__(self, kb_id: _Optional[str] = ..., name: _Optional[str] = ..., directory: _Optional[str] = ..., metadata: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., parse: _Optional[bool] = ..., url: _Optional[str] = ..., content_type: _Optional[str] = ..., sha256: _Optional[str] = ..., request_id: _Optional[str] = ..., if_exists: _Optional[_Union[IfExists, str]] = ..., ocr: _Optional[_Union[_common_pb2.OcrMode, str]] = ...) -> None: ...

class UploadFileRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: UploadFileMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[UploadFileMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadFileResponse(_message.Message):
    __slots__ = ("file", "parse_job", "outcome")
    FILE_FIELD_NUMBER: _ClassVar[int]
    PARSE_JOB_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    file: File
    parse_job: _job_pb2.Job
    outcome: UploadOutcome
    def __init__(self, file: _Optional[_Union[File, _Mapping]] = ..., parse_job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ..., outcome: _Optional[_Union[UploadOutcome, str]] = ...) -> None: ...

class GetFileRequest(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class GetFileResponse(_message.Message):
    __slots__ = ("file",)
    FILE_FIELD_NUMBER: _ClassVar[int]
    file: File
    def __init__(self, file: _Optional[_Union[File, _Mapping]] = ...) -> None: ...

class ListFilesRequest(_message.Message):
    __slots__ = ("kb_id", "directory", "recursive", "parse_state", "page_size", "page_token")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    PARSE_STATE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    directory: str
    recursive: bool
    parse_state: ParseState
    page_size: int
    page_token: str
    def __init__(self, kb_id: _Optional[str] = ..., directory: _Optional[str] = ..., recursive: _Optional[bool] = ..., parse_state: _Optional[_Union[ParseState, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListFilesResponse(_message.Message):
    __slots__ = ("files", "next_page_token")
    FILES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[File]
    next_page_token: str
    def __init__(self, files: _Optional[_Iterable[_Union[File, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteFileRequest(_message.Message):
    __slots__ = ("file_id", "request_id")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    request_id: str
    def __init__(self, file_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteFileResponse(_message.Message):
    __slots__ = ("file_id",)
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    def __init__(self, file_id: _Optional[str] = ...) -> None: ...

class CreateDirectoryRequest(_message.Message):
    __slots__ = ("kb_id", "path", "create_parents", "request_id")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    CREATE_PARENTS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    path: str
    create_parents: bool
    request_id: str
    def __init__(self, kb_id: _Optional[str] = ..., path: _Optional[str] = ..., create_parents: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateDirectoryResponse(_message.Message):
    __slots__ = ("directory",)
    DIRECTORY_FIELD_NUMBER: _ClassVar[int]
    directory: Directory
    def __init__(self, directory: _Optional[_Union[Directory, _Mapping]] = ...) -> None: ...

class ListDirectoriesRequest(_message.Message):
    __slots__ = ("kb_id", "parent", "page_size", "page_token")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    parent: str
    page_size: int
    page_token: str
    def __init__(self, kb_id: _Optional[str] = ..., parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDirectoriesResponse(_message.Message):
    __slots__ = ("directories", "next_page_token")
    DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    directories: _containers.RepeatedCompositeFieldContainer[Directory]
    next_page_token: str
    def __init__(self, directories: _Optional[_Iterable[_Union[Directory, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteDirectoryRequest(_message.Message):
    __slots__ = ("kb_id", "path", "recursive", "request_id")
    KB_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RECURSIVE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    kb_id: str
    path: str
    recursive: bool
    request_id: str
    def __init__(self, kb_id: _Optional[str] = ..., path: _Optional[str] = ..., recursive: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class DeleteDirectoryResponse(_message.Message):
    __slots__ = ("deleted_files", "deleted_directories")
    DELETED_FILES_FIELD_NUMBER: _ClassVar[int]
    DELETED_DIRECTORIES_FIELD_NUMBER: _ClassVar[int]
    deleted_files: int
    deleted_directories: int
    def __init__(self, deleted_files: _Optional[int] = ..., deleted_directories: _Optional[int] = ...) -> None: ...
