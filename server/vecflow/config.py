"""Typed server settings, read once from VECFLOW_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

MIB = 1024 * 1024


class SettingsError(ValueError):
    """A VECFLOW_* variable has a value the server cannot use."""


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


@dataclass(frozen=True)
class Settings:
    """Everything the server can be configured with. Build it with `Settings.from_env()`."""

    listen_address: str = "127.0.0.1:50051"
    data_dir: Path = field(default_factory=lambda: Path("vecflow-data"))
    database_url: str = ""
    milvus_uri: str = ""
    milvus_token: str = ""
    metrics_address: str = "127.0.0.1:9464"
    bootstrap_api_key: str = ""
    max_upload_bytes: int = 512 * MIB
    max_message_bytes: int = 8 * MIB
    shutdown_grace_seconds: float = 10.0
    auth_cache_seconds: float = 10.0
    idempotency_ttl_seconds: int = 24 * 3600
    log_level: str = "INFO"
    workers: int = 4
    job_lease_seconds: float = 30.0
    job_poll_seconds: float = 1.0
    job_history_limit: int = 100_000
    job_plugins: tuple[str, ...] = ()
    watch_heartbeat_seconds: float = 5.0
    watch_queue_size: int = 1024
    watch_write_timeout_seconds: float = 30.0
    fetch_allow_hosts: tuple[str, ...] = ()
    fetch_timeout_seconds: float = 60.0
    fetch_max_redirects: int = 5
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

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        if not self.database_url:
            db = (self.data_dir / "vecflow.db").resolve()
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{db}")
        if not self.milvus_uri:
            object.__setattr__(self, "milvus_uri", str((self.data_dir / "milvus.db").resolve()))

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read VECFLOW_* variables (see README, "Configuration"); keyword overrides win."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "listen_address": _address(env, "VECFLOW_LISTEN_ADDRESS", "127.0.0.1:50051"),
            "data_dir": Path(env.get("VECFLOW_DATA_DIR") or "vecflow-data"),
            "database_url": env.get("VECFLOW_DATABASE_URL", ""),
            "milvus_uri": env.get("VECFLOW_MILVUS_URI", ""),
            "milvus_token": env.get("VECFLOW_MILVUS_TOKEN", ""),
            "metrics_address": _address(env, "VECFLOW_METRICS_ADDRESS", "127.0.0.1:9464", allow_empty=True),
            "bootstrap_api_key": env.get("VECFLOW_BOOTSTRAP_API_KEY", ""),
            "max_upload_bytes": _int(env, "VECFLOW_MAX_UPLOAD_BYTES", 512 * MIB, minimum=1),
            "max_message_bytes": _int(env, "VECFLOW_MAX_MESSAGE_BYTES", 8 * MIB, minimum=64 * 1024),
            "shutdown_grace_seconds": _float(env, "VECFLOW_SHUTDOWN_GRACE_SECONDS", 10.0),
            "auth_cache_seconds": _float(env, "VECFLOW_AUTH_CACHE_SECONDS", 10.0),
            "idempotency_ttl_seconds": _int(env, "VECFLOW_IDEMPOTENCY_TTL_SECONDS", 24 * 3600, minimum=60),
            "log_level": env.get("VECFLOW_LOG_LEVEL", "INFO").upper(),
            "workers": _int(env, "VECFLOW_WORKERS", 4, minimum=1),
            "job_lease_seconds": _float(env, "VECFLOW_JOB_LEASE_SECONDS", 30.0, minimum=0.3),
            "job_poll_seconds": _float(env, "VECFLOW_JOB_POLL_SECONDS", 1.0, minimum=0.05),
            "job_history_limit": _int(env, "VECFLOW_JOB_HISTORY_LIMIT", 100_000, minimum=10),
            "job_plugins": tuple(p.strip() for p in env.get("VECFLOW_JOB_PLUGINS", "").split(",") if p.strip()),
            "watch_heartbeat_seconds": _float(env, "VECFLOW_WATCH_HEARTBEAT_SECONDS", 5.0, minimum=0.05),
            "watch_queue_size": _int(env, "VECFLOW_WATCH_QUEUE_SIZE", 1024, minimum=8),
            "watch_write_timeout_seconds": _float(env, "VECFLOW_WATCH_WRITE_TIMEOUT_SECONDS", 30.0, minimum=0.1),
            "fetch_allow_hosts": tuple(
                h.strip() for h in env.get("VECFLOW_FETCH_ALLOW_HOSTS", "").split(",") if h.strip()
            ),
            "fetch_timeout_seconds": _float(env, "VECFLOW_FETCH_TIMEOUT_SECONDS", 60.0, minimum=0.5),
            "fetch_max_redirects": _int(env, "VECFLOW_FETCH_MAX_REDIRECTS", 5),
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
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
