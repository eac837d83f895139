"""A seeded, time-bounded fuzzer over every RPC of vecflow.v1, built from the proto descriptors.

Each request is generated field by field from its message descriptor (edge-case numbers, NaN and
infinities, odd and huge strings, unknown enum values, deep and non-finite Structs, out-of-range
timestamps, real ids of the caller's resources mixed with made-up ones), or is a valid request whose wire
bytes were then damaged. Whatever arrives, the server must answer with a status a client can act on:
never INTERNAL or UNKNOWN, never a unary call that hangs past its deadline, and no job may fail with
INTERNAL_ERROR because of what a client sent.

VECFLOW_FUZZ_SEED picks the sequence (default fixed, so a failure reproduces); VECFLOW_FUZZ_SECONDS
bounds the run (default 40).
"""

from __future__ import annotations

import asyncio
import os
import random
import string
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor, message_factory
from helpers.rpc import all_methods
from helpers.server import Server, start_server
from test_pipeline import upload, wait
from vecflow_client.v1 import job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as task_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

SEED = int(os.environ.get("VECFLOW_FUZZ_SEED", "20261203"))
SECONDS = float(os.environ.get("VECFLOW_FUZZ_SECONDS", "40"))
CALLERS = 6
FORBIDDEN = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
FD = descriptor.FieldDescriptor

INTS = [0, 1, -1, 2, 7, 50, 1000, 2**31 - 1, -(2**31)]
INTS64 = [*INTS, 2**53 + 1, 2**63 - 1, -(2**63)]
DOUBLES = [0.0, -0.0, 1.0, -1.0, 0.5, float("nan"), float("inf"), float("-inf"), 1e308, -1e308, 5e-324]
STRINGS = [
    "",
    " ",
    "a",
    "..",
    ".",
    "/",
    "a//b",
    "../../etc/passwd",
    "CON",
    "naïve café",
    "e\u0301",
    "\u202efdp.exe",
    "\x00\x01\x7f",
    "\ud7ff\ue000\U0010ffff",
    "😀" * 50,
    "x" * 300,
    "y" * 5000,
    "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "not-a-uuid",
    "job_" + "0" * 32,
    "file_" + "f" * 32,
    "vs_x",
    "kb_x",
    "http://127.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "ftp://example.com/x",
    "https://user:pass@example.com/",
    'a = "\\q"',
    "((((((((a = 1",
    'a IN ["x", 1] AND NOT b = "c"',
    "text/html; charset=utf-16",
    "application/x-unknown",
    "a" * 64,
    "Z" * 64,
    "eyJwIjpbXSwiZiI6IngifQ.AAAA",
]


