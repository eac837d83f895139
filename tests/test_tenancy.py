"""Tenancy is a security boundary: every RPC refuses bad credentials, and foreign ids read as missing."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import json_format, message_factory
from helpers.rpc import all_methods, call_any, error_details
from helpers.server import Server
from vecflow.ids import new_id
from vecflow.storage import models as m
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

# RPCs that take no resource id (they act on the caller's own project only).
PROJECT_SCOPED = {
    "ListJobs",
    "CreateKnowledgeBase",
    "ListKnowledgeBases",
    "CreateVectorStore",
    "ListVectorStores",
    "CreateUpsertionTask",
    "ListUpsertionTasks",
    "SearchCollection",
    "CreateWebhook",
    "ListWebhooks",
}
UUID = "0b0e5f32-8a9e-4a57-9b0e-6d7a8a1c9f10"


def empty_request(method: Any) -> Any:
    return message_factory.GetMessageClass(method.input_type)()


@pytest.mark.parametrize("method", all_methods(), ids=lambda md: md.full_name)
async def test_every_rpc_refuses_missing_and_wrong_keys(server: Server, method: Any) -> None:
    request = empty_request(method)
    assert await call_any(server.channel(), method, request) == grpc.StatusCode.UNAUTHENTICATED
    bad_key = server.channel((("x-api-key", "vf_this-key-was-never-issued-0000000"),))
    assert await call_any(bad_key, method, request) == grpc.StatusCode.UNAUTHENTICATED
    bad_bearer = server.channel((("authorization", "Basic dXNlcjpwYXNz"),))
    assert await call_any(bad_bearer, method, request) == grpc.StatusCode.UNAUTHENTICATED
    # The same call with the right key gets past authentication.
    good = server.channel((("x-api-key", server.key.secret),))
    assert await call_any(good, method, request) != grpc.StatusCode.UNAUTHENTICATED


async def test_bearer_and_revoked_keys(server: Server) -> None:
    bearer = server.stubs(key="", authorization=f"Bearer {server.key.secret}")
    await bearer.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    other = await server.tenant()
    stubs = server.stubs(other.secret)
    await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    await server.app.auth.revoke_key(other.key_id)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stubs.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_details(err.value)["reason"] == "API_KEY_INVALID"


async def test_selected_account_must_match_and_on_behalf_of_is_recorded(server: Server) -> None:
    mismatched = server.stubs(x_selected_account_id="acct_someoneelse")
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await mismatched.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert error_details(err.value)["reason"] == "ACCOUNT_MISMATCH"

    matching = server.stubs(x_selected_account_id=server.key.account_id, x_on_behalf_of="alice@example.com")
    kb = (await matching.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="kb"))).knowledge_base
    assert kb.on_behalf_of == "alice@example.com"
    store = (await matching.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="vs"))).vector_store
    assert store.on_behalf_of == "alice@example.com"


async def _seed_project_a(server: Server) -> dict[str, str]:
    """Resources of every kind in the bootstrap project; rows whose creating RPCs come later are written directly."""
    stubs = server.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="a-kb"))).knowledge_base
    await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="docs"))
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name="a-vs"))).vector_store
    project = server.key.project_id
    ids = {"kb_id": kb.id, "vector_store_id": store.id, "path": "docs"}
    ids.update(
        file_id=new_id("file"),
        parse_result_id=new_id("parse_result"),
        job_id=new_id("job"),
        batch_id=new_id("file_batch"),
        task_id="task-a",
        webhook_id=new_id("webhook"),
    )
    async with server.app.db.session() as s:
        s.add(
            m.File(
                id=ids["file_id"],
                project_id=project,
                kb_id=kb.id,
                directory="docs",
                name="a.txt",
                uid="0" * 64,
                parse_state="success",
            )
        )
        await s.flush()
        s.add(m.ParseResult(id=ids["parse_result_id"], project_id=project, file_id=ids["file_id"]))
        s.add(m.Job(id=ids["job_id"], project_id=project, operation="parse", status="failed", source_id=ids["file_id"]))
        s.add(m.FileBatch(id=ids["batch_id"], project_id=project, vector_store_id=store.id))
        s.add(
            m.VectorStoreFile(
                vector_store_id=store.id,
                file_id=ids["file_id"],
                project_id=project,
                batch_id=ids["batch_id"],
                status="completed",
            )
        )
        s.add(m.UpsertionTask(id="task-a", project_id=project, items_digest="0" * 64, status="failed"))
        s.add(m.Webhook(id=ids["webhook_id"], project_id=project, url="https://8.8.8.8/", events=[], secret=""))
    return ids


def _request_with_ids(method: Any, ids: dict[str, str]) -> Any:
    request = empty_request(method)
    fields = {f.name for f in request.DESCRIPTOR.fields}
    values: dict[str, Any] = {k: v for k, v in ids.items() if k in fields}
    if "parse_result_ids" in fields:
        values["parse_result_ids"] = [ids["parse_result_id"]]
    if "request_id" in fields:
        values["request_id"] = UUID
    if "query" in fields:
        values["query"] = "hello"
    if "update_mask" in fields and "name" in fields:
        values["update_mask"] = "name"
        values["name"] = "renamed"
    elif "update_mask" in fields:
        values["update_mask"] = "attributes"
        values["attributes"] = {"shelf": "renamed"}
    if method.name == "UploadFile":
        return request.__class__(metadata=kb_pb2.UploadFileMetadata(kb_id=ids["kb_id"], name="x.txt"))
    return json_format.ParseDict(values, request)


async def test_foreign_ids_are_not_found_for_every_rpc(server: Server) -> None:
    ids = await _seed_project_a(server)
    intruder = await server.tenant()
    foreign = server.channel((("x-api-key", intruder.secret),))
    owner = server.channel((("x-api-key", server.key.secret),))
    checked = set()
    for method in all_methods():
        if method.name in PROJECT_SCOPED:
            continue
        request = _request_with_ids(method, ids)
        code = await call_any(foreign, method, request)
        assert code == grpc.StatusCode.NOT_FOUND, f"{method.full_name} answered {code.name} to another project"
        checked.add(method.name)
    # The same requests from the owner find the resources (deletes last, so nothing vanishes early).
    for method in sorted(all_methods(), key=lambda md: md.name.startswith("Delete")):
        if method.name in PROJECT_SCOPED:
            continue
        code = await call_any(owner, method, _request_with_ids(method, ids))
        assert code != grpc.StatusCode.NOT_FOUND, f"{method.full_name} could not find the owner's resource"
    assert checked | PROJECT_SCOPED == {md.name for md in all_methods()}


async def test_lists_never_show_another_projects_resources(server: Server) -> None:
    await _seed_project_a(server)
    intruder = server.stubs((await server.tenant()).secret)
    assert list((await intruder.kbs.ListKnowledgeBases(kb_pb2.ListKnowledgeBasesRequest())).knowledge_bases) == []
    assert list((await intruder.stores.ListVectorStores(vs_pb2.ListVectorStoresRequest())).vector_stores) == []
    from vecflow_client.v1 import job_service_pb2, upsertion_task_service_pb2

    assert list((await intruder.jobs.ListJobs(job_service_pb2.ListJobsRequest())).jobs) == []
    tasks = await intruder.tasks.ListUpsertionTasks(upsertion_task_service_pb2.ListUpsertionTasksRequest())
    assert tasks.total == 0
    owner = server.stubs()
    assert len((await owner.jobs.ListJobs(job_service_pb2.ListJobsRequest())).jobs) == 1
    # A name the other project uses is free here: names are unique per project only.
    await intruder.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="a-kb"))
