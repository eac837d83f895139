"""Translate storage rows to vecflow.v1 messages and enum values to domain words, and back."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from google.protobuf import struct_pb2, timestamp_pb2
from vecflow_client.v1 import (
    common_pb2,
    job_pb2,
    job_service_pb2,
)
from vecflow_client.v1 import (
    knowledge_base_service_pb2 as kb_pb2,
)
from vecflow_client.v1 import (
    parse_service_pb2 as parse_pb2,
)
from vecflow_client.v1 import (
    upsertion_task_service_pb2 as task_pb2,
)
from vecflow_client.v1 import (
    vector_store_service_pb2 as vs_pb2,
)

from vecflow.errors import InvalidArgument
from vecflow.jobs.records import EventRecord
from vecflow.jobs.watch import Heartbeat
from vecflow.storage import models as m

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

EnumT = TypeVar("EnumT", bound=int)


def ts(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(value)
    return out


def struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    out = struct_pb2.Struct()
    out.update(value)
    return out


MAX_STRUCT_DEPTH = 32  # JSON nesting levels a Struct from a client may have


def from_struct(value: struct_pb2.Struct, present: bool = True, field: str = "metadata") -> dict[str, Any] | None:
    """A client's Struct as plain JSON data (None when absent or empty).

    Refused with INVALID_ARGUMENT (naming `field`): NaN or ±Infinity (not JSON, and Milvus cannot hold
    them) and nesting deeper than MAX_STRUCT_DEPTH levels.
    """
    return struct_or_empty(value, present, field) or None


def struct_or_empty(value: struct_pb2.Struct, present: bool, field: str) -> dict[str, Any] | None:
    """As `from_struct`, but a present, empty Struct is {} rather than None."""
    return _struct_data(value, field, 1) if present else None


def _struct_data(value: struct_pb2.Struct, path: str, depth: int) -> dict[str, Any]:
    if depth > MAX_STRUCT_DEPTH:
        raise InvalidArgument.field(path, f"nests deeper than {MAX_STRUCT_DEPTH} levels")
    return {key: _value_data(item, f"{path}.{key}", depth) for key, item in value.fields.items()}


def _value_data(value: struct_pb2.Value, path: str, depth: int) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            raise InvalidArgument.field(path, f"is {number}; JSON numbers must be finite (no NaN or Infinity)")
        return number
    if kind == "struct_value":
        return _struct_data(value.struct_value, path, depth + 1)
    if kind == "list_value":
        if depth + 1 > MAX_STRUCT_DEPTH:
            raise InvalidArgument.field(path, f"nests deeper than {MAX_STRUCT_DEPTH} levels")
        return [_value_data(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value.list_value.values)]
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None  # null_value, or no kind set


class EnumWords(Generic[EnumT]):
    """Maps a proto enum (by value prefix) to lowercase domain words and back."""

    def __init__(self, enum: type[EnumT], prefix: str) -> None:
        self.to_word: dict[int, str] = {}
        # The stubs type each enum as its own int subclass; at run time its values are plain ints.
        self.to_value: dict[str, EnumT] = {}
        self.unspecified = cast(EnumT, 0)
        for name, number in cast("EnumTypeWrapper", enum).items():
            if number == 0:
                continue
            word = name.removeprefix(prefix).lower()
            self.to_word[number] = word
            self.to_value[word] = cast(EnumT, number)

    def word(self, value: int) -> str:
        """Domain word for an enum value; "" for UNSPECIFIED (and unknown values)."""
        return self.to_word.get(value, "")

    def value(self, word: str) -> EnumT:
        return self.to_value.get(word, self.unspecified)


JOB_STATUS = EnumWords(job_pb2.JobStatus, "JOB_STATUS_")
JOB_OPERATION = EnumWords(job_pb2.JobOperation, "JOB_OPERATION_")
STEP_STATUS = EnumWords(job_pb2.StepStatus, "STEP_STATUS_")
PARSE_STATE = EnumWords(kb_pb2.ParseState, "PARSE_STATE_")
VS_STATUS = EnumWords(vs_pb2.VectorStoreStatus, "VECTOR_STORE_STATUS_")
VS_FILE_STATUS = EnumWords(vs_pb2.VectorStoreFileStatus, "VECTOR_STORE_FILE_STATUS_")
BATCH_STATUS = EnumWords(vs_pb2.FileBatchStatus, "FILE_BATCH_STATUS_")
TASK_STATUS = EnumWords(task_pb2.UpsertionTaskStatus, "UPSERTION_TASK_STATUS_")
COLLECTION = EnumWords(task_pb2.Collection, "COLLECTION_")
RANKING_MODE = EnumWords(common_pb2.RankingMode, "RANKING_MODE_")
CHUNKING_MODE = EnumWords(common_pb2.ChunkingMode, "CHUNKING_MODE_")
OCR_MODE = EnumWords(common_pb2.OcrMode, "OCR_MODE_")


def ocr_mode_word(value: int, field: str) -> str:
    """An OcrMode as its domain word ("auto", "off", "force"; "" for unspecified); an unknown value is
    INVALID_ARGUMENT."""
    if value and value not in OCR_MODE.to_word:
        raise InvalidArgument.field(field, f"unknown OcrMode value {value}")
    return OCR_MODE.word(value)


def chunking_mode_word(value: int) -> str:
    """A ChunkingStrategy's mode as its domain word ("" for unspecified); an unknown value is INVALID_ARGUMENT."""
    if value and value not in CHUNKING_MODE.to_word:
        raise InvalidArgument.field("chunking_strategy.mode", f"unknown value {value}")
    return CHUNKING_MODE.word(value)


