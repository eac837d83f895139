"""The Milvus adapter: every call vecflow makes to Milvus goes through `MilvusIndex`.

`uri` is either a local file ending in ``.db`` (milvus-lite: the engine runs in a child process over a
Unix socket) or ``http(s)://host:port`` for a Milvus server. pymilvus is blocking, so every call runs on
a small thread pool owned by the index; the public methods are coroutines and never block the loop.

Collections (created by `open()` when missing; opening again is a no-op)
------------------------------------------------------------------------
``vecflow_chunks`` -- one row per chunk of a vector-store file:

    pk               VARCHAR(256)   primary key, chosen by the caller (no auto id)
    project_id       VARCHAR(64)    INVERTED index
    vector_store_id  VARCHAR(64)    INVERTED index
    file_id          VARCHAR(64)    INVERTED index
    file_name        VARCHAR(1024)  (truncated to 1024 UTF-8 bytes)
    chunk_index, page, char_start, char_end     INT64
    text             VARCHAR(65535) english analyzer, enable_match
    sparse           SPARSE_FLOAT_VECTOR = BM25(text), computed by Milvus; SPARSE_INVERTED_INDEX, BM25
    dense            FLOAT_VECTOR(dim), COSINE; FLAT on milvus-lite, HNSW on a server ("auto")
    attributes       JSON, free-form, for the caller's filters

``vecflow_items_default`` and ``vecflow_items_categories`` -- upsertion-task items:

    pk VARCHAR(640) (``f"{project_id}:{object_id}"``), project_id VARCHAR(64) and object_id VARCHAR(512)
    (both INVERTED), text / sparse / dense as above, payload JSON, item_info JSON.
    (pk is 640 rather than 256 long: 64 + 1 + 512 characters must fit.)

Why it looks like this
----------------------
* Deterministic primary keys: the caller derives ``pk`` from what the row is (store, file, chunk index),
  so a retried job *upserts* the same rows instead of adding duplicates.
* Tenancy and filters use typed, INVERTED-indexed VARCHAR/INT64 fields, not JSON paths (orders of
  magnitude slower on milvus-lite) and not partition keys (milvus-lite does not support them). Every
  read and delete is scoped by ``project_id == ... [and vector_store_id == ...]`` built from values quoted
  by `_lit`; the caller's expression is ANDed in parentheses after a check that it cannot close them, and
  each hit's tenant fields are checked again in Python.
* Primary keys are stored with ``%``, ``'`` and ``\\`` percent-escaped (``%25 %27 %5C``) and handed back
  unescaped in `Hit.pk`: milvus-lite quotes pks into internal ``pk in ['...']`` expressions without
  escaping, so an upsert of a pk with ``'`` fails and a hybrid search returning a pk with ``\\`` kills
  the engine. Ordinary ids are stored unchanged.
* If the milvus-lite child dies anyway, the next call restarts it and reconnects (the failing call errs).
* FLAT on milvus-lite: lite searches exactly anyway; a server gets HNSW unless told otherwise.
* Consistency: collections are created with Strong consistency and every search and count asks for
  Strong, so a read right after an upsert or delete sees it (verified on milvus-lite without flush()).
* Errors: pymilvus exceptions never leave this module; they become `VectorIndexError`, or
  `InvalidFilterError` (with Milvus' message) when a failed search turns out to be the filter's fault: a
  one-row query with the same expression fails as a parameter error. milvus-lite's parser recovers from
  some typos silently (``a ==== 1`` runs as ``a == 1``, trailing junk is dropped); only what it reports
  can be reported.
* pymilvus retries failed RPCs up to 75 times with back-off (minutes); a ``{name}`` template in a filter
  crashes milvus-lite's request handler with UNKNOWN, which it would retry for 3.5 minutes. Templates
  are refused up front, and calls pass ``retry_times`` (1 on lite, 5 on a server) and a per-call deadline.
* String literals: milvus-lite only understands the ``\\"`` and ``\\\\`` escapes; ``\\uXXXX`` and ``\\n`` are
  kept verbatim and match nothing, so non-ASCII text must be passed as is (`string_literal` does this;
  ``json.dumps`` without ``ensure_ascii=False`` does not).
* milvus-lite logging: we start its child process ourselves (a subclass of milvus_lite's Server) with its
  stdout/stderr appended to ``<db dir>/<db stem>-lite.log``, glog sent to that stream
  (``GLOG_logtostderr=1``; otherwise it writes ``/tmp/milvus.*.log.*``), glog at ERROR and up
  (``GLOG_minloglevel=2``), and the tantivy INFO chatter off (``MY_LOG_LEVEL=warn``); pre-set values of
  the last two are respected. pymilvus' own stderr handlers are silenced (its errors reach the caller as
  exceptions). The Unix socket still lives in the temp dir (path-length limit) and is removed by close().
"""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import functools
import logging
import math
import operator
import os
import re
import subprocess
import threading
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, TypeVar
from urllib.parse import urlparse

if TYPE_CHECKING:
    from pymilvus import MilvusClient

__all__ = [
    "CHUNKS_COLLECTION",
    "ITEM_COLLECTIONS",
    "Hit",
    "InvalidFilterError",
    "MilvusIndex",
    "VectorIndexError",
    "string_literal",
]

CHUNKS_COLLECTION = "vecflow_chunks"
ITEM_COLLECTIONS = {"default": "vecflow_items_default", "categories": "vecflow_items_categories"}

SearchMode = Literal["dense", "keyword", "hybrid"]
ItemCollection = Literal["default", "categories"]

