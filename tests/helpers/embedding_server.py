"""An OpenAI-compatible embeddings server on loopback that serves the packaged model: the stand-in for Text
Embeddings Inference (or vLLM, Infinity), which cannot run here. It answers `POST /v1/embeddings` with the real
all-MiniLM-L6-v2 vectors, L2-normalised as TEI returns them, so an api replica that embeds its search queries there
finds what workers indexed with the local model."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from vecflow.pipeline.embed.loading import DEFAULT_MODEL_NAME, default_model_path, load_local_model


@dataclass
class ModelEndpoint:
    url: str
    model: str = DEFAULT_MODEL_NAME
    requests: list[int] = field(default_factory=list)  # the number of texts in each request


@contextlib.contextmanager
def model_endpoint() -> Iterator[ModelEndpoint]:
    """Serve the packaged model at `ModelEndpoint.url` (`{url}/v1/embeddings`) until the block ends; the model
    loads on the first request (once per process)."""
    lock = threading.Lock()  # one encode at a time: the tokenizer is not safe across threads
    served = ModelEndpoint(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            with lock:
                model = load_local_model(default_model_path(), 1).model
                vectors = model.encode(texts, normalize_embeddings=True, convert_to_numpy=True).tolist()
            served.requests.append(len(texts))
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            self._answer({"object": "list", "data": data, "model": body.get("model", served.model)})

        def _answer(self, payload: Any) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    served.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
