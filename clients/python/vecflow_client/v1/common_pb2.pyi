from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ChunkingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CHUNKING_MODE_UNSPECIFIED: _ClassVar[ChunkingMode]
    CHUNKING_MODE_TOKEN_WINDOW: _ClassVar[ChunkingMode]
    CHUNKING_MODE_SECTION: _ClassVar[ChunkingMode]

class RankingMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RANKING_MODE_UNSPECIFIED: _ClassVar[RankingMode]
    RANKING_MODE_DENSE: _ClassVar[RankingMode]
    RANKING_MODE_KEYWORD: _ClassVar[RankingMode]
    RANKING_MODE_HYBRID: _ClassVar[RankingMode]

class OcrMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    OCR_MODE_UNSPECIFIED: _ClassVar[OcrMode]
    OCR_MODE_AUTO: _ClassVar[OcrMode]
    OCR_MODE_OFF: _ClassVar[OcrMode]
    OCR_MODE_FORCE: _ClassVar[OcrMode]
CHUNKING_MODE_UNSPECIFIED: ChunkingMode
CHUNKING_MODE_TOKEN_WINDOW: ChunkingMode
CHUNKING_MODE_SECTION: ChunkingMode
RANKING_MODE_UNSPECIFIED: RankingMode
RANKING_MODE_DENSE: RankingMode
RANKING_MODE_KEYWORD: RankingMode
RANKING_MODE_HYBRID: RankingMode
OCR_MODE_UNSPECIFIED: OcrMode
OCR_MODE_AUTO: OcrMode
OCR_MODE_OFF: OcrMode
OCR_MODE_FORCE: OcrMode

class ChunkingStrategy(_message.Message):
    __slots__ = ("max_chunk_size_tokens", "chunk_overlap_tokens", "mode")
    MAX_CHUNK_SIZE_TOKENS_FIELD_NUMBER: _ClassVar[int]
    CHUNK_OVERLAP_TOKENS_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int
    mode: ChunkingMode
    def __init__(self, max_chunk_size_tokens: _Optional[int] = ..., chunk_overlap_tokens: _Optional[int] = ..., mode: _Optional[_Union[ChunkingMode, str]] = ...) -> None: ...

class ErrorSummary(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ChunkPosition(_message.Message):
    __slots__ = ("page", "char_start", "char_end")
    PAGE_FIELD_NUMBER: _ClassVar[int]
    CHAR_START_FIELD_NUMBER: _ClassVar[int]
    CHAR_END_FIELD_NUMBER: _ClassVar[int]
    page: int
    char_start: int
    char_end: int
    def __init__(self, page: _Optional[int] = ..., char_start: _Optional[int] = ..., char_end: _Optional[int] = ...) -> None: ...

class RankingOptions(_message.Message):
    __slots__ = ("mode", "score_threshold", "dense_weight", "keyword_weight")
    MODE_FIELD_NUMBER: _ClassVar[int]
    SCORE_THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    DENSE_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    KEYWORD_WEIGHT_FIELD_NUMBER: _ClassVar[int]
    mode: RankingMode
    score_threshold: float
    dense_weight: float
    keyword_weight: float
    def __init__(self, mode: _Optional[_Union[RankingMode, str]] = ..., score_threshold: _Optional[float] = ..., dense_weight: _Optional[float] = ..., keyword_weight: _Optional[float] = ...) -> None: ...

class SearchHit(_message.Message):
    __slots__ = ("score", "text", "file_id", "file_name", "object_id", "attributes", "position", "chunk_index", "payload", "section")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    FILE_ID_FIELD_NUMBER: _ClassVar[int]
    FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    CHUNK_INDEX_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    SECTION_FIELD_NUMBER: _ClassVar[int]
    score: float
    text: str
    file_id: str
    file_name: str
    object_id: str
    attributes: _struct_pb2.Struct
    position: ChunkPosition
    chunk_index: int
    payload: _struct_pb2.Struct
    section: str
    def __init__(self, score: _Optional[float] = ..., text: _Optional[str] = ..., file_id: _Optional[str] = ..., file_name: _Optional[str] = ..., object_id: _Optional[str] = ..., attributes: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., position: _Optional[_Union[ChunkPosition, _Mapping]] = ..., chunk_index: _Optional[int] = ..., payload: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., section: _Optional[str] = ...) -> None: ...