MAX_LIMIT = 16384  # Milvus' topk ceiling
RRF_K = 60
MAX_FILTER_CHARS = 65536
RPC_TIMEOUT_S = 60.0  # a float on purpose: an int would make pymilvus retry for that long instead
CONNECT_TIMEOUT_S = 30.0
UPSERT_BATCH_ROWS = 512
UPSERT_BATCH_BYTES = 16 * 1024 * 1024
DELETE_BATCH = 256
ATTRIBUTE_PAGE_ROWS = 512  # chunks read and rewritten at a time when attributes change
LITE_LOG_ROTATE_BYTES = 16 * 1024 * 1024

CHUNK_OUTPUT = ("text", "file_id", "file_name", "chunk_index", "page", "char_start", "char_end", "attributes")
ITEM_OUTPUT = ("object_id", "text", "payload", "item_info")

_INDEX_TYPES = {"FLAT", "HNSW", "IVF_FLAT", "AUTOINDEX"}
_SERVER_SCHEMES = {"http", "https", "tcp", "grpc", "unix"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_RETRY_PREFIX = re.compile(r"^\[\w+\] Retry (?:run out of \d+ retry times|timeout: \S+), message=")
_STRING_ESCAPES = set("\\\"'?abfnrtv01234567xuU")  # what may follow a backslash in Milvus' lexer
_PK_UNSAFE = re.compile(r"[%'\\]")
_PK_ESCAPED = re.compile(r"%(25|27|5C)")
_PARAMETER_INVALID = 1100  # Milvus' ErrParameterInvalid, what a filter it cannot parse or type-check gets

T = TypeVar("T")
log = logging.getLogger(__name__)


class VectorIndexError(Exception):
    """A Milvus operation failed; `message` says why in plain words (Milvus' own message included).

    `reason` is a coarse code for the API layer: ``INVALID_FILTER`` (see `InvalidFilterError`),
    ``INVALID_ARGUMENT`` (bad rows, vector length, mode, limit), ``SCHEMA_MISMATCH`` (an existing
    collection does not fit this index, e.g. another dimension), ``UNAVAILABLE`` (cannot reach or start
    Milvus) or ``VECTOR_INDEX_ERROR`` (anything else).
    """

    reason = "VECTOR_INDEX_ERROR"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class InvalidFilterError(VectorIndexError):
    """The caller's filter expression was refused (by the pre-check here, or by Milvus)."""

    reason = "INVALID_FILTER"


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: the row's pk, its score (higher is better) and the requested output fields.

    Scores: cosine similarity (dense), BM25 (keyword), RRF or normalised weighted sum (hybrid).
    """

    pk: str
    score: float
    fields: dict[str, Any] = field(default_factory=dict)


# --- expressions ---------------------------------------------------------------------------------


def _invalid(message: str) -> VectorIndexError:
    return VectorIndexError(message, reason="INVALID_ARGUMENT")


def _lit(value: object, what: str) -> str:
    """`value` as a Milvus string literal; only backslash and double quote need escaping.

    milvus-lite does not understand ``\\uXXXX`` escapes, so other characters are passed as they are;
    control characters are refused (no id contains them, and a raw newline would end the literal).
    """
    if not isinstance(value, str):
        raise _invalid(f"{what} must be a string, got {type(value).__name__}")
    if _CONTROL.search(value):
        raise _invalid(f"{what} must not contain control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def string_literal(value: str) -> str:
    """`value` as a double-quoted Milvus string literal, safe to put in a filter expression."""
    return _lit(value, "value")


def chunk_pk(vector_store_id: str, file_id: str, generation: str, index: int) -> str:
    """A chunk's primary key: its store, file, generation (the indexing job that wrote it) and index.
    Chunks written before generations existed have none (and `chunk_generation` gives "" for them)."""
    if generation:
        return f"{vector_store_id}:{file_id}:{generation}:{index}"
    return f"{vector_store_id}:{file_id}:{index}"


def chunk_generation(pk: str) -> str:
    """The generation part of a chunk pk made by `chunk_pk`."""
    parts = pk.split(":")
    return parts[2] if len(parts) == 4 else ""


def _members(scope: str, field: str, values: Sequence[str]) -> list[str]:
    """`scope and field in [...]` expressions, DELETE_BATCH values each (none for no values)."""
    return [
        f"{scope} and {field} in [{', '.join(_lit(v, field) for v in values[n : n + DELETE_BATCH])}]"
        for n in range(0, len(values), DELETE_BATCH)
    ]


def _scope(**values: str) -> str:
    return " and ".join(f"{name} == {_lit(value, name)}" for name, value in values.items())


def _caller_filter(expr: str | None) -> str:
    """The caller's filter, parenthesised, or "" for none; refuses what could escape the parentheses.

    The scan follows Milvus' lexer: strings in single or double quotes; a backslash escapes the next
    character, which must start a C escape (\\\\ \\" \\' \\n \\x.. \\u.... etc.), never a quote or parenthesis.
    Outside strings parentheses must balance and never go below zero; ``{...}`` templates are refused
    (milvus-lite crashes on them, and nothing here passes template values).
    """
    if expr is None:
        return ""
    if not isinstance(expr, str):
        raise InvalidFilterError(f"filter expression must be a string, got {type(expr).__name__}")
    expr = expr.strip()
    if not expr:
        return ""
    if len(expr) > MAX_FILTER_CHARS:
        raise InvalidFilterError(f"filter expression is longer than {MAX_FILTER_CHARS} characters")
    depth, quote, escaped = 0, "", False
    for pos, ch in enumerate(expr, start=1):
        if quote:
            if escaped:
                if ch not in _STRING_ESCAPES:
                    raise InvalidFilterError(f"invalid filter expression: unsupported escape \\{ch} at position {pos}")
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
            elif _CONTROL.match(ch):
                raise InvalidFilterError(f"invalid filter expression: control character in a string at position {pos}")
            continue
        if ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise InvalidFilterError(f"invalid filter expression: unbalanced ')' at position {pos}")
        elif ch in "{}":
            raise InvalidFilterError(f"invalid filter expression: unexpected {ch!r} at position {pos}")
    if quote:
        raise InvalidFilterError("invalid filter expression: unterminated string")
    if depth:
        raise InvalidFilterError("invalid filter expression: unbalanced '('")
    return f"({expr})"


# --- errors --------------------------------------------------------------------------------------


def _message(exc: BaseException) -> str:
    msg = getattr(exc, "message", None)
    if not isinstance(msg, str) or not msg:
        details = getattr(exc, "details", None)
        msg = details() if callable(details) else str(exc)
    msg = _RETRY_PREFIX.sub("", str(msg)).strip()
    return msg or type(exc).__name__


def _looks_unavailable(exc: BaseException, msg: str) -> bool:
    if type(exc).__name__ in {"MilvusUnavailableException", "ConnectionNotExistException"}:
        return True
    code = getattr(exc, "code", None)
    if callable(code):  # a raw grpc.RpcError
        try:
            code = code()
        except Exception:
            code = None
    lowered = msg.lower()
    return (
        "unavailable" in str(code).lower()
        or "unavailable" in lowered
        or "fail connecting" in lowered
        or "failed to connect" in lowered
        or "connection refused" in lowered
        or "deadline exceeded" in lowered
    )


def _wrap(exc: BaseException, action: str, reason: str | None = None) -> VectorIndexError:
    if isinstance(exc, VectorIndexError):
        return exc
    msg = _message(exc)
    if reason is None:
        reason = "UNAVAILABLE" if _looks_unavailable(exc, msg) else "VECTOR_INDEX_ERROR"
    return VectorIndexError(f"{action}: {msg}", reason=reason)


# --- rows ----------------------------------------------------------------------------------------


def _text(value: object, what: str, max_bytes: int, *, required: bool = True) -> tuple[str, int]:
    if not isinstance(value, str):
        raise _invalid(f"{what} must be a string, got {type(value).__name__}")
    size = len(value.encode())
    if required and not value:
        raise _invalid(f"{what} must not be empty")
    if size > max_bytes:
        raise _invalid(f"{what} is {size} bytes long, the limit is {max_bytes}")
    return value, size


def _ident(value: object, what: str, max_bytes: int) -> str:
    text, _ = _text(value, what, max_bytes)
    if _CONTROL.search(text):
        raise _invalid(f"{what} must not contain control characters")
    return text


def _store_pk(value: object, what: str, max_bytes: int) -> str:
    """The pk as stored: ``%``, ``'`` and ``\\`` percent-escaped (see the module docstring), length-checked."""
    stored = _PK_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", _ident(value, what, max_bytes))
    size = len(stored.encode())
    if size > max_bytes:
        raise _invalid(f"{what} is {size} bytes long once % ' and \\ are escaped, the limit is {max_bytes}")
    return stored


def _public_pk(stored: object) -> str:
    return _PK_ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), str(stored))


