"""Prometheus metrics, served on their own HTTP port (VECFLOW_METRICS_ADDRESS)."""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

GRPC_CALLS = Counter("vecflow_grpc_calls_total", "Finished gRPC calls by method and status code.", ["method", "code"])
GRPC_LATENCY = Histogram(
    "vecflow_grpc_call_duration_seconds",
    "gRPC call duration, from first byte to status, by method.",
    ["method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
GRPC_STREAMS = Gauge("vecflow_grpc_streams_in_flight", "Streaming gRPC calls currently open, by method.", ["method"])
EMBED_TEXTS = Counter("vecflow_embedding_texts_total", "Texts the local embedding model encoded.")
EMBED_BATCHES = Counter("vecflow_embedding_batches_total", "Encode calls (batches) of the local embedding model.")
EMBED_CPU = Counter(
    "vecflow_embedding_cpu_seconds_total", "CPU time the local embedding model's encoder threads spent encoding."
)


class MetricsServer:
    """The /metrics HTTP endpoint on a background thread."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self._server: Any
        self._server, self._thread = start_http_server(int(port), addr=host.strip("[]"))
        self.port: int = self._server.server_address[1]
        self.host = host

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
