"""Typed server settings, read once from VECFLOW_* environment variables."""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024
MILVUS_INDEX_CHOICES = ("auto", "FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX")  # vecflow.vectors.milvus.INDEX_TYPES + auto
ROLES = ("all", "api", "worker")  # what a replica does (VECFLOW_ROLE, `vecflow serve --role`)
REPLICA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/-]{0,63}")


class SettingsError(ValueError):
    """A VECFLOW_* variable has a value the server cannot use."""


def default_replica_id() -> str:
    """This process's replica id when VECFLOW_REPLICA_ID is unset: `<hostname>:<pid>`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _replica_id(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not REPLICA_ID.fullmatch(value):
        raise SettingsError(
            f"{name}={value!r} must be 1 to 64 letters, digits and . _ : @ / - (starting with a letter or digit)"
        )
    return value


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={value} must be at least {minimum}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true or false)")


def _address(env: Mapping[str, str], name: str, default: str, allow_empty: bool = False) -> str:
    value = env.get(name, default).strip()
    if allow_empty and value == "":
        return ""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise SettingsError(f"{name}={value!r} must look like host:port, for example 127.0.0.1:50051")
    return value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (the first when unset), matched in any case and returned as spelled there."""
    raw = env.get(name, "").strip()
    if raw == "":
        return choices[0]
    for choice in choices:
        if raw.upper() == choice.upper():
            return choice
    raise SettingsError(f"{name}={raw!r} is not one of {', '.join(choices)}")


def _blob_url(env: Mapping[str, str], name: str) -> str:
    """Empty (the data dir) or `s3://BUCKET[/PREFIX]`."""
    value = env.get(name, "").strip()
    if value and (not value.startswith("s3://") or not value[len("s3://") :].split("/", 1)[0]):
        raise SettingsError(f"{name}={value!r} must be empty (the data dir) or s3://BUCKET/PREFIX")
    return value