def chunk_hit(hit: Any) -> common_pb2.SearchHit:
    """A vector-store search hit (a vecflow.vectors.milvus.Hit) as a SearchHit."""
    f = hit.fields
    return common_pb2.SearchHit(
        score=hit.score,
        text=f.get("text", ""),
        file_id=f.get("file_id", ""),
        file_name=f.get("file_name", ""),
        attributes=struct(f.get("attributes") or {}),
        position=common_pb2.ChunkPosition(
            page=int(f.get("page") or 0), char_start=int(f.get("char_start") or 0), char_end=int(f.get("char_end") or 0)
        ),
        chunk_index=int(f.get("chunk_index") or 0),
        section=str(f.get("section") or ""),
    )


def job_event(row: m.JobEvent) -> job_pb2.JobHistoryEvent:
    return job_pb2.JobHistoryEvent(
        sequence=row.sequence,
        step=row.step,
        timestamp=ts(row.timestamp),
        duration_ms=row.duration_ms,
        status=STEP_STATUS.value(row.status),
        details=struct(row.details or {}),
        job_status=JOB_STATUS.value(row.job_status),
    )


def event_record_bytes(record: EventRecord) -> bytes:
    """The serialised WatchJob message for a committed event, built once and shared by every watcher."""
    cached = record.cache.get("watch_bytes")
    if cached is None:
        cached = event_record(record).SerializeToString()
        record.cache["watch_bytes"] = cached
    return cached


def event_record(record: EventRecord) -> job_service_pb2.WatchJobResponse:
    """The WatchJob message for a committed event."""
    cached = record.cache.get("watch")
    if cached is None:
        cached = job_service_pb2.WatchJobResponse(
            event=job_pb2.JobHistoryEvent(
                sequence=record.sequence,
                step=record.step,
                timestamp=ts(record.timestamp),
                duration_ms=record.duration_ms,
                status=STEP_STATUS.value(record.status),
                details=struct(record.details),
                job_status=JOB_STATUS.value(record.job_status),
            )
        )
        record.cache["watch"] = cached
    return cached


def heartbeat(beat: Heartbeat) -> job_service_pb2.WatchJobResponse:
    return job_service_pb2.WatchJobResponse(
        heartbeat=job_service_pb2.WatchJobHeartbeat(
            latest_sequence=beat.latest_sequence,
            job_status=JOB_STATUS.value(beat.job_status),
            timestamp=ts(beat.timestamp),
        )
    )


def job(row: m.Job, history: Sequence[m.JobEvent] = ()) -> job_pb2.Job:
    out = job_pb2.Job(
        id=row.id,
        project_id=row.project_id,
        operation=JOB_OPERATION.value(row.operation),
        status=JOB_STATUS.value(row.status),
        created_at=ts(row.created_at),
        started_at=ts(row.started_at),
        completed_at=ts(row.completed_at),
        object="job",
        source_id=row.source_id,
        correlation_id=row.correlation_id,
        result=struct(row.result),
        history=[job_event(e) for e in history],
        latest_sequence=row.latest_sequence,
        updated_at=ts(row.updated_at),
        attempt=row.attempt,
        on_behalf_of=row.on_behalf_of,
    )
    if row.error_code:
        out.error.CopyFrom(job_pb2.JobError(code=row.error_code, message=row.error_message))
    return out


def knowledge_base(row: m.KnowledgeBase) -> kb_pb2.KnowledgeBase:
    return kb_pb2.KnowledgeBase(
        id=row.id,
        object="knowledge_base",
        project_id=row.project_id,
        name=row.name,
        description=row.description,
        metadata=struct(row.metadata_),
        auto_parse=row.auto_parse,
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
        on_behalf_of=row.on_behalf_of,
        ocr=OCR_MODE.value(row.ocr),
    )


def directory(row: m.Directory) -> kb_pb2.Directory:
    return kb_pb2.Directory(id=row.id, kb_id=row.kb_id, path=row.path, name=row.name, created_at=ts(row.created_at))