class Generator:
    """Random requests for one message type at a time, from its descriptor."""

    def __init__(self, rng: random.Random, ids: list[str]) -> None:
        self.rng = rng
        self.ids = ids

    def text(self) -> str:
        r = self.rng.random()
        if r < 0.35 and self.ids:
            return self.rng.choice(self.ids)
        if r < 0.8:
            return self.rng.choice(STRINGS)
        alphabet = string.printable + "éü中文\u200b\u2066"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(1, 40)))

    def json(self, depth: int) -> Any:
        r = self.rng.random()
        if depth > 0 and r < 0.25:
            return {self.text()[:20]: self.json(depth - 1) for _ in range(self.rng.randint(0, 3))}
        if depth > 0 and r < 0.35:
            return [self.json(depth - 1) for _ in range(self.rng.randint(0, 3))]
        if r < 0.6:
            return self.rng.choice(DOUBLES)
        if r < 0.8:
            return self.text()
        return self.rng.choice([True, False, None])

    def fill_struct(self, msg: Any) -> None:
        if self.rng.random() < 0.1:  # deep nesting, past what the API allows
            inner = msg
            for _ in range(self.rng.randint(30, 40)):
                inner = inner.get_or_create_struct("n")
            return
        data = self.json(4)
        msg.update(data if isinstance(data, dict) else {"v": data})

    def fill(self, msg: Any, depth: int = 0) -> Any:
        name = msg.DESCRIPTOR.full_name
        if name == "google.protobuf.Struct":
            self.fill_struct(msg)
            return msg
        if name == "google.protobuf.Timestamp":
            msg.seconds = self.rng.choice([0, -1, 1_700_000_000, 253402300800, -62135596801, 2**62])
            msg.nanos = self.rng.choice([0, 999_999_999, -1, 10**9])
            return msg
        if name == "google.protobuf.FieldMask":
            msg.paths.extend(self.rng.sample(["name", "metadata", "expires_after", "x", "", "name.x"], 2))
            return msg
        chosen_oneofs = {o.name: self.rng.choice(o.fields).name for o in msg.DESCRIPTOR.oneofs}
        for field in msg.DESCRIPTOR.fields:
            oneof = field.containing_oneof
            if oneof is not None and chosen_oneofs.get(oneof.name) != field.name:
                continue
            if self.rng.random() < 0.4:
                continue
            if field.is_repeated:
                count = self.rng.choice([0, 1, 2, 3, 3, 200 if depth == 0 else 3])
                for _ in range(count):
                    if field.type == FD.TYPE_MESSAGE:
                        if depth < 4:
                            self.fill(getattr(msg, field.name).add(), depth + 1)
                    else:
                        getattr(msg, field.name).append(self.scalar(field))
            elif field.type == FD.TYPE_MESSAGE:
                if depth < 4:
                    self.fill(getattr(msg, field.name), depth + 1)
            else:
                setattr(msg, field.name, self.scalar(field))
        return msg

    def scalar(self, field: Any) -> Any:
        t = field.type
        if t == FD.TYPE_STRING:
            return self.text()
        if t == FD.TYPE_BYTES:
            return self.rng.randbytes(self.rng.choice([0, 1, 16, 4096]))
        if t == FD.TYPE_BOOL:
            return self.rng.random() < 0.5
        if t in (FD.TYPE_DOUBLE, FD.TYPE_FLOAT):
            return self.rng.choice(DOUBLES)
        if t == FD.TYPE_ENUM:
            values = [v.number for v in field.enum_type.values]
            return self.rng.choice([*values, 999, -5])
        if t in (FD.TYPE_INT64, FD.TYPE_SINT64, FD.TYPE_SFIXED64):
            return self.rng.choice(INTS64)
        if t in (FD.TYPE_UINT64, FD.TYPE_FIXED64):
            return abs(self.rng.choice(INTS64)) % 2**64
        if t in (FD.TYPE_UINT32, FD.TYPE_FIXED32):
            return abs(self.rng.choice(INTS)) % 2**32
        return self.rng.choice(INTS)

    def damage(self, raw: bytes) -> bytes:
        data = bytearray(raw or b"\x0a")
        for _ in range(self.rng.randint(1, 4)):
            kind = self.rng.random()
            pos = self.rng.randrange(len(data)) if data else 0
            if kind < 0.4 and data:
                data[pos] = self.rng.randrange(256)
            elif kind < 0.7:
                data = data[: max(1, pos)]
            else:
                data[pos:pos] = self.rng.randbytes(self.rng.randint(1, 8))
        return bytes(data)


async def _resources(server: Server) -> list[str]:
    """Real resources of the caller, whose ids the generator mixes in."""
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="fuzz"))).knowledge_base
    await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="docs"))
    parsed = await upload(stubs, kb.id, "a.md", b"# Title\n\nSome text about fuzzing servers.", parse=True)
    done = await wait(server, parsed.parse_job.id)
    assert done.status == job_pb2.JOB_STATUS_SUCCEEDED
    raw = await upload(stubs, kb.id, "b.bin", b"\x00\x01binary", parse=False)
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="fuzz"))).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[parsed.file.id])
        )
    ).file_batch
    item = task_pb2.UpsertionItem(object_id="o1")
    item.payload.update({"text": "an item to search"})
    task = (await stubs.tasks.CreateUpsertionTask(task_pb2.CreateUpsertionTaskRequest(items=[item]))).upsertion_task
    await wait(server, batch.job_id)
    await wait(server, task.job_id)
    # Search once so the model is warm before calls with deadlines begin.
    await stubs.stores.SearchVectorStore(
        vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="fuzz"), timeout=120
    )
    file = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=parsed.file.id))).file
    return [
        kb.id,
        file.id,
        raw.file.id,
        file.parse_result_id,
        parsed.parse_job.id,
        store.id,
        batch.id,
        batch.job_id,
        task.id,
        task.job_id,
        "docs",
        "a.md",
    ]


