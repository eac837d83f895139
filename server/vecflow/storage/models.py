"""SQLAlchemy models for every persisted resource. Every tenant-owned row carries project_id."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


ID = String(40)
Json = JSON(none_as_null=True)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def table(model: type[Base]) -> Table:
    """A model's Core Table, typed as such (SQLAlchemy types `__table__` as the wider FromClause)."""
    return cast(Table, model.__table__)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(256), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("account_id", "name", name="uq_projects_account_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(ID, ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256), default="")
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class KnowledgeBase(Base):
    __tablename__ = "knowledge_bases"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_knowledge_bases_project_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    description: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", Json, nullable=True)
    auto_parse: Mapped[bool] = mapped_column(Boolean, default=True)
    ocr: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")  # uploads' OCR mode
    on_behalf_of: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Directory(Base):
    __tablename__ = "kb_directories"
    __table_args__ = (UniqueConstraint("kb_id", "path", name="uq_kb_directories_kb_path"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    kb_id: Mapped[str] = mapped_column(ID, ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(String(1024))
    parent: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class File(Base):
    __tablename__ = "kb_files"
    __table_args__ = (UniqueConstraint("kb_id", "directory", "name", name="uq_kb_files_kb_dir_name"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    kb_id: Mapped[str] = mapped_column(ID, ForeignKey("knowledge_bases.id", ondelete="CASCADE"))
    directory: Mapped[str] = mapped_column(String(1024), default="")
    name: Mapped[str] = mapped_column(String(255))
    uid: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    content_length: Mapped[int] = mapped_column(BigInteger, default=0)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", Json, nullable=True)
    url: Mapped[str] = mapped_column(Text, default="")
    parse_state: Mapped[str] = mapped_column(String(16), default="pending")
    parse_job_id: Mapped[str] = mapped_column(String(40), default="")
    parse_result_id: Mapped[str] = mapped_column(String(40), default="")
    parse_error_code: Mapped[str] = mapped_column(String(64), default="")
    parse_error_message: Mapped[str] = mapped_column(Text, default="")
    ocr: Mapped[str] = mapped_column(String(8), default="", server_default="")  # the upload's; "": the KB's
    on_behalf_of: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ParseResult(Base):
    __tablename__ = "parse_results"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    file_id: Mapped[str] = mapped_column(ID, ForeignKey("kb_files.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str] = mapped_column(String(40), default="")
    content_type: Mapped[str] = mapped_column(String(255), default="")
    pages: Mapped[int] = mapped_column(Integer, default=0)
    characters: Mapped[int] = mapped_column(BigInteger, default=0)
    tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    text_preview: Mapped[str] = mapped_column(Text, default="")
    parser: Mapped[str] = mapped_column(String(128), default="")
    ocr_pages: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # pages whose text is OCR's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VectorStore(Base):
    __tablename__ = "vector_stores"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(256))
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", Json, nullable=True)
    max_chunk_size_tokens: Mapped[int] = mapped_column(Integer)
    chunk_overlap_tokens: Mapped[int] = mapped_column(Integer)
    chunking_mode: Mapped[str] = mapped_column(String(16), default="token_window", server_default="token_window")
    # Which Milvus collection the store's chunks live in (vecflow.vectors.milvus.analyzers).
    keyword_analyzer: Mapped[str] = mapped_column(String(32), default="english", server_default="english")
    expires_after_days: Mapped[int | None] = mapped_column(Integer, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_active_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    usage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    embedding_model: Mapped[str] = mapped_column(String(256), default="")
    on_behalf_of: Mapped[str] = mapped_column(String(256), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class VectorStoreFile(Base):
    __tablename__ = "vector_store_files"
    vector_store_id: Mapped[str] = mapped_column(
        ID, ForeignKey("vector_stores.id", ondelete="CASCADE"), primary_key=True
    )
    file_id: Mapped[str] = mapped_column(ID, primary_key=True, index=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    parse_result_id: Mapped[str] = mapped_column(String(40), default="")
    # The indexing job whose chunks searches see (part of their Milvus pks); "" for chunks from before
    # generations. A re-index writes a new generation beside the live one and switches when it is complete.
    live_generation: Mapped[str] = mapped_column(String(40), default="", server_default="")
    batch_id: Mapped[str] = mapped_column(String(40), default="", index=True)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    last_error_code: Mapped[str] = mapped_column(String(64), default="")
    last_error_message: Mapped[str] = mapped_column(Text, default="")
    usage_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    chunk_count: Mapped[int] = mapped_column(BigInteger, default=0)
    attributes: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FileBatch(Base):
    __tablename__ = "file_batches"
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, index=True)
    vector_store_id: Mapped[str] = mapped_column(ID, ForeignKey("vector_stores.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    job_id: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class UpsertionTask(Base):
    __tablename__ = "upsertion_tasks"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    collection: Mapped[str] = mapped_column(String(16), default="default")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    text_field: Mapped[str] = mapped_column(String(128), default="text")
    keyword_analyzer: Mapped[str] = mapped_column(String(32), default="english", server_default="english")
    items_digest: Mapped[str] = mapped_column(String(64))
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    upserted_items: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProjectCollection(Base):
    """A project's item collection ("default", "categories") and the keyword analyzer its first upsertion task
    fixed for it (a project's collection without a row is english: it predates the choice)."""

    __tablename__ = "item_collections"
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True)
    collection: Mapped[str] = mapped_column(String(16), primary_key=True)
    keyword_analyzer: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UpsertionItem(Base):
    __tablename__ = "upsertion_items"
    __table_args__ = (Index("ix_upsertion_items_task", "project_id", "task_id"),)
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    object_id: Mapped[str] = mapped_column(String(512), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    item_info: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_reason: Mapped[str] = mapped_column(Text, default="")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_project_created", "project_id", "created_at"),
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),
        Index("ix_jobs_source", "project_id", "source_id"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"))
    operation: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    source_id: Mapped[str] = mapped_column(String(128), default="")
    correlation_id: Mapped[str] = mapped_column(String(128), default="")
    # W3C traceparent/tracestate of the span that submitted (or restarted) the job: its run continues that trace.
    trace_context: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    on_behalf_of: Mapped[str] = mapped_column(String(256), default="")
    params: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    state: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)
    error_code: Mapped[str] = mapped_column(String(64), default="")
    error_message: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    latest_sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_owner: Mapped[str] = mapped_column(String(128), default="")
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class JobEvent(Base):
    __tablename__ = "job_events"
    job_id: Mapped[str] = mapped_column(ID, ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    step: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    job_status: Mapped[str] = mapped_column(String(16))
    timestamp: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    duration_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    details: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)


class IdempotencyRecord(Base):
    """The stored response of a mutating call made with a request_id (AIP-155)."""

    __tablename__ = "idempotency_records"
    project_id: Mapped[str] = mapped_column(ID, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    method: Mapped[str] = mapped_column(String(256))
    request_digest: Mapped[str] = mapped_column(String(64))
    response: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class ServerSecret(Base):
    """A key every replica on this database shares (page tokens are signed with "page_tokens")."""

    __tablename__ = "server_secrets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Webhook(Base):
    """An endpoint of a project that receives some of its events (vecflow.storage.webhooks)."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_project_created", "project_id", "created_at"),)
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID, ForeignKey("projects.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[list[str]] = mapped_column(Json)
    secret: Mapped[str] = mapped_column(String(128))  # "whsec_<base64>": HMAC needs it as it is
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event for one webhook, written with the change that caused it, then delivered.

    `next_attempt_at` is when it is next due; a claimed attempt moves it to the end of its lease, so an attempt
    whose replica died is due again once the lease is over. `event_key` names the event (unique per webhook), so
    a change redone after a crash does not enqueue it twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_key", name="uq_webhook_deliveries_webhook_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_webhook_created", "webhook_id", "created_at"),
    )
    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(ID)
    webhook_id: Mapped[str] = mapped_column(ID, ForeignKey("webhooks.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(64))
    event_key: Mapped[str] = mapped_column(String(256))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lease_owner: Mapped[str] = mapped_column(String(128), default="")
    last_response_code: Mapped[int] = mapped_column(Integer, default=0)
    last_error_code: Mapped[str] = mapped_column(String(64), default="")
    last_error_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