def _otlp_endpoint(env: Mapping[str, str]) -> str:
    """Where traces go, from the standard OpenTelemetry variables: "" when none is set or tracing is disabled."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return ""
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return ""
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or ""
    protocol = env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "grpc"
    endpoint, protocol = endpoint.strip(), protocol.strip()
    if endpoint and protocol != "grpc":
        raise SettingsError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: vecflow exports traces with OTLP over gRPC only; unset it "
            "(or set grpc) and point OTEL_EXPORTER_OTLP_ENDPOINT at the collector's gRPC port (4317)"
        )
    return endpoint


@dataclass(frozen=True)
class Settings:
    """Everything the server can be configured with. Build it with `Settings.from_env()`."""

    listen_address: str = "127.0.0.1:50051"
    data_dir: Path = field(default_factory=lambda: Path("vecflow-data"))
    database_url: str = ""
    blob_url: str = ""  # "": <data dir>/blobs and <data dir>/parsed
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_index: str = "auto"
    metrics_address: str = "127.0.0.1:9464"
    bootstrap_api_key: str = ""
    max_upload_bytes: int = 512 * MIB
    max_message_bytes: int = 8 * MIB
    shutdown_grace_seconds: float = 10.0
    auth_cache_seconds: float = 10.0
    idempotency_ttl_seconds: int = 24 * 3600
    log_level: str = "INFO"
    role: str = "all"
    replica_id: str = ""  # empty: default_replica_id()
    workers: int = 4
    job_lease_seconds: float = 30.0
    job_poll_seconds: float = 1.0
    job_history_limit: int = 100_000
    job_plugins: tuple[str, ...] = ()
    watch_heartbeat_seconds: float = 5.0
    watch_queue_size: int = 1024
    watch_write_timeout_seconds: float = 30.0
    watch_poll_seconds: float = 2.0
    fetch_allow_hosts: tuple[str, ...] = ()
    fetch_timeout_seconds: float = 60.0
    fetch_max_redirects: int = 5
    webhook_max_per_project: int = 20
    webhook_timeout_seconds: float = 10.0
    webhook_retry_base_seconds: float = 5.0
    webhook_retry_max_delay_seconds: float = 3600.0
    webhook_retry_window_seconds: float = 86400.0
    webhook_poll_seconds: float = 1.0
    webhook_concurrency: int = 8
    embedding_model: str = ""
    embedding_endpoint: str = ""
    embedding_api_key: str = ""
    embedding_batch_size: int = 64
    embedding_workers: int = 0  # 0: one per core, up to 4
    max_batch_files: int = 2000
    max_task_items: int = 10_000
    max_search_results: int = 50
    max_item_payload_bytes: int = 64 * 1024
    sweep_seconds: float = 300.0
    content_grace_seconds: float = 600.0
    warm_up: bool = True
    parse_workers: int = 0  # 0: one per core, up to 4
    parse_memory_bytes: int = 1024 * MIB
    parse_timeout_seconds: float = 900.0
    parse_max_characters: int = 32_000_000
    parse_max_expanded_bytes: int = 256 * MIB
    otlp_endpoint: str = ""  # where traces are exported (OTLP/gRPC); "": tracing off (vecflow.tracing)
    parse_max_cells: int = 2_000_000
    ocr_max_pages: int = 500
    parse_max_table_pages: int = 300

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            db = (self.data_dir / "vecflow.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{db}")
        if not self.milvus_uri:
            object.__setattr__(self, "milvus_uri", str((self.data_dir / "milvus.db").resolve()))
        if not self.replica_id:
            object.__setattr__(self, "replica_id", default_replica_id())
        if self.role not in ROLES:
            raise SettingsError(f"role {self.role!r} is not one of {', '.join(ROLES)}")
        if self.role == "api" and not self.embedding_endpoint.strip():
            raise SettingsError(
                "VECFLOW_ROLE=api never loads the embedding model, so it embeds search queries with an embedding "
                "server: set VECFLOW_EMBEDDING_ENDPOINT to the OpenAI-compatible server (Text Embeddings Inference, "
                "vLLM, Infinity, …) that serves the workers' model, and VECFLOW_EMBEDDING_MODEL to its name there; "
                "or run this replica with role `all`"
            )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read VECFLOW_* variables (see docs/configuration.md); keyword overrides win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "listen_address": _address(env, "VECFLOW_LISTEN_ADDRESS", "127.0.0.1:50051"),
            "data_dir": Path(env.get("VECFLOW_DATA_DIR") or "vecflow-data"),
            "database_url": env.get("VECFLOW_DATABASE_URL", ""),
            "blob_url": _blob_url(env, "VECFLOW_BLOB_URL"),
            "milvus_uri": env.get("VECFLOW_MILVUS_URI", ""),
            "milvus_token": env.get("VECFLOW_MILVUS_TOKEN", ""),
            "milvus_index": _choice(env, "VECFLOW_MILVUS_INDEX", MILVUS_INDEX_CHOICES),
            "metrics_address": _address(env, "VECFLOW_METRICS_ADDRESS", "127.0.0.1:9464", allow_empty=True),
            "bootstrap_api_key": env.get("VECFLOW_BOOTSTRAP_API_KEY", ""),
            "max_upload_bytes": _int(env, "VECFLOW_MAX_UPLOAD_BYTES", 512 * MIB, minimum=1),
            "max_message_bytes": _int(env, "VECFLOW_MAX_MESSAGE_BYTES", 8 * MIB, minimum=64 * 1024),
            "shutdown_grace_seconds": _float(env, "VECFLOW_SHUTDOWN_GRACE_SECONDS", 10.0),
            "auth_cache_seconds": _float(env, "VECFLOW_AUTH_CACHE_SECONDS", 10.0),
            "idempotency_ttl_seconds": _int(env, "VECFLOW_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, minimum=60),
            "log_level": env.get("VECFLOW_LOG_LEVEL", "INFO").upper(),
            "role": _choice(env, "VECFLOW_ROLE", ROLES),
            "replica_id": _replica_id(env, "VECFLOW_REPLICA_ID"),
            "workers": _int(env, "VECFLOW_WORKERS", 4, minimum=1),
            "job_lease_seconds": _float(env, "VECFLOW_JOB_LEASE_SECONDS", 30.0, minimum=0.3),
            "job_poll_seconds": _float(env, "VECFLOW_JOB_POLL_SECONDS", 1.0, minimum=0.05),
            "job_history_limit": _int(env, "VECFLOW_JOB_HISTORY_LIMIT", 100_000, minimum=10),
            "job_plugins": tuple(p.strip() for p in env.get("VECFLOW_JOB_PLUGINS", "").split(",") if p.strip()),
            "watch_heartbeat_seconds": _float(env, "VECFLOW_WATCH_HEARTBEAT_SECONDS", 5.0, minimum=0.05),
            "watch_queue_size": _int(env, "VECFLOW_WATCH_QUEUE_SIZE", 1024, minimum=8),
            "watch_write_timeout_seconds": _float(env, "VECFLOW_WATCH_WRITE_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            "watch_poll_seconds": _float(env, "VECFLOW_WATCH_POLL_SECONDS", 2.0, minimum=0.05),
            "fetch_allow_hosts": tuple(
                h.strip() for h in env.get("VECFLOW_FETCH_ALLOW_HOSTS", "").split(",") if h.strip()
            ),
            "fetch_timeout_seconds": _float(env, "VECFLOW_FETCH_TIMEOUT_SECONDS", 60.0, minimum=0.5),
            "fetch_max_redirects": _int(env, "VECFLOW_FETCH_MAX_REDIRECTS", 5),
            "webhook_max_per_project": _int(env, "VECFLOW_WEBHOOK_MAX_PER_PROJECT", 20, minimum=1),
            "webhook_timeout_seconds": _float(env, "VECFLOW_WEBHOOK_TIMEOUT_SECONDS", 10.0, minimum=0.5),
            "webhook_retry_base_seconds": _float(env, "VECFLOW_WEBHOOK_RETRY_BASE_SECONDS", 5.0, minimum=0.05),
            "webhook_retry_max_delay_seconds": _float(env, "VECFLOW_WEBHOOK_RETRY_MAX_DELAY_SECONDS", 3600.0, 0.05),
            "webhook_retry_window_seconds": _float(env, "VECFLOW_WEBHOOK_RETRY_WINDOW_SECONDS", 86400.0, minimum=1.0),
            "webhook_poll_seconds": _float(env, "VECFLOW_WEBHOOK_POLL_SECONDS", 1.0, minimum=0.05),
            "webhook_concurrency": _int(env, "VECFLOW_WEBHOOK_CONCURRENCY", 8, minimum=1),
            "embedding_model": env.get("VECFLOW_EMBEDDING_MODEL", ""),
            "embedding_endpoint": env.get("VECFLOW_EMBEDDING_ENDPOINT", ""),
            "embedding_api_key": env.get("VECFLOW_EMBEDDING_API_KEY", ""),
            "embedding_batch_size": _int(env, "VECFLOW_EMBEDDING_BATCH_SIZE", 64, minimum=1),
            "embedding_workers": _int(env, "VECFLOW_EMBEDDING_WORKERS", 0, minimum=0),
            "max_batch_files": _int(env, "VECFLOW_MAX_BATCH_FILES", 2000, minimum=1),
            "max_task_items": _int(env, "VECFLOW_MAX_TASK_ITEMS", 10_000, minimum=1),
            "max_search_results": _int(env, "VECFLOW_MAX_SEARCH_RESULTS", 50, minimum=1),
            "max_item_payload_bytes": _int(env, "VECFLOW_MAX_ITEM_PAYLOAD_BYTES", 64 * 1024, minimum=64),
            "sweep_seconds": _float(env, "VECFLOW_SWEEP_SECONDS", 300.0, minimum=0.1),
            "content_grace_seconds": _float(env, "VECFLOW_CONTENT_GRACE_SECONDS", 600.0),
            "warm_up": _bool(env, "VECFLOW_WARM_UP", True),
            "parse_workers": _int(env, "VECFLOW_PARSE_WORKERS", 0, minimum=0),
            "parse_memory_bytes": _int(env, "VECFLOW_PARSE_MEMORY_BYTES", 1024 * MIB, minimum=64 * MIB),
            "parse_timeout_seconds": _float(env, "VECFLOW_PARSE_TIMEOUT_SECONDS", 900.0, minimum=1.0),
            "parse_max_characters": _int(env, "VECFLOW_PARSE_MAX_CHARACTERS", 32_000_000, minimum=1000),
            "parse_max_expanded_bytes": _int(env, "VECFLOW_PARSE_MAX_EXPANDED_BYTES", 256 * MIB, minimum=MIB),
            "otlp_endpoint": _otlp_endpoint(env),
            "parse_max_cells": _int(env, "VECFLOW_PARSE_MAX_CELLS", 2_000_000, minimum=1000),
            "ocr_max_pages": _int(env, "VECFLOW_OCR_MAX_PAGES", 500, minimum=1),
            "parse_max_table_pages": _int(env, "VECFLOW_PARSE_MAX_TABLE_PAGES", 300, minimum=0),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


# What docs/configuration.md says of each setting: (variables, default, meaning). Its table is generated from this
# (scripts/gen_docs.py); tests/test_docs.py fails when a variable read above is missing here, or the docs drift.
SETTINGS_DOCS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("VECFLOW_LISTEN_ADDRESS",), "`127.0.0.1:50051`", "gRPC `host:port`"),
    (("VECFLOW_DATA_DIR",), "`./vecflow-data`", "everything the server writes: SQLite file, milvus-lite, blobs"),
    (
        ("VECFLOW_DATABASE_URL",),
        "`sqlite+aiosqlite:///<data dir>/vecflow.db`",
        "SQLAlchemy URL; `postgresql+asyncpg://user@host/db` for PostgreSQL",
    ),
    (
        ("VECFLOW_BLOB_URL",),
        "`<data dir>`",
        "where file contents and parse results live: empty for `<data dir>/blobs` and `<data dir>/parsed`, or "
        "`s3://BUCKET/PREFIX` on any S3-compatible store, connected with the standard `AWS_*` variables (see "
        "Object storage below)",
    ),
    (
        ("VECFLOW_MILVUS_URI", "VECFLOW_MILVUS_TOKEN"),
        "`<data dir>/milvus.db`",
        "milvus-lite file, or a Milvus server URI",
    ),
    (
        ("VECFLOW_MILVUS_INDEX",),
        "`auto`",
        "dense index type of new Milvus collections: `auto`, `FLAT`, `HNSW`, `IVF_FLAT` or `AUTOINDEX`; `auto` asks "
        "the server: one that does not implement GetVersion is milvus-lite's engine, which cannot build HNSW, so "
        "FLAT; one that answers gets HNSW. A type the server refuses fails opening Milvus (at warm-up, or in the first "
        "job that needs it) with an error naming this variable. An existing collection keeps the index it has (never "
        "rebuilt; drop it and re-index to change it)",
    ),
    (("VECFLOW_METRICS_ADDRESS",), "`127.0.0.1:9464`", "Prometheus `/metrics` HTTP endpoint; empty disables it"),
    (
        ("VECFLOW_BOOTSTRAP_API_KEY",),
        "(generated)",
        "the default project's key on first start with an empty database (≥ 20 characters)",
    ),
    (("VECFLOW_MAX_UPLOAD_BYTES",), "536870912 (512 MiB)", "largest upload"),
    (("VECFLOW_MAX_MESSAGE_BYTES",), "8388608 (8 MiB)", "largest gRPC message, each way"),
    (("VECFLOW_SHUTDOWN_GRACE_SECONDS",), "10", "how long in-flight calls may finish after SIGTERM/SIGINT"),
    (
        ("VECFLOW_AUTH_CACHE_SECONDS",),
        "10",
        "how long a verified key is cached (a revoked key stops working within this)",
    ),
    (("VECFLOW_IDEMPOTENCY_TTL_SECONDS",), "86400", "how long a `request_id` is remembered"),
    (("VECFLOW_LOG_LEVEL",), "`INFO`", "log level; logs are JSON lines on stderr"),
    (
        ("VECFLOW_ROLE",),
        "`all`",
        "what this replica does (also `vecflow serve --role`): `all` serves the API and runs jobs; `api` serves "
        "the API and runs no jobs and never loads the model (it needs `VECFLOW_EMBEDDING_ENDPOINT` for search "
        "queries); `worker` runs jobs and serves only gRPC health (and metrics). Replicas of any roles share one "
        "queue; `api` and `worker` need PostgreSQL (see Replicas below)",
    ),
    (
        ("VECFLOW_REPLICA_ID",),
        "`<hostname>:<pid>`",
        "this replica's name in job history events (`details.replica` of claims, requeues and restarts), in "
        "every log line (`replica`) and in the `vecflow_replica_info` metric",
    ),
    (("VECFLOW_WORKERS",), "4", "jobs one server runs at once"),
    (
        ("VECFLOW_JOB_LEASE_SECONDS",),
        "30",
        "a worker's lease on a running job, renewed every third of it; after a crash the job is requeued once it expires",
    ),
    (
        ("VECFLOW_JOB_POLL_SECONDS",),
        "1",
        "how often idle workers look for pending jobs created elsewhere (same-process submissions wake them at once)",
    ),
    (
        ("VECFLOW_JOB_HISTORY_LIMIT",),
        "100000",
        "newest events kept per job; older ones are dropped and their cursors answer `CURSOR_EXPIRED`",
    ),
    (
        ("VECFLOW_JOB_PLUGINS",),
        "(none)",
        "`package.module:function,...` called with the engine at start to register extra job handlers",
    ),
    (("VECFLOW_WATCH_HEARTBEAT_SECONDS",), "5", "heartbeat interval on an idle WatchJob stream"),
    (("VECFLOW_WATCH_QUEUE_SIZE",), "1024", "events one watcher may fall behind before it is cut off"),
    (
        ("VECFLOW_WATCH_WRITE_TIMEOUT_SECONDS",),
        "30",
        "how long a watcher may leave a message unread before it is cut off",
    ),
    (
        ("VECFLOW_WATCH_POLL_SECONDS",),
        "2",
        "on PostgreSQL, how often watched jobs are polled for events whose notification was lost (a watcher gets "
        "those within about twice this; a dropped LISTEN connection catches up as soon as it is back)",
    ),
    (
        ("VECFLOW_FETCH_ALLOW_HOSTS",),
        "(none)",
        "hosts or CIDR networks that URL uploads may reach although they are not public (tests, trusted internal hosts)",
    ),
    (
        ("VECFLOW_FETCH_TIMEOUT_SECONDS", "VECFLOW_FETCH_MAX_REDIRECTS"),
        "60 / 5",
        "URL upload limits (the size limit is `VECFLOW_MAX_UPLOAD_BYTES`)",
    ),
    (("VECFLOW_WEBHOOK_MAX_PER_PROJECT",), "20", "webhooks one project may have (`TOO_MANY_WEBHOOKS`)"),
    (
        ("VECFLOW_WEBHOOK_TIMEOUT_SECONDS",),
        "10",
        "longest one webhook delivery attempt may take (DNS, connecting and the answer); an attempt whose replica "
        "died is tried again after twice this",
    ),
    (
        (
            "VECFLOW_WEBHOOK_RETRY_BASE_SECONDS",
            "VECFLOW_WEBHOOK_RETRY_MAX_DELAY_SECONDS",
            "VECFLOW_WEBHOOK_RETRY_WINDOW_SECONDS",
        ),
        "5 / 3600 / 86400",
        "webhook retries (after 408, 429, 5xx, a timeout or a failed connection): the n-th waits about base × "
        "2^(n-1), at most the max delay, with jitter; no attempt starts later than the window after the event",
    ),
    (
        ("VECFLOW_WEBHOOK_POLL_SECONDS", "VECFLOW_WEBHOOK_CONCURRENCY"),
        "1 / 8",
        "how often a replica that runs jobs looks for due webhook deliveries, and how many it sends at once",
    ),
    (
        ("VECFLOW_EMBEDDING_MODEL",),
        "all-MiniLM-L6-v2 (packaged)",
        "a sentence-transformers model name or local path (loaded offline), or the model name sent to the endpoint below",
    ),
    (
        ("VECFLOW_EMBEDDING_ENDPOINT", "VECFLOW_EMBEDDING_API_KEY"),
        "(none)",
        "an OpenAI-compatible server (`POST /v1/embeddings`: TEI, vLLM, …) to embed with instead of the local model",
    ),
    (("VECFLOW_EMBEDDING_BATCH_SIZE",), "64", "texts per model call (chunks from concurrent jobs share batches)"),
    (
        ("VECFLOW_EMBEDDING_WORKERS",),
        "one per core, up to 4",
        "local model: encoder threads, each with an equal share of the cores as torch threads",
    ),
    (("VECFLOW_MAX_BATCH_FILES",), "2000", "files per AddFilesToVectorStore / CreateFileBatch request"),
    (
        ("VECFLOW_SWEEP_SECONDS",),
        "300",
        "how often stores past their `expires_after` are expired and unreferenced file contents reclaimed",
    ),
    (
        ("VECFLOW_CONTENT_GRACE_SECONDS",),
        "600",
        "how long file contents no file references are kept after they were last written",
    ),
    (
        ("VECFLOW_WARM_UP",),
        "true",
        "load the embedding model, open Milvus and start a parse worker in the background at start, so the first job "
        "does not wait for them",
    ),
    (("VECFLOW_MAX_SEARCH_RESULTS",), "50", "largest `max_num_results` a vector-store search accepts"),
    (("VECFLOW_MAX_TASK_ITEMS", "VECFLOW_MAX_ITEM_PAYLOAD_BYTES"), "10000 / 65536", "upsertion task limits"),
    (("VECFLOW_PARSE_WORKERS",), "one per core, up to 4", "parse worker processes (parses that run at once)"),
    (
        ("VECFLOW_PARSE_MEMORY_BYTES",),
        "1073741824 (1 GiB)",
        "memory one parse may use above its worker's idle size; past it the worker is stopped (`PARSE_MEMORY_EXCEEDED`)",
    ),
    (("VECFLOW_PARSE_TIMEOUT_SECONDS",), "900", "longest one parse may run (`PARSE_TIMEOUT`)"),
    (
        ("VECFLOW_PARSE_MAX_CHARACTERS",),
        "32000000",
        "most characters of text one document may have (`DOCUMENT_TOO_LARGE`)",
    ),
    (
        ("VECFLOW_PARSE_MAX_EXPANDED_BYTES",),
        "268435456 (256 MiB)",
        "most bytes a DOCX, PPTX, XLSX, EPUB or ODT may unpack to, counted as read (`DOCUMENT_TOO_LARGE`)",
    ),
    (
        ("VECFLOW_PARSE_MAX_CELLS",),
        "2000000",
        "most spreadsheet (XLSX) cells holding a value one workbook may have, counted as its rows are read "
        "(`DOCUMENT_TOO_LARGE`)",
    ),
    (
        ("VECFLOW_OCR_MAX_PAGES",),
        "500",
        "most pages of one document that OCR reads: image frames and PDF pages without a text layer (all pages "
        "with `ocr` force); more is `DOCUMENT_TOO_LARGE`, before any page is read",
    ),
    (
        ("VECFLOW_PARSE_MAX_TABLE_PAGES",),
        "300",
        "PDF pages of one document searched for ruled tables (pdfplumber; it costs more than the text, see "
        "bench/README.md); past them the text is kept and the parser string says where the search stopped; "
        "0 turns the search off",
    ),
)

SETTINGS_START = "<!-- settings:start (generated by scripts/gen_docs.py from server/vecflow/config.py) -->"
SETTINGS_END = "<!-- settings:end -->"


def settings_table() -> str:
    """docs/configuration.md's table of settings, as Markdown."""
    lines = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for names, default, meaning in SETTINGS_DOCS:
        lines.append(f"| {' / '.join(f'`{n}`' for n in names)} | {default} | {meaning} |")
    return "\n".join(lines)
