import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from vecflow_client.v1 import common_pb2 as _common_pb2
from vecflow_client.v1 import job_pb2 as _job_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ParseOptions(_message.Message):
    __slots__ = ("content_type", "ocr")
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OCR_FIELD_NUMBER: _ClassVar[int]
    content_type: str
    ocr: _common_pb2.OcrMode
    def __init__(self, content_type: _Optional[str] = ..., ocr: _Optional[_Union[_common_pb2.OcrMode, str]] = ...) -> None: ...

class ParseResult(_message.Message):
    __slots__ = ("id", "object", "file_id", "job_id", "content_type", "pages", "characters", "tokens", "text_preview", "parser", "created_at", "project_id", "ocr_pages")
    ID_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    CHARACTERS_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    TEXT_PREVIEW_FIELD_NUMBER: _ClassVar[int]
    PARSER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    OCR_PAGES_FIELD_NUMBER: _ClassVar[int]
    id: str
    object: str
    file_id: str
    job_id: str
    content_type: str
    pages: int
    characters: int
    tokens: int
    text_preview: str
    parser: str
    created_at: _timestamp_pb2.Timestamp
    project_id: str
    ocr_pages: int
    def __init__(self, id: _Optional[str] = ..., object: _Optional[str] = ..., file_id: _Optional[str] = ..., job_id: _Optional[str] = ..., content_type: _Optional[str] = ..., pages: _Optional[int] = ..., characters: _Optional[int] = ..., tokens: _Optional[int] = ..., text_preview: _Optional[str] = ..., parser: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., project_id: _Optional[str] = ..., ocr_pages: _Optional[int] = ...) -> None: ...

class ParseFileRequest(_message.Message):
    __slots__ = ("file_id", "options", "request_id")
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    file_id: str
    options: ParseOptions
    request_id: str
    def __init__(self, file_id: _Optional[str] = ..., options: _Optional[_Union[ParseOptions, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ParseFileResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class GetParseResultRequest(_message.Message):
    __slots__ = ("parse_result_id",)
    PARSE_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    parse_result_id: str
    def __init__(self, parse_result_id: _Optional[str] = ...) -> None: ...

class GetParseResultResponse(_message.Message):
    __slots__ = ("parse_result",)
    PARSE_RESULT_FIELD_NUMBER: _ClassVar[int]
    parse_result: ParseResult
    def __init__(self, parse_result: _Optional[_Union[ParseResult, _Mapping]] = ...) -> None: ...

class ExtractParseResultRequest(_message.Message):
    __slots__ = ("parse_result_id", "request_id")
    PARSE_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parse_result_id: str
    request_id: str
    def __init__(self, parse_result_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExtractParseResultResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...

class ChunkParseResultRequest(_message.Message):
    __slots__ = ("parse_result_id", "chunking_strategy", "preview_chunks", "request_id")
    PARSE_RESULT_ID_FIELD_NUMBER: _ClassVar[int]
    CHUNKING_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_CHUNKS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parse_result_id: str
    chunking_strategy: _common_pb2.ChunkingStrategy
    preview_chunks: int
    request_id: str
    def __init__(self, parse_result_id: _Optional[str] = ..., chunking_strategy: _Optional[_Union[_common_pb2.ChunkingStrategy, _Mapping]] = ..., preview_chunks: _Optional[int] = ..., request_id: _Optional[str] = ...) -> None: ...

class ChunkParseResultResponse(_message.Message):
    __slots__ = ("job",)
    JOB_FIELD_NUMBER: _ClassVar[int]
    job: _job_pb2.Job
    def __init__(self, job: _Optional[_Union[_job_pb2.Job, _Mapping]] = ...) -> None: ...