def _truncate(value: object, max_bytes: int) -> str:
    text = "" if value is None else str(value)
    raw = text.encode()
    return text if len(raw) <= max_bytes else raw[:max_bytes].decode(errors="ignore")


def _int(value: object, what: str, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, bool):
        raise _invalid(f"{what} must be an integer, got bool")
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise _invalid(f"{what} must be an integer, got {type(value).__name__}") from None


def _json(value: object, what: str) -> Any:
    if value is None:
        return {}
    if not isinstance(value, Mapping | list):
        raise _invalid(f"{what} must be an object (dict), got {type(value).__name__}")
    return dict(value) if isinstance(value, Mapping) else value


def _vector(value: object, dim: int, what: str) -> list[float]:
    if value is None:
        raise _invalid(f"{what} is required")
    tolist = getattr(value, "tolist", None)
    seq = tolist() if callable(tolist) else value
    try:
        vec = [float(x) for x in seq]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise _invalid(f"{what} must be a sequence of numbers") from None
    if len(vec) != dim:
        raise _invalid(f"{what} has {len(vec)} dimensions, the index has {dim}")
    if not all(math.isfinite(x) for x in vec):
        raise _invalid(f"{what} contains NaN or infinity")
    return vec


def _check_keys(raw: Mapping[str, Any], allowed: frozenset[str], required: tuple[str, ...], where: str) -> None:
    if not isinstance(raw, Mapping):
        raise _invalid(f"{where} must be a dict, got {type(raw).__name__}")
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise _invalid(f"{where} has unknown fields {unknown} (sparse is computed by Milvus)")
    missing = [k for k in required if raw.get(k) is None]
    if missing:
        raise _invalid(f"{where} is missing {missing}")


_CHUNK_REQUIRED = ("pk", "project_id", "vector_store_id", "file_id", "chunk_index", "text", "dense")
_CHUNK_KEYS = frozenset((*_CHUNK_REQUIRED, "file_name", "page", "char_start", "char_end", "attributes"))
_ITEM_REQUIRED = ("project_id", "object_id", "text", "dense")
_ITEM_KEYS = frozenset((*_ITEM_REQUIRED, "pk", "payload", "item_info"))


def _dedupe(rows: list[tuple[dict[str, Any], int]]) -> list[tuple[dict[str, Any], int]]:
    """Last row wins for a repeated pk (what a sequence of upserts would do)."""
    by_pk = {row["pk"]: (row, size) for row, size in rows}
    return list(by_pk.values())


# --- milvus-lite child process ---------------------------------------------------------------------