async def _call(channel: grpc.aio.Channel, method: Any, gen: Generator, request_cls: Any) -> tuple[Any, str]:
    """One random call; returns (status code, what was sent)."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    raw_kwargs = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
    damaged = gen.rng.random() < 0.15
    messages = [gen.fill(request_cls()) for _ in range(gen.rng.randint(1, 3) if method.client_streaming else 1)]
    if method.client_streaming and method.name == "UploadFile" and gen.rng.random() < 0.7:
        # A plausible upload: metadata first, then content chunks.
        meta = messages[0]
        meta.ClearField("chunk")
        if gen.rng.random() < 0.8:
            meta.metadata.kb_id = gen.ids[0]
        messages[1:] = [request_cls(chunk=gen.rng.randbytes(gen.rng.choice([0, 10, 3000]))) for _ in range(2)]
    payloads = [m.SerializeToString() for m in messages]
    if damaged:
        payloads = [gen.damage(p) for p in payloads]
    sent = f"{method.name} damaged={damaged} {[str(m)[:300] for m in messages]}"
    try:
        if method.client_streaming:

            async def stream() -> AsyncIterator[bytes]:
                for p in payloads:
                    yield p

            await channel.stream_unary(path, **raw_kwargs)(stream(), timeout=15)
        elif method.server_streaming:
            call = channel.unary_stream(path, **raw_kwargs)(payloads[0], timeout=1.5)
            try:
                async for _ in call:
                    break
            finally:
                call.cancel()
        else:
            await channel.unary_unary(path, **raw_kwargs)(payloads[0], timeout=15)
    except grpc.aio.AioRpcError as err:
        code = err.code()
        if code == grpc.StatusCode.DEADLINE_EXCEEDED and method.server_streaming:
            return grpc.StatusCode.OK, sent  # a watch that had nothing to send yet
        if code == grpc.StatusCode.CANCELLED and method.server_streaming:
            return grpc.StatusCode.OK, sent
        return code, f"{sent} -> {err.details()}"
    return grpc.StatusCode.OK, sent


async def test_fuzz_every_rpc_never_answers_internal_or_unknown(tmp_path: Path, sqlite_url: str) -> None:
    server = await start_server(
        tmp_path, sqlite_url, fetch_allow_hosts=(), max_upload_bytes=1_000_000, fetch_timeout_seconds=2.0
    )
    try:
        ids = await _resources(server)
        methods = all_methods()
        classes = {m.full_name: message_factory.GetMessageClass(m.input_type) for m in methods}
        channel = server.channel((("x-api-key", server.key.secret),))
        failures: list[str] = []
        counts: dict[str, int] = {}
        deadline = time.monotonic() + SECONDS

        async def caller(index: int) -> None:
            gen = Generator(random.Random(SEED * 100 + index), ids)
            while time.monotonic() < deadline:
                method = gen.rng.choice(methods)
                code, sent = await _call(channel, method, gen, classes[method.full_name])
                counts[method.name] = counts.get(method.name, 0) + 1
                if code in FORBIDDEN or (code == grpc.StatusCode.DEADLINE_EXCEEDED and not method.server_streaming):
                    failures.append(f"{code.name}: {sent}"[:1500])

        await asyncio.gather(*(caller(i) for i in range(CALLERS)))
        assert not failures, f"{len(failures)} bad answers (seed {SEED}); first ones:\n" + "\n".join(failures[:5])
        assert len(counts) == len(methods), f"not every RPC was called: {sorted(counts)}"
        assert sum(counts.values()) > 200
        print(f"fuzz: {sum(counts.values())} calls over {len(counts)} RPCs in {SECONDS:.0f} s (seed {SEED})")
        # Jobs the fuzzer started may fail, but never with an internal error.
        stubs = server.stubs()
        await asyncio.sleep(1.0)
        token, failed = "", []
        while True:
            page = await stubs.jobs.ListJobs(job_service_pb2.ListJobsRequest(page_size=1000, page_token=token))
            failed += [
                j for j in page.jobs if j.status == job_pb2.JOB_STATUS_FAILED and j.error.code == "INTERNAL_ERROR"
            ]
            token = page.next_page_token
            if not token:
                break
        assert not failed, [(j.operation, j.error.message) for j in failed[:5]]
        # And the server still serves.
        await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    finally:
        await server.close()
