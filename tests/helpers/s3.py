"""moto's S3 server on a free loopback port, in its own process: the closest real S3 that runs here."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence


@contextlib.contextmanager
def moto_server(buckets: Sequence[str] = ()) -> Iterator[str]:
    """Start `python -m moto.server` on loopback, create `buckets`; yields its endpoint URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, "moto_server exited"
                time.sleep(0.1)
        else:
            raise AssertionError("moto_server did not start listening")
        if buckets:
            import boto3

            client = boto3.session.Session().client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="test",
                aws_secret_access_key="test",
            )
            for name in buckets:
                client.create_bucket(Bucket=name)
        yield endpoint
    finally:
        proc.terminate()
        proc.wait(timeout=30)