@functools.cache
def _pymilvus() -> ModuleType:
    import pymilvus

    # pymilvus installs its own stderr handlers ("pymilvus" at WARNING, "pymilvus.milvus_client" at
    # INFO) and logs every failed RPC as ERROR; failures reach our caller as VectorIndexError instead.
    for name in ("pymilvus", "pymilvus.milvus_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def _child_env(bin_path: Path, work_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    for var in ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH"):
        previous = os.environ.get("LD_LIBRARY_PATH", "")
        env[var] = f"{bin_path}:{previous}" if previous else str(bin_path)
    env["GLOG_logtostderr"] = "1"  # glog to stderr (our log file), never /tmp/milvus.*.log.*
    env["GLOG_log_dir"] = str(work_dir)  # in case something turns file logging back on
    env.setdefault("GLOG_minloglevel", "2")  # ERROR and up
    env.setdefault("MY_LOG_LEVEL", "warn")  # milvus' tantivy binding: env_logger filter, INFO by default
    return env


def _tail(path: Path, size: int = 2000) -> str:
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - size))
            return fh.read().decode(errors="replace").strip()
    except OSError:
        return ""


@functools.cache
def _lite_server_class() -> type:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # milvus_lite imports the deprecated pkg_resources
        from milvus_lite.server import Server

    class LiteServer(Server):  # type: ignore[misc, valid-type]
        """milvus_lite's Server, started with quiet logging that stays in the database's directory."""

        _log_fh: Any = None

        @property
        def log_path(self) -> Path:
            return self._work_dir / f"{self._db_file.stem}-lite.log"

        def launch(self) -> None:
            if not (self._bin_path / self.MILVUS_BIN).exists():
                raise VectorIndexError(f"milvus-lite binary not found in {self._bin_path}", reason="UNAVAILABLE")
            lock = open(self._lock_path, "a")  # held until stop()
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                lock.close()
                raise VectorIndexError(
                    f"{self._db_file} is already open in another process", reason="UNAVAILABLE"
                ) from None
            self._lock_fd = lock
            log_path = self.log_path
            try:
                if log_path.exists() and log_path.stat().st_size > LITE_LOG_ROTATE_BYTES:
                    os.replace(log_path, log_path.with_name(log_path.name + ".1"))
                self._log_fh = log_path.open("ab")
                self._p = subprocess.Popen(
                    self.args,
                    env=_child_env(self._bin_path, self._work_dir),
                    cwd=str(self._work_dir),
                    stdin=subprocess.DEVNULL,
                    stdout=self._log_fh,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # a terminal's Ctrl-C goes to us; the child exits when our lock goes
                )
            except BaseException:
                self.stop()
                raise
            try:
                code = self._p.wait(0.3)
            except subprocess.TimeoutExpired:
                return
            self.stop()
            raise VectorIndexError(
                f"milvus-lite exited with code {code} while opening {self._db_file}: {_tail(log_path)}",
                reason="UNAVAILABLE",
            )

        def stop(self) -> None:
            super().stop()
            if self._log_fh is not None:
                self._log_fh.close()
                self._log_fh = None

    return LiteServer


_LITE_LOCK = threading.Lock()
_LITE_SERVERS: dict[str, list[Any]] = {}  # resolved db path -> [server, number of open indexes]
_ATEXIT: list[Any] = []  # non-empty once _stop_all_lite is registered


def _acquire_lite(db: Path) -> Any:
    """Start (or share) the milvus-lite child for `db`; one per database file per process."""
    key = str(db)
    with _LITE_LOCK:
        entry = _LITE_SERVERS.get(key)
        if entry is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = _lite_server_class()(key)
            server.launch()
            if not _ATEXIT:
                _ATEXIT.append(atexit.register(_stop_all_lite))
            entry = _LITE_SERVERS[key] = [server, 0]
        entry[1] += 1
        return entry[0]


def _alive(server: Any) -> bool:
    proc = server._p
    return proc is not None and proc.poll() is None


def _revive_lite(db: Path, dead: Any) -> Any:
    """Replace a milvus-lite child that exited (a crash) with a fresh one; other indexes reconnect to it."""
    key = str(db)
    with _LITE_LOCK:
        entry = _LITE_SERVERS.get(key)
        if entry is None:
            raise VectorIndexError(f"milvus-lite for {key} is not running", reason="UNAVAILABLE")
        if entry[0] is dead and not _alive(dead):
            code = dead._p.poll() if dead._p is not None else None
            log.warning(
                "milvus-lite exited unexpectedly (code %s); restarting it",
                code,
                extra={"db": key, "log_tail": _tail(dead.log_path, 1000)},
            )
            dead.stop()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server = _lite_server_class()(key)
            server.launch()
            entry[0] = server
        return entry[0]


def _close_client(client: MilvusClient | None) -> None:
    if client is not None:
        try:
            client.close()
        except Exception as exc:
            log.debug("closing the Milvus client failed: %s", exc)


def _release_lite(db: Path) -> None:
    key = str(db)
    with _LITE_LOCK:
        entry = _LITE_SERVERS.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _LITE_SERVERS[key]
    entry[0].stop()


def _stop_all_lite() -> None:
    with _LITE_LOCK:
        servers = [entry[0] for entry in _LITE_SERVERS.values()]
        _LITE_SERVERS.clear()
    for server in servers:
        try:
            server.stop()
        except Exception:  # interpreter shutdown: best effort
            pass


# --- the index -----------------------------------------------------------------------------------


def _is_lite(uri: str) -> bool:
    return urlparse(uri).scheme.lower() not in _SERVER_SCHEMES