def file(row: m.File) -> kb_pb2.File:
    out = kb_pb2.File(
        id=row.id,
        object="file",
        uid=row.uid,
        kb_id=row.kb_id,
        name=row.name,
        directory=row.directory,
        content_type=row.content_type,
        content_length=row.content_length,
        metadata=struct(row.metadata_),
        url=row.url,
        parse_state=PARSE_STATE.value(row.parse_state),
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
        parse_job_id=row.parse_job_id,
        parse_result_id=row.parse_result_id,
        project_id=row.project_id,
        on_behalf_of=row.on_behalf_of,
        ocr=OCR_MODE.value(row.ocr),
    )
    if row.parse_error_code:
        reason = common_pb2.ErrorSummary(code=row.parse_error_code, message=row.parse_error_message)
        # A skipped file keeps why it was not parsed in the same columns.
        (out.parse_skipped_reason if row.parse_state == "skipped" else out.parse_error).CopyFrom(reason)
    return out


def parse_result(row: m.ParseResult) -> parse_pb2.ParseResult:
    return parse_pb2.ParseResult(
        id=row.id,
        object="parse_result",
        file_id=row.file_id,
        job_id=row.job_id,
        content_type=row.content_type,
        pages=row.pages,
        characters=row.characters,
        tokens=row.tokens,
        text_preview=row.text_preview,
        parser=row.parser,
        created_at=ts(row.created_at),
        project_id=row.project_id,
        ocr_pages=row.ocr_pages,
    )


def file_counts(counts: Mapping[str, int]) -> vs_pb2.FileCounts:
    return vs_pb2.FileCounts(
        **{k: counts.get(k, 0) for k in ("in_progress", "completed", "failed", "cancelled", "total")}
    )


def vector_store(row: m.VectorStore, counts: Mapping[str, int]) -> vs_pb2.VectorStore:
    out = vs_pb2.VectorStore(
        id=row.id,
        object="vector_store",
        project_id=row.project_id,
        name=row.name,
        metadata=struct(row.metadata_),
        chunking_strategy=common_pb2.ChunkingStrategy(
            max_chunk_size_tokens=row.max_chunk_size_tokens,
            chunk_overlap_tokens=row.chunk_overlap_tokens,
            mode=CHUNKING_MODE.value(row.chunking_mode),
        ),
        keyword_analyzer=row.keyword_analyzer,
        expires_at=ts(row.expires_at),
        last_active_at=ts(row.last_active_at),
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
        status=VS_STATUS.value("in_progress" if counts.get("in_progress") else row.status),
        file_counts=file_counts(counts),
        usage_bytes=row.usage_bytes,
        embedding_model=row.embedding_model,
        on_behalf_of=row.on_behalf_of,
    )
    if row.expires_after_days:
        out.expires_after.CopyFrom(vs_pb2.ExpiresAfter(days=row.expires_after_days))
    return out


def vector_store_file(row: m.VectorStoreFile) -> vs_pb2.VectorStoreFile:
    out = vs_pb2.VectorStoreFile(
        file_id=row.file_id,
        object="vector_store.file",
        vector_store_id=row.vector_store_id,
        parse_result_id=row.parse_result_id,
        status=VS_FILE_STATUS.value(row.status),
        usage_bytes=row.usage_bytes,
        chunk_count=row.chunk_count,
        attributes=struct(row.attributes),
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
        batch_id=row.batch_id,
    )
    if row.last_error_code:
        out.last_error.CopyFrom(common_pb2.ErrorSummary(code=row.last_error_code, message=row.last_error_message))
    return out


def file_batch(row: m.FileBatch, counts: Mapping[str, int]) -> vs_pb2.FileBatch:
    return vs_pb2.FileBatch(
        id=row.id,
        object="vector_store.file_batch",
        created_at=ts(row.created_at),
        vector_store_id=row.vector_store_id,
        status=BATCH_STATUS.value(row.status),
        file_counts=file_counts(counts),
        job_id=row.job_id,
        completed_at=ts(row.completed_at),
    )


def upsertion_task(row: m.UpsertionTask, failed: Sequence[m.UpsertionItem]) -> task_pb2.UpsertionTask:
    return task_pb2.UpsertionTask(
        id=row.id,
        object="upsertion_task",
        project_id=row.project_id,
        status=TASK_STATUS.value(row.status),
        collection=COLLECTION.value(row.collection),
        created_at=ts(row.created_at),
        updated_at=ts(row.updated_at),
        failed_items=[
            task_pb2.FailedItem(object_id=i.object_id, reason=i.error_reason, code=i.error_code) for i in failed
        ],
        job_id=row.job_id,
        total_items=row.total_items,
        upserted_items=row.upserted_items,
        text_field=row.text_field,
        keyword_analyzer=row.keyword_analyzer,
    )
