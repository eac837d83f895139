"""milvus-lite's engine as a gRPC server on a loopback port: the protocol a Milvus standalone speaks."""

from __future__ import annotations

import contextlib
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def milvus_lite_tcp(work: Path) -> Iterator[str]:
    """milvus-lite's engine serving `work`/milvus.db over gRPC on a free loopback port; yields its URI."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # milvus_lite imports the deprecated pkg_resources
        from milvus_lite.server import Server as LiteServer

    port = free_port()
    address = f"127.0.0.1:{port}"
    server = LiteServer(str(work / "milvus.db"), address=address)
    with pytest.MonkeyPatch.context() as env:  # glog to stderr at ERROR, never into /tmp/milvus.*
        env.setenv("GLOG_logtostderr", "1")
        env.setenv("GLOG_minloglevel", "2")
        env.setenv("MY_LOG_LEVEL", "warn")
        assert server.start(), "milvus-lite did not start"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"milvus-lite never listened on {address}"
                time.sleep(0.05)
        yield f"http://{address}"
    finally:
        if server._p is not None:  # given an address, the engine does not watch its lock file: stop it
            server._p.terminate()
            server._p.wait(10)
        server.stop()