class MilvusIndex:
    """Chunks of vector-store files and upsertion-task items in Milvus (see the module docstring).

    Open it with ``await index.open()`` (or ``async with``); the other methods open it on first use.
    Methods raise `VectorIndexError` (`InvalidFilterError` for a filter Milvus refuses).
    """

    def __init__(self, uri: str, token: str = "", dim: int = 384, index_type: str = "auto") -> None:
        if not isinstance(uri, str) or not uri.strip():
            raise ValueError("a Milvus uri is required: a local path ending in .db, or http(s)://host:port")
        if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= 32768:
            raise ValueError(f"dim must be an integer between 1 and 32768, got {dim!r}")
        self.uri = uri.strip()
        self.dim = dim
        self.is_lite = _is_lite(self.uri)
        self._db: Path | None = None
        if self.is_lite:
            if not self.uri.endswith(".db"):
                raise ValueError(f"milvus uri {uri!r} is neither http(s)://host:port nor a local file ending in .db")
            self._db = Path(self.uri).expanduser().resolve()
        wanted = index_type.strip().upper()
        if wanted == "AUTO":
            wanted = "FLAT" if self.is_lite else "HNSW"
        if wanted not in _INDEX_TYPES:
            raise ValueError(f"index_type must be auto or one of {sorted(_INDEX_TYPES)}, got {index_type!r}")
        self.index_type = wanted
        self._token = token
        self._opts: dict[str, Any] = {"timeout": RPC_TIMEOUT_S, "retry_times": 1 if self.is_lite else 5}
        self._client: MilvusClient | None = None
        self._server: Any = None  # our reference to the shared milvus-lite child, if any
        self._closed = False
        self._open_lock = asyncio.Lock()
        self._executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="vecflow-milvus")

    def __repr__(self) -> str:
        return f"MilvusIndex(uri={self.uri!r}, dim={self.dim}, index_type={self.index_type!r})"

    async def __aenter__(self) -> MilvusIndex:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect (starting milvus-lite if needed), create missing collections and load them.

        Also the recovery path: if the milvus-lite child died, the next call restarts it and reconnects.
        """
        async with self._open_lock:
            if self._closed:
                raise VectorIndexError("the Milvus index is closed", reason="UNAVAILABLE")
            if self._client is not None and self._healthy():
                return
            stale, self._client = self._client, None
            self._client = await self._run(self._open_sync, stale)

    async def close(self) -> None:
        """Disconnect and, when this was the last index on a milvus-lite file, stop its child process."""
        async with self._open_lock:
            if self._closed:
                return
            self._closed = True
            client, self._client = self._client, None
            try:
                await self._run(self._close_sync, client)
            finally:
                self._executor.shutdown(wait=False)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def _ready(self) -> MilvusClient:
        if self._client is None or not self._healthy():
            await self.open()
        assert self._client is not None
        return self._client

    def _healthy(self) -> bool:
        """False once our milvus-lite child has exited (a server connection heals by itself)."""
        return self._server is None or _alive(self._server)

    def _open_sync(self, stale: MilvusClient | None) -> MilvusClient:
        pm = _pymilvus()
        _close_client(stale)
        first = self._server is None
        try:
            if self._db is not None:
                if self._server is None:
                    self._db.parent.mkdir(parents=True, exist_ok=True)
                    self._server = _acquire_lite(self._db)
                elif not _alive(self._server):
                    self._server = _revive_lite(self._db, self._server)
                uri, token = self._server.uds_path, ""
            else:
                uri, token = self.uri, self._token
            client = pm.MilvusClient(
                uri=uri, token=token, alias=f"vecflow-{uuid.uuid4().hex}", timeout=CONNECT_TIMEOUT_S
            )
            try:
                self._ensure(client, CHUNKS_COLLECTION, self._chunk_schema(pm), self._index_params(client, chunks=True))
                for name in ITEM_COLLECTIONS.values():
                    self._ensure(client, name, self._item_schema(pm), self._index_params(client, chunks=False))
            except BaseException:
                _close_client(client)
                raise
            return client
        except Exception as exc:
            if first:
                self._release_server()
            raise _wrap(exc, f"opening Milvus at {self.uri}", reason="UNAVAILABLE") from exc

    def _close_sync(self, client: MilvusClient | None) -> None:
        _close_client(client)
        self._release_server()

    def _release_server(self) -> None:
        if self._server is not None and self._db is not None:
            self._server = None
            _release_lite(self._db)

    # schema -------------------------------------------------------------------------------------

    def _text_fields(self, pm: ModuleType, schema: Any) -> None:
        dt = pm.DataType
        schema.add_field(
            "text",
            dt.VARCHAR,
            max_length=65535,
            enable_analyzer=True,
            enable_match=True,
            analyzer_params={"type": "english"},
        )
        schema.add_field("sparse", dt.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", dt.FLOAT_VECTOR, dim=self.dim)
        schema.add_function(
            pm.Function(
                name="text_bm25",
                function_type=pm.FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )

    def _chunk_schema(self, pm: ModuleType) -> Any:
        dt = pm.DataType
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="vecflow chunks")
        schema.add_field("pk", dt.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("project_id", dt.VARCHAR, max_length=64)
        schema.add_field("vector_store_id", dt.VARCHAR, max_length=64)
        schema.add_field("file_id", dt.VARCHAR, max_length=64)
        schema.add_field("file_name", dt.VARCHAR, max_length=1024)
        for name in ("chunk_index", "page", "char_start", "char_end"):
            schema.add_field(name, dt.INT64)
        self._text_fields(pm, schema)
        schema.add_field("attributes", dt.JSON)
        return schema

    def _item_schema(self, pm: ModuleType) -> Any:
        dt = pm.DataType
        schema = pm.MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False, description="vecflow items")
        schema.add_field("pk", dt.VARCHAR, is_primary=True, max_length=640)
        schema.add_field("project_id", dt.VARCHAR, max_length=64)
        schema.add_field("object_id", dt.VARCHAR, max_length=512)
        self._text_fields(pm, schema)
        schema.add_field("payload", dt.JSON)
        schema.add_field("item_info", dt.JSON)
        return schema

    def _index_params(self, client: MilvusClient, *, chunks: bool) -> Any:
        params = client.prepare_index_params()
        build = {"HNSW": {"M": 16, "efConstruction": 200}, "IVF_FLAT": {"nlist": 1024}}.get(self.index_type, {})
        params.add_index(field_name="dense", index_type=self.index_type, metric_type="COSINE", params=build)
        params.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        scalars = ("project_id", "vector_store_id", "file_id") if chunks else ("project_id", "object_id")
        for name in scalars:
            params.add_index(field_name=name, index_type="INVERTED")
        return params

    def _dense_search_params(self, k: int) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if self.index_type == "HNSW":
            params = {"ef": max(k, 64)}
        elif self.index_type == "IVF_FLAT":
            params = {"nprobe": 32}
        return {"metric_type": "COSINE", "params": params}

    def _ensure(self, client: MilvusClient, name: str, schema: Any, index_params: Any) -> None:
        if not client.has_collection(name, **self._opts):
            try:
                client.create_collection(name, schema=schema, consistency_level="Strong", **self._opts)
                # sync=False: do not poll each index's state (pymilvus sleeps 0.5 s per index); an empty
                # collection's indexes exist as soon as CreateIndex returns, which is all load needs.
                client.create_index(name, index_params, sync=False, **self._opts)
            except Exception:
                if not client.has_collection(name, **self._opts):  # not a concurrent creator: a real failure
                    raise
        self._check_existing(client, name, schema)
        client.load_collection(name, **self._opts)

    def _check_existing(self, client: MilvusClient, name: str, schema: Any) -> None:
        described = client.describe_collection(name, **self._opts)
        fields = {f["name"]: f for f in described.get("fields", [])}
        missing = sorted({f.name for f in schema.fields} - set(fields))
        if missing:
            raise VectorIndexError(f"collection {name} exists without fields {missing}", reason="SCHEMA_MISMATCH")
        dim = int((fields["dense"].get("params") or {}).get("dim", 0))
        if dim != self.dim:
            raise VectorIndexError(
                f"collection {name} stores {dim}-dimensional vectors but this index was opened for {self.dim}; "
                "the embedding model changed, so the collection must be re-created and re-indexed",
                reason="SCHEMA_MISMATCH",
            )

    # chunks -------------------------------------------------------------------------------------

    def _chunk_row(self, raw: Mapping[str, Any], pos: int) -> tuple[dict[str, Any], int]:
        where = f"rows[{pos}]"
        _check_keys(raw, _CHUNK_KEYS, _CHUNK_REQUIRED, where)
        text, size = _text(raw["text"], f"{where}.text", 65535, required=False)
        row = {
            "pk": _store_pk(raw["pk"], f"{where}.pk", 256),
            "project_id": _ident(raw["project_id"], f"{where}.project_id", 64),
            "vector_store_id": _ident(raw["vector_store_id"], f"{where}.vector_store_id", 64),
            "file_id": _ident(raw["file_id"], f"{where}.file_id", 64),
            "file_name": _truncate(raw.get("file_name"), 1024),
            "chunk_index": _int(raw["chunk_index"], f"{where}.chunk_index"),
            "page": _int(raw.get("page"), f"{where}.page"),
            "char_start": _int(raw.get("char_start"), f"{where}.char_start"),
            "char_end": _int(raw.get("char_end"), f"{where}.char_end"),
            "text": text,
            "dense": _vector(raw["dense"], self.dim, f"{where}.dense"),
            "attributes": _json(raw.get("attributes"), f"{where}.attributes"),
        }
        return row, size + 4 * self.dim + 512

    async def upsert_chunks(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or replace chunks by pk; returns how many distinct rows were written."""
        client = await self._ready()
        return await self._run(self._upsert_sync, client, CHUNKS_COLLECTION, rows, self._chunk_row)

    async def set_file_attributes(
        self, project_id: str, vector_store_id: str, file_id: str, attributes: Mapping[str, Any] | None
    ) -> int:
        """Give every chunk of a file new attributes, keeping its text and vector (nothing is embedded);
        returns how many chunks were rewritten."""
        expr = _scope(project_id=project_id, vector_store_id=vector_store_id, file_id=file_id)
        client = await self._ready()
        return await self._run(self._set_attributes_sync, client, expr, _json(attributes, "attributes"))

    def _set_attributes_sync(self, client: MilvusClient, expr: str, attributes: Any) -> int:
        fields = sorted(_CHUNK_KEYS - {"attributes"})
        rewritten = 0
        try:  # pages in pk order, each rewritten before the next is read (pk > last: a rewrite is not seen again)
            pages = client.query_iterator(
                CHUNKS_COLLECTION, batch_size=ATTRIBUTE_PAGE_ROWS, filter=expr, output_fields=fields, **self._opts
            )
        except Exception as exc:
            raise _wrap(exc, f"reading chunks of {CHUNKS_COLLECTION}") from exc
        try:
            while True:
                try:
                    rows = pages.next()
                except Exception as exc:
                    raise _wrap(exc, f"reading chunks of {CHUNKS_COLLECTION}") from exc
                if not rows:
                    return rewritten
                batch = [
                    {
                        **{k: row.get(k) for k in fields},
                        "dense": [float(x) for x in row["dense"]],
                        "attributes": attributes,
                    }
                    for row in rows
                ]
                self._upsert_batch(client, CHUNKS_COLLECTION, batch)
                rewritten += len(batch)
        finally:
            pages.close()

    async def delete_file(self, project_id: str, vector_store_id: str, file_id: str) -> None:
        expr = _scope(project_id=project_id, vector_store_id=vector_store_id, file_id=file_id)
        client = await self._ready()
        await self._run(self._delete_sync, client, CHUNKS_COLLECTION, [expr])

    async def delete_files(self, project_id: str, vector_store_id: str, file_ids: Sequence[str]) -> None:
        """Delete the chunks of several files of one store, DELETE_BATCH files per expression."""
        exprs = _members(_scope(project_id=project_id, vector_store_id=vector_store_id), "file_id", file_ids)
        if exprs:
            client = await self._ready()
            await self._run(self._delete_sync, client, CHUNKS_COLLECTION, exprs)

    async def delete_chunks(self, project_id: str, vector_store_id: str, pks: Sequence[str]) -> None:
        """Delete chunks of one store by pk (see `chunk_pk`), DELETE_BATCH at a time."""
        exprs = _members(_scope(project_id=project_id, vector_store_id=vector_store_id), "pk", pks)
        if exprs:
            client = await self._ready()
            await self._run(self._delete_sync, client, CHUNKS_COLLECTION, exprs)

    async def delete_vector_store(self, project_id: str, vector_store_id: str) -> None:
        expr = _scope(project_id=project_id, vector_store_id=vector_store_id)
        client = await self._ready()
        await self._run(self._delete_sync, client, CHUNKS_COLLECTION, [expr])

    async def count_chunks(self, project_id: str, vector_store_id: str, file_id: str | None = None) -> int:
        scope = {"project_id": project_id, "vector_store_id": vector_store_id}
        if file_id is not None:
            scope["file_id"] = file_id
        client = await self._ready()
        return await self._run(self._count_sync, client, CHUNKS_COLLECTION, _scope(**scope))

    async def search_chunks(
        self,
        project_id: str,
        vector_store_id: str,
        *,
        dense: Sequence[float] | None,
        text: str | None,
        mode: SearchMode,
        limit: int,
        filter_expr: str = "",
        dense_weight: float = 0,
        keyword_weight: float = 0,
    ) -> list[Hit]:
        """Search one store's chunks. Hybrid fuses dense and BM25 results with RRF (k=60), or with a
        weighted sum when both weights are > 0. Hit fields: text, file_id, file_name, chunk_index, page,
        char_start, char_end, attributes."""
        return await self._search(
            CHUNKS_COLLECTION,
            {"project_id": project_id, "vector_store_id": vector_store_id},
            CHUNK_OUTPUT,
            dense=dense,
            text=text,
            mode=mode,
            limit=limit,
            filter_expr=filter_expr,
            dense_weight=dense_weight,
            keyword_weight=keyword_weight,
        )

    # items --------------------------------------------------------------------------------------

    @staticmethod
    def _items(collection: str) -> str:
        try:
            return ITEM_COLLECTIONS[collection]
        except (KeyError, TypeError):
            raise _invalid(f"collection must be one of {sorted(ITEM_COLLECTIONS)}, got {collection!r}") from None

    def _item_row(self, raw: Mapping[str, Any], pos: int) -> tuple[dict[str, Any], int]:
        where = f"rows[{pos}]"
        _check_keys(raw, _ITEM_KEYS, _ITEM_REQUIRED, where)
        project_id = _ident(raw["project_id"], f"{where}.project_id", 64)
        object_id = _ident(raw["object_id"], f"{where}.object_id", 512)
        pk = raw.get("pk")
        text, size = _text(raw["text"], f"{where}.text", 65535, required=False)
        row = {
            "pk": _store_pk(f"{project_id}:{object_id}" if pk is None else pk, f"{where}.pk", 640),
            "project_id": project_id,
            "object_id": object_id,
            "text": text,
            "dense": _vector(raw["dense"], self.dim, f"{where}.dense"),
            "payload": _json(raw.get("payload"), f"{where}.payload"),
            "item_info": _json(raw.get("item_info"), f"{where}.item_info"),
        }
        return row, size + 4 * self.dim + 512

    async def upsert_items(self, collection: ItemCollection, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert or replace items by pk (default ``f"{project_id}:{object_id}"``); returns the row count."""
        name = self._items(collection)
        client = await self._ready()
        return await self._run(self._upsert_sync, client, name, rows, self._item_row)

    async def delete_items(self, collection: ItemCollection, project_id: str, object_ids: Sequence[str]) -> None:
        name = self._items(collection)
        if isinstance(object_ids, str):
            raise _invalid("object_ids must be a list of strings, not one string")
        exprs = _members(_scope(project_id=project_id), "object_id", list(dict.fromkeys(object_ids)))
        if not exprs:
            return
        client = await self._ready()
        await self._run(self._delete_sync, client, name, exprs)

    async def count_items(self, collection: ItemCollection, project_id: str) -> int:
        name = self._items(collection)
        client = await self._ready()
        return await self._run(self._count_sync, client, name, _scope(project_id=project_id))

    async def search_items(
        self,
        collection: ItemCollection,
        project_id: str,
        *,
        dense: Sequence[float] | None,
        text: str | None,
        mode: SearchMode,
        limit: int,
        filter_expr: str = "",
        dense_weight: float = 0,
        keyword_weight: float = 0,
    ) -> list[Hit]:
        """Search one project's items; like `search_chunks`. Hit fields: object_id, text, payload, item_info."""
        return await self._search(
            self._items(collection),
            {"project_id": project_id},
            ITEM_OUTPUT,
            dense=dense,
            text=text,
            mode=mode,
            limit=limit,
            filter_expr=filter_expr,
            dense_weight=dense_weight,
            keyword_weight=keyword_weight,
        )

    # shared operations (run on the executor) ----------------------------------------------------

    def _upsert_sync(
        self,
        client: MilvusClient,
        collection: str,
        rows: Sequence[Mapping[str, Any]],
        prepare: Callable[[Mapping[str, Any], int], tuple[dict[str, Any], int]],
    ) -> int:
        if isinstance(rows, Mapping):
            raise _invalid("rows must be a list of dicts")
        prepared = _dedupe([prepare(raw, pos) for pos, raw in enumerate(rows)])
        batch: list[dict[str, Any]] = []
        size = 0
        for row, row_size in prepared:
            if batch and (len(batch) >= UPSERT_BATCH_ROWS or size + row_size > UPSERT_BATCH_BYTES):
                self._upsert_batch(client, collection, batch)
                batch, size = [], 0
            batch.append(row)
            size += row_size
        if batch:
            self._upsert_batch(client, collection, batch)
        return len(prepared)

    def _upsert_batch(self, client: MilvusClient, collection: str, batch: list[dict[str, Any]]) -> None:
        try:
            client.upsert(collection, batch, **self._opts)
        except Exception as exc:
            raise _wrap(exc, f"upserting {len(batch)} rows into {collection}") from exc

    def _delete_sync(self, client: MilvusClient, collection: str, exprs: list[str]) -> None:
        for expr in exprs:
            try:
                client.delete(collection, filter=expr, **self._opts)
            except Exception as exc:
                raise _wrap(exc, f"deleting from {collection}") from exc

    def _count_sync(self, client: MilvusClient, collection: str, expr: str) -> int:
        try:
            res = client.query(
                collection, filter=expr, output_fields=["count(*)"], consistency_level="Strong", **self._opts
            )
        except Exception as exc:
            raise _wrap(exc, f"counting in {collection}") from exc
        return int(res[0]["count(*)"]) if res else 0

    def _filter_problem(self, client: MilvusClient, collection: str, expr: str) -> str | None:
        """Milvus' complaint about `expr` if a one-row query with it fails as a parameter error, else None."""
        try:
            client.query(collection, filter=expr, limit=1, output_fields=["pk"], **self._opts)
        except Exception as exc:
            msg = _message(exc)
            if getattr(exc, "code", None) == _PARAMETER_INVALID or "expr" in msg.lower() or "parse" in msg.lower():
                return msg
        return None

    async def _search(
        self,
        collection: str,
        tenant: dict[str, str],
        output: tuple[str, ...],
        *,
        dense: Sequence[float] | None,
        text: str | None,
        mode: str,
        limit: int,
        filter_expr: str,
        dense_weight: float,
        keyword_weight: float,
    ) -> list[Hit]:
        if mode not in ("dense", "keyword", "hybrid"):
            raise _invalid(f"mode must be dense, keyword or hybrid, got {mode!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise _invalid(f"limit must be an integer between 1 and {MAX_LIMIT}, got {limit!r}")
        vector = _vector(dense, self.dim, "dense") if mode != "keyword" else None
        query = text or ""
        if mode == "keyword" and text is None:
            raise _invalid("keyword search needs text")
        if not isinstance(query, str):
            raise _invalid(f"text must be a string, got {type(query).__name__}")
        if mode == "hybrid" and not query.strip():
            mode = "dense"  # nothing for BM25 to match
        weights: tuple[float, float] | None = None
        for name, w in (("dense_weight", dense_weight), ("keyword_weight", keyword_weight)):
            if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
                raise _invalid(f"{name} must be a number >= 0, got {w!r}")
        if dense_weight > 0 and keyword_weight > 0:
            total = float(dense_weight + keyword_weight)
            weights = (dense_weight / total, keyword_weight / total)  # Milvus wants each weight in [0, 1]
        scope = _scope(**tenant)
        caller = _caller_filter(filter_expr)
        expr = f"{scope} and {caller}" if caller else scope
        client = await self._ready()
        return await self._run(
            self._search_sync,
            client,
            collection,
            tenant,
            output,
            expr,
            bool(caller),
            vector,
            query,
            mode,
            limit,
            weights,
        )

    def _search_sync(
        self,
        client: MilvusClient,
        collection: str,
        tenant: dict[str, str],
        output: tuple[str, ...],
        expr: str,
        has_caller_filter: bool,
        vector: list[float] | None,
        query: str,
        mode: str,
        limit: int,
        weights: tuple[float, float] | None,
    ) -> list[Hit]:
        pm = _pymilvus()
        fields = [*tenant, *output]
        bm25 = {"metric_type": "BM25", "params": {}}
        common: dict[str, Any] = {"output_fields": fields, "consistency_level": "Strong", **self._opts}
        try:
            if mode == "dense":
                res = client.search(
                    collection,
                    data=[vector],
                    anns_field="dense",
                    search_params=self._dense_search_params(limit),
                    filter=expr,
                    limit=limit,
                    **common,
                )
            elif mode == "keyword":
                if not query.strip():
                    res = [[]]
                else:
                    res = client.search(
                        collection,
                        data=[query],
                        anns_field="sparse",
                        search_params=bm25,
                        filter=expr,
                        limit=limit,
                        **common,
                    )
            else:
                k = min(MAX_LIMIT, max(2 * limit, 20))
                requests = [
                    pm.AnnSearchRequest(
                        data=[vector], anns_field="dense", param=self._dense_search_params(k), limit=k, expr=expr
                    ),
                    pm.AnnSearchRequest(data=[query], anns_field="sparse", param=bm25, limit=k, expr=expr),
                ]
                ranker = pm.WeightedRanker(*weights, norm_score=True) if weights else pm.RRFRanker(RRF_K)
                res = client.hybrid_search(collection, requests, ranker, limit=limit, **common)
        except Exception as exc:
            if (
                mode != "dense"
                and "Invalid sparse row" in _message(exc)
                and not self._count_sync(client, collection, "")
            ):
                return []  # BM25 has no statistics before a collection's first row: nothing to find yet
            problem = self._filter_problem(client, collection, expr) if has_caller_filter else None
            if problem is not None:
                raise InvalidFilterError(f"invalid filter expression: {problem}") from exc
            raise _wrap(exc, f"searching {collection}") from exc
        hits = []
        raw_hits = list(res[0]) if res else []
        for raw in raw_hits:
            entity = dict(raw.get("entity") or {})
            if any(entity.pop(name, None) != value for name, value in tenant.items()):
                log.error("Milvus returned a row outside the search scope; dropped", extra={"pk": raw.get("id")})
                continue
            hits.append(Hit(pk=_public_pk(raw["id"]), score=float(raw["distance"]), fields=entity))
        return hits
