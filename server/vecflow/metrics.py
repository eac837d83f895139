"""Prometheus metrics, served on their own HTTP port (VECFLOW_METRICS_ADDRESS).

Which replica a series comes from is the scrape target's `instance` label, added by Prometheus; the info metric
`vecflow_replica_info{replica, role} 1` maps it to the replica id (VECFLOW_REPLICA_ID) and role, to join on
(`... * on(instance) group_left(replica) vecflow_replica_info`). The series themselves carry no replica label:
one more label on every series would only repeat what `instance` says, and the usual practice is an info metric.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram, Info, start_http_server

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
WEBHOOK_ATTEMPTS = Counter(
    "vecflow_webhook_attempts_total",
    "Webhook delivery attempts, by what the delivery became: succeeded, pending (retried) or failed (given up).",
    ["outcome"],
)
REPLICA = Info("vecflow_replica", "This process's replica id (VECFLOW_REPLICA_ID) and role (VECFLOW_ROLE).")


def identify(replica: str, role: str) -> None:
    """Say which replica, in which role, these metrics are from (`vecflow_replica_info`)."""
    REPLICA.info({"replica": replica, "role": role})


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
