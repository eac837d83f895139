"""Hostile and careless requests: each answers a client error with details and the request id, never
INTERNAL or UNKNOWN, and the server keeps serving. Real server, real SQLite, real generated stubs."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from helpers.rpc import error_details
from helpers.server import Server, start_server
from test_pipeline import upload, wait
from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as task_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

NON_FINITE = [float("nan"), float("inf"), float("-inf")]


async def refused(call: Any, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT) -> dict[str, Any]:
    """Await a call that must fail with `code`; its error details, with the request id it answered."""
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    err = info.value
    assert err.code() == code, f"{err.code()}: {err.details()}"
    details = error_details(err)
    details["request_id"] = dict(err.trailing_metadata() or ()).get("x-request-id", "")
    details["message"] = err.details()
    assert details["domain"] == "vecflow.v1" and details["request_id"], details
    return details


def struct_with(value: Any) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update({"ok": "fine", "bad": {"inner": [1, value]}})
    return out


def nested_struct(levels: int) -> struct_pb2.Struct:
    data: dict[str, Any] = {"leaf": 1}
    for _ in range(levels - 1):
        data = {"n": data}
    out = struct_pb2.Struct()
    out.update(data)
    return out


async def upload_with(stubs: Any, kb_id: str, metadata: struct_pb2.Struct) -> Any:
    async def messages() -> AsyncIterator[kb_pb2.UploadFileRequest]:
        meta = kb_pb2.UploadFileMetadata(kb_id=kb_id, name="n.txt", metadata=metadata)
        yield kb_pb2.UploadFileRequest(metadata=meta)
        yield kb_pb2.UploadFileRequest(chunk=b"hello")

    return await stubs.kbs.UploadFile(messages())


def struct_calls(stubs: Any, kb_id: str, store_id: str, file_id: str) -> dict[str, Callable[[Any], Any]]:
    """Every RPC that takes a client Struct, as a function of that Struct."""
    return {
        "CreateKnowledgeBase": lambda s: stubs.kbs.CreateKnowledgeBase(
            kb_pb2.CreateKnowledgeBaseRequest(name="x", metadata=s)
        ),
        "UploadFile": lambda s: upload_with(stubs, kb_id, s),
        "CreateVectorStore": lambda s: stubs.stores.CreateVectorStore(
            vs_pb2.CreateVectorStoreRequest(name="x", metadata=s)
        ),
        "UpdateVectorStore": lambda s: stubs.stores.UpdateVectorStore(
            vs_pb2.UpdateVectorStoreRequest(vector_store_id=store_id, metadata=s, update_mask={"paths": ["metadata"]})
        ),
        "AddFilesToVectorStore": lambda s: stubs.stores.AddFilesToVectorStore(
            vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store_id, file_ids=[file_id], attributes=s)
        ),
        "CreateFileBatch": lambda s: stubs.stores.CreateFileBatch(
            vs_pb2.CreateFileBatchRequest(vector_store_id=store_id, file_ids=[file_id], attributes=s)
        ),
        "CreateUpsertionTask.payload": lambda s: stubs.tasks.CreateUpsertionTask(
            task_pb2.CreateUpsertionTaskRequest(items=[task_pb2.UpsertionItem(object_id="a", payload=s)])
        ),
        "CreateUpsertionTask.item_info": lambda s: stubs.tasks.CreateUpsertionTask(
            task_pb2.CreateUpsertionTaskRequest(
                items=[task_pb2.UpsertionItem(object_id="a", payload=struct_with("x"), item_info=s)]
            )
        ),
    }


async def test_structs_with_non_finite_numbers_or_deep_nesting_are_invalid_argument(server: Server) -> None:
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kb"))).knowledge_base
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="vs"))).vector_store
    file = (await upload(stubs, kb.id, "a.txt", b"some text", parse=False)).file
    calls = struct_calls(stubs, kb.id, store.id, file.id)
    assert len(calls) == 8  # 7 RPCs; upsertion items carry two Structs
    for rpc, call in calls.items():
        for value in NON_FINITE:
            details = await refused(call(struct_with(value)))
            assert details["violations"], (rpc, details)
            field, description = details["violations"][0]
            assert field.endswith("bad.inner[1]") and "finite" in description, (rpc, field, description)
        details = await refused(call(nested_struct(33)))
        assert "nests deeper than 32 levels" in details["message"], (rpc, details)
    # 32 levels are fine, and nothing above was recorded.
    deep = await stubs.kbs.CreateKnowledgeBase(
        kb_pb2.CreateKnowledgeBaseRequest(name="deep", metadata=nested_struct(32))
    )
    assert deep.knowledge_base.metadata.fields["n"].struct_value.fields["n"].HasField("struct_value")
    listed = await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    assert sorted(k.name for k in listed.knowledge_bases) == ["deep", "kb"]
    stores = await stubs.stores.ListVectorStores(vs_pb2.ListVectorStoresRequest())
    assert [s.name for s in stores.vector_stores] == ["vs"]


def _field(number: int, wire: int, payload: bytes) -> bytes:
    def varint(n: int) -> bytes:
        out = bytearray()
        while True:
            byte, n = n & 0x7F, n >> 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)

    key = varint(number << 3 | wire)
    return key + (varint(len(payload)) + payload if wire == 2 else payload)


def _deep_struct_bytes(levels: int) -> bytes:
    """A Struct nested `levels` deep, encoded by hand (too deep for protobuf to build or decode)."""
    inner = b""
    for _ in range(levels):
        value = _field(5, 2, inner)  # Value.struct_value
        entry = _field(1, 2, b"n") + _field(2, 2, value)  # map entry: key, value
        inner = _field(1, 2, entry)  # Struct.fields
    return inner


async def test_bytes_that_do_not_decode_are_invalid_argument_with_a_request_id(server: Server) -> None:
    channel = server.channel((("x-api-key", server.key.secret),))
    raw = {"request_serializer": lambda b: b, "response_deserializer": lambda b: b}
    create = channel.unary_unary("/vecflow.v1.KnowledgeBaseService/CreateKnowledgeBase", **raw)
    valid = kb_pb2.CreateKnowledgeBaseRequest(name="valid", description="d").SerializeToString()
    cases = {
        "bad utf-8": _field(1, 2, b"\xff\xfe\xfa"),
        "truncated": valid[:-1],
        "garbage": b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",
        "nested 60 levels": _field(3, 2, _deep_struct_bytes(60)),
    }
    for case, body in cases.items():
        details = await refused(create(body))
        assert details["reason"] == "MALFORMED_REQUEST", (case, details)
        assert details["metadata"]["message_type"] == "vecflow.v1.CreateKnowledgeBaseRequest"
    # A client-streamed call: the metadata message is too deep to decode.
    upload_raw = channel.stream_unary("/vecflow.v1.KnowledgeBaseService/UploadFile", **raw)

    async def messages() -> AsyncIterator[bytes]:
        yield _field(1, 2, _field(1, 2, b"kb_x") + _field(4, 2, _deep_struct_bytes(60)))

    details = await refused(upload_raw(messages()))
    assert details["reason"] == "MALFORMED_REQUEST"
    # A server-streamed call.
    watch = channel.unary_stream("/vecflow.v1.JobService/WatchJob", **raw)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        async for _ in watch(_field(1, 2, b"\xc3\x28")):
            pass
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    # The server still serves, and nothing was created.
    stubs = server.stubs()
    listed = await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    assert list(listed.knowledge_bases) == []


def _forge(token: str, position: Any) -> str:
    """A token with the same fingerprint and signature but another position."""
    body, _, signature = token.partition(".")
    data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    data["p"] = position
    forged = base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")
    return f"{forged}.{signature}"


async def test_page_tokens_are_signed_and_bound_to_the_project(server: Server) -> None:
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kb0"))).knowledge_base
    for i in range(1, 3):
        await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name=f"kb{i}"))
        await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name=f"vs{i}"))
    for i in range(3):
        await upload(stubs, kb.id, f"f{i}.txt", b"text", parse=True)
    lists: dict[str, tuple[Callable[[str], Any], Callable[[Any], str]]] = {
        "ListKnowledgeBases": (
            lambda t: stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_size=1, page_token=t)),
            lambda r: r.next_page_token,
        ),
        "ListVectorStores": (
            lambda t: stubs.stores.ListVectorStores(vs_pb2.ListVectorStoresRequest(page_size=1, page_token=t)),
            lambda r: r.next_page_token,
        ),
        "ListJobs": (
            lambda t: stubs.jobs.ListJobs(job_service_pb2.ListJobsRequest(page_size=1, page_token=t)),
            lambda r: r.next_page_token,
        ),
        "ListFiles": (
            lambda t: stubs.kbs.ListFiles(kb_pb2.ListFilesRequest(kb_id=kb.id, page_size=1, page_token=t)),
            lambda r: r.next_page_token,
        ),
    }
    other = await server.tenant()
    foreign = server.stubs(other.secret)
    for rpc, (call, next_token) in lists.items():
        token = next_token(await call(""))
        assert token, rpc
        assert next_token(await call(token)) != token  # the real token works
        forgeries = [
            _forge(token, ["not a date", "x"]),
            _forge(token, [None, 5]),
            _forge(token, []),
            _forge(token, "p"),
            _forge(token, [["nested"], {"a": 1}, 3]),
            token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
            token.partition(".")[0],
            "!!!." + token.partition(".")[2],
            "x" * 5000,
        ]
        for forged in forgeries:
            details = await refused(call(forged))
            assert details["reason"] == "INVALID_PAGE_TOKEN", (rpc, forged, details)
    # Another project's token (same kind of list) is refused too.
    mine = (await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_size=1))).next_page_token
    await foreign.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="theirs"))
    details = await refused(foreign.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_token=mine)))
    assert details["reason"] == "INVALID_PAGE_TOKEN"


async def test_page_tokens_survive_a_restart(tmp_path: Any, sqlite_url: str) -> None:
    first = await start_server(tmp_path, sqlite_url)
    key = first.key
    try:
        stubs = first.stubs()
        for i in range(3):
            await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name=f"kb{i}"))
        page = await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest(page_size=2))
    finally:
        await first.close()
    second = await start_server(tmp_path, sqlite_url, key=key)
    try:
        rest = await second.stubs().kbs.ListKnowledgeBases(
            kb_pb2.ListKnowledgeBasesRequest(page_size=2, page_token=page.next_page_token)
        )
        names = [k.name for k in page.knowledge_bases] + [k.name for k in rest.knowledge_bases]
        assert sorted(names) == ["kb0", "kb1", "kb2"] and not rest.next_page_token
    finally:
        await second.close()


FILTERS_REFUSED = [
    r'a = "\q"',
    r'a = "\u00"',
    r'a = "\x41"',
    r'a = "\ud800"',
    r'a = "\u0000"',
    r'a = "\n"',
    'a = "tab\there"',
    "(" * 40 + "a = 1" + ")" * 40,
    "NOT " * 40 + "a = 1",
    "a = ",
    'a = "unterminated',
]


async def test_filter_escapes_are_valid_or_invalid_filter(server: Server) -> None:
    stubs = server.stubs()
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="vs"))).vector_store
    for text in FILTERS_REFUSED:
        for call in (
            stubs.stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="q", filter=text)
            ),
            stubs.tasks.SearchCollection(task_pb2.SearchCollectionRequest(query="q", filter=text)),
        ):
            details = await refused(call)
            assert details["reason"] == "INVALID_FILTER", (text, details)
    # Valid escapes reach the index (nothing was ever inserted: no hits, no error).
    for text in (r'a = "\u0041\"\\\/"', r'a = "caf\u00e9"', 'a IN ["x", "y"] AND NOT (b = 1)'):
        found = await stubs.stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(
                vector_store_id=store.id,
                query="q",
                filter=text,
                ranking_options=common_pb2.RankingOptions(mode=common_pb2.RANKING_MODE_KEYWORD),
            )
        )
        assert list(found.hits) == []


async def test_non_finite_or_huge_fusion_weights_are_invalid_argument(server: Server) -> None:
    stubs = server.stubs()
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="vs"))).vector_store
    for options in (
        {"dense_weight": float("nan")},
        {"keyword_weight": float("inf")},
        {"dense_weight": float("-inf")},
        {"dense_weight": 1e300, "keyword_weight": 1e300},
        {"score_threshold": float("nan")},
    ):
        ranking = common_pb2.RankingOptions(mode=common_pb2.RANKING_MODE_HYBRID, **options)
        for call in (
            stubs.stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(vector_store_id=store.id, query="q", ranking_options=ranking)
            ),
            stubs.tasks.SearchCollection(task_pb2.SearchCollectionRequest(query="q", ranking_options=ranking)),
        ):
            details = await refused(call)
            assert details["violations"][0][0].startswith("ranking_options."), (options, details)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        (" ", "blank"),
        ("  report.pdf", "whitespace"),
        ("report.pdf ", "whitespace"),
        ("invoice\u202efdp.exe", "bidirectional"),
        ("a\u2066b", "bidirectional"),
        ("zero\u200bwidth", "invisible"),
        ("bom\ufeff", "invisible"),
        ("line\u2028sep", "control"),
        ("c1\x85", "control"),
    ],
)
async def test_ambiguous_names_are_refused(server: Server, name: str, problem: str) -> None:
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kb"))).knowledge_base
    details = await refused(upload(stubs, kb.id, name, b"x", parse=False))
    assert details["reason"] == "INVALID_PATH" and problem in details["message"], details
    details = await refused(stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path=f"d/{name}")))
    assert details["reason"] == "INVALID_PATH"
    await refused(stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name=name)))
    await refused(stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name=name)))


async def test_names_are_nfc_normalised_and_device_names_accepted(server: Server) -> None:
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="cafe\u0301"))).knowledge_base
    assert kb.name == "caf\u00e9"
    await refused(
        stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="caf\u00e9")),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    first = (await upload(stubs, kb.id, "re\u0301sume\u0301.txt", b"x", parse=False)).file
    assert first.name == "r\u00e9sum\u00e9.txt"
    details = await refused(
        upload(stubs, kb.id, "r\u00e9sum\u00e9.txt", b"y", parse=False), grpc.StatusCode.ALREADY_EXISTS
    )
    assert details["reason"] == "NAME_TAKEN"
    for device in ("CON", "nul.txt", "COM1"):
        assert (await upload(stubs, kb.id, device, b"x", parse=False)).file.name == device


async def test_create_racing_delete_of_one_store_ends_in_a_defined_code(any_server: Server) -> None:
    server = any_server
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kb"))).knowledge_base
    uploaded = await upload(stubs, kb.id, "a.txt", b"a short text about racing", parse=True)
    assert (await wait(server, uploaded.parse_job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
    file = uploaded.file
    defined = {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION}
    seen: list[grpc.StatusCode] = []

    async def code(call: Any) -> grpc.StatusCode:
        try:
            await call
        except grpc.aio.AioRpcError as err:
            assert err.code() in defined, f"{err.code()}: {err.details()}"
            return err.code()
        return grpc.StatusCode.OK

    for _ in range(12):
        store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="vs"))).vector_store
        calls = [
            stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=[file.id])),
            stubs.stores.AddFilesToVectorStore(
                vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[file.id])
            ),
            stubs.stores.DeleteVectorStore(vs_pb2.DeleteVectorStoreRequest(vector_store_id=store.id)),
        ]
        codes = await asyncio.gather(*(code(c) for c in calls))
        seen += codes
        if codes[2] == grpc.StatusCode.OK:  # the delete won or went after: the store and its files are gone
            await refused(
                stubs.stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store.id)),
                grpc.StatusCode.NOT_FOUND,
            )
        else:  # refused as busy: the store stays, with its files
            assert codes[2] == grpc.StatusCode.FAILED_PRECONDITION
            await stubs.stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store.id))
    assert grpc.StatusCode.OK in seen


async def test_a_search_while_the_embedding_endpoint_is_down_is_unavailable(tmp_path: Any, sqlite_url: str) -> None:
    """Not INTERNAL: the dependency is down, so the client gets UNAVAILABLE (retry later) with the reason."""
    srv = await start_server(tmp_path, sqlite_url, embedding_endpoint="http://127.0.0.1:9/v1", embedding_model="m")
    try:
        stubs = srv.stubs()
        for call in (
            stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="s")),  # its default chunk size
            stubs.tasks.SearchCollection(task_pb2.SearchCollectionRequest(query="red shoes")),
        ):
            details = await refused(call, grpc.StatusCode.UNAVAILABLE)
            assert details["reason"] == "EMBEDDING_UNAVAILABLE" and "could not be reached" in details["message"]
        assert (await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())).knowledge_bases == []
    finally:
        await srv.close()
