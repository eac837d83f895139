"""milvus-lite: local ``.db`` URIs and the engine's child process (one per database file, restarted when it
dies, logging into the database's directory)."""

from __future__ import annotations

import atexit
import fcntl
import functools
import logging
import os
import subprocess
import threading
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from vecflow.vectors.milvus.errors import VectorIndexError

LITE_LOG_ROTATE_BYTES = 16 * 1024 * 1024
_SERVER_SCHEMES = {"http", "https", "tcp", "grpc", "unix"}

log = logging.getLogger("vecflow.vectors.milvus")


# --- URIs ----------------------------------------------------------------------------------------------


def is_lite(uri: str) -> bool:
    """True unless `uri` is a Milvus server address (http, https, tcp, grpc or unix)."""
    return urlparse(uri).scheme.lower() not in _SERVER_SCHEMES


def lite_path(uri: str) -> Path | None:
    """The database file a milvus-lite `uri` names (None for a server address); it must end in .db."""
    stripped = uri.strip()
    if not is_lite(stripped):
        return None
    if not stripped.endswith(".db"):
        raise ValueError(f"milvus uri {uri!r} is neither http(s)://host:port nor a local file ending in .db")
    return Path(stripped).expanduser().resolve()


# --- the child process ---------------------------------------------------------------------------------


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

    class LiteServer(Server):
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


def acquire_lite(db: Path) -> Any:
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


def alive(server: Any) -> bool:
    """Whether the milvus-lite child of `server` is still running."""
    proc = server._p
    return proc is not None and proc.poll() is None


def revive_lite(db: Path, dead: Any) -> Any:
    """Replace a milvus-lite child that exited (a crash) with a fresh one; other indexes reconnect to it."""
    key = str(db)
    with _LITE_LOCK:
        entry = _LITE_SERVERS.get(key)
        if entry is None:
            raise VectorIndexError(f"milvus-lite for {key} is not running", reason="UNAVAILABLE")
        if entry[0] is dead and not alive(dead):
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


def release_lite(db: Path) -> None:
    """Drop one index's hold on the child for `db`; the last one out stops it."""
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
