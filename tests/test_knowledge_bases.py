"""Knowledge bases and directories through the API: CRUD, namespaces, validation, paging, request ids."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from helpers.rpc import error_details
from helpers.server import Server
from vecflow.ids import new_id
from vecflow.storage import models as m
from vecflow_client.v1 import knowledge_base_service_pb2 as pb

REQUEST_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


async def expect_error(awaitable: object, code: grpc.StatusCode) -> dict:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await awaitable  # type: ignore[misc]
    assert err.value.code() == code, err.value.details()
    return {"message": err.value.details(), **error_details(err.value)}


async def test_create_get_list_delete(any_server: Server) -> None:
    kbs = any_server.stubs().kbs
    created = (
        await kbs.CreateKnowledgeBase(
            pb.CreateKnowledgeBaseRequest(name="Handbook", description="team docs", auto_parse=False)
        )
    ).knowledge_base
    assert created.id.startswith("kb_") and created.object == "knowledge_base"
    assert created.auto_parse is False and created.project_id == any_server.key.project_id
    got = (await kbs.GetKnowledgeBase(pb.GetKnowledgeBaseRequest(kb_id=created.id))).knowledge_base
    assert got == created
    default = (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="Other"))).knowledge_base
    assert default.auto_parse is True
    listed = (await kbs.ListKnowledgeBases(pb.ListKnowledgeBasesRequest())).knowledge_bases
    assert [kb.id for kb in listed] == [default.id, created.id]  # newest first
    await kbs.DeleteKnowledgeBase(pb.DeleteKnowledgeBaseRequest(kb_id=created.id))
    await expect_error(kbs.GetKnowledgeBase(pb.GetKnowledgeBaseRequest(kb_id=created.id)), grpc.StatusCode.NOT_FOUND)


async def test_metadata_round_trips_and_is_limited(server: Server) -> None:
    kbs = server.stubs().kbs
    request = pb.CreateKnowledgeBaseRequest(name="meta")
    request.metadata.update({"team": "search", "tags": ["a", "b"], "n": 3})
    kb = (await kbs.CreateKnowledgeBase(request)).knowledge_base
    assert dict(kb.metadata) == {"team": "search", "tags": ["a", "b"], "n": 3.0}
    big = pb.CreateKnowledgeBaseRequest(name="big")
    big.metadata.update({"blob": "x" * 20_000})
    details = await expect_error(kbs.CreateKnowledgeBase(big), grpc.StatusCode.INVALID_ARGUMENT)
    assert details["violations"][0][0] == "metadata" and "16384" in details["message"]


async def test_duplicate_name_is_already_exists(server: Server) -> None:
    kbs = server.stubs().kbs
    first = (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="dup"))).knowledge_base
    details = await expect_error(
        kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="dup")), grpc.StatusCode.ALREADY_EXISTS
    )
    assert details["reason"] == "KNOWLEDGE_BASE_NAME_TAKEN" and details["metadata"]["existing_id"] == first.id


async def test_directories_share_one_namespace_with_files(server: Server) -> None:
    kbs = server.stubs().kbs
    kb = (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="tree"))).knowledge_base
    docs = (await kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="docs"))).directory
    assert (docs.path, docs.name) == ("docs", "docs")
    details = await expect_error(
        kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="docs")), grpc.StatusCode.ALREADY_EXISTS
    )
    assert details["reason"] == "NAME_TAKEN"
    # A file named like a directory-to-be blocks it (files and folders share the namespace).
    async with server.app.db.session() as s:
        s.add(
            m.File(
                id=new_id("file"),
                project_id=server.key.project_id,
                kb_id=kb.id,
                directory="docs",
                name="report.pdf",
                uid="0" * 64,
            )
        )
    details = await expect_error(
        kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="docs/report.pdf")),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    assert details["metadata"]["existing_kind"] == "file"
    # Missing parents: NOT_FOUND unless create_parents.
    details = await expect_error(
        kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="a/b/c")), grpc.StatusCode.NOT_FOUND
    )
    assert details["reason"] == "PARENT_DIRECTORY_NOT_FOUND"
    deep = await kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="a/b/c", create_parents=True))
    assert deep.directory.path == "a/b/c"
    top = (await kbs.ListDirectories(pb.ListDirectoriesRequest(kb_id=kb.id))).directories
    assert [d.path for d in top] == ["a", "docs"]
    files = (await kbs.ListFiles(pb.ListFilesRequest(kb_id=kb.id, directory="docs"))).files
    assert [f.name for f in files] == ["report.pdf"]
    everything = (await kbs.ListFiles(pb.ListFilesRequest(kb_id=kb.id, recursive=True))).files
    assert len(everything) == 1
    await expect_error(kbs.ListFiles(pb.ListFilesRequest(kb_id=kb.id, directory="nope")), grpc.StatusCode.NOT_FOUND)


@pytest.mark.parametrize(
    "path",
    ["", "/", "a//b", "../etc", "a/./b", "a/../b", "x" * 256, "bad\x00name", "/".join(["s"] * 600)],
)
async def test_invalid_paths_are_refused(server: Server, path: str) -> None:
    kbs = server.stubs().kbs
    kb = (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="paths"))).knowledge_base
    details = await expect_error(
        kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path=path, create_parents=True)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert details["violations"][0][0] == "path"


async def test_delete_directory_needs_recursive_when_not_empty(server: Server) -> None:
    kbs = server.stubs().kbs
    kb = (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="del"))).knowledge_base
    await kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="x/y", create_parents=True))
    async with server.app.db.session() as s:
        s.add(
            m.File(
                id=new_id("file"),
                project_id=server.key.project_id,
                kb_id=kb.id,
                directory="x/y",
                name="f.txt",
                uid="0" * 64,
            )
        )
    details = await expect_error(
        kbs.DeleteDirectory(pb.DeleteDirectoryRequest(kb_id=kb.id, path="x")), grpc.StatusCode.FAILED_PRECONDITION
    )
    assert details["reason"] == "DIRECTORY_NOT_EMPTY"
    # A directory whose name only shares a prefix is not inside it.
    await kbs.CreateDirectory(pb.CreateDirectoryRequest(kb_id=kb.id, path="x_other"))
    done = await kbs.DeleteDirectory(pb.DeleteDirectoryRequest(kb_id=kb.id, path="x", recursive=True))
    assert (done.deleted_files, done.deleted_directories) == (1, 2)
    left = (await kbs.ListDirectories(pb.ListDirectoriesRequest(kb_id=kb.id))).directories
    assert [d.path for d in left] == ["x_other"]


async def test_paging_walks_every_item_once(server: Server) -> None:
    kbs = server.stubs().kbs
    made = [
        (await kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name=f"kb{i}"))).knowledge_base.id
        for i in range(7)
    ]
    seen, token, pages = [], "", 0
    while True:
        page = await kbs.ListKnowledgeBases(pb.ListKnowledgeBasesRequest(page_size=3, page_token=token))
        seen += [kb.id for kb in page.knowledge_bases]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and seen == list(reversed(made))
    details = await expect_error(
        kbs.ListKnowledgeBases(pb.ListKnowledgeBasesRequest(page_token="garbage!")), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert details["reason"] == "INVALID_PAGE_TOKEN"


async def test_request_id_makes_create_safe_to_retry(server: Server) -> None:
    kbs = server.stubs().kbs
    request = pb.CreateKnowledgeBaseRequest(name="once", request_id=REQUEST_ID)
    results = await asyncio.gather(*[kbs.CreateKnowledgeBase(request) for _ in range(8)])
    assert len({r.knowledge_base.id for r in results}) == 1
    listed = (await kbs.ListKnowledgeBases(pb.ListKnowledgeBasesRequest())).knowledge_bases
    assert [kb.name for kb in listed] == ["once"]
    details = await expect_error(
        kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="different", request_id=REQUEST_ID)),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert details["reason"] == "REQUEST_ID_REUSED"
    details = await expect_error(
        kbs.CreateKnowledgeBase(pb.CreateKnowledgeBaseRequest(name="x", request_id="not-a-uuid")),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    assert details["violations"][0][0] == "request_id"
    # A retried delete returns the first answer instead of NOT_FOUND.
    kb_id = results[0].knowledge_base.id
    delete = pb.DeleteKnowledgeBaseRequest(kb_id=kb_id, request_id="5f0c7a3e-7b57-4a59-9d3c-1f6f1b3e2a10")
    assert (await kbs.DeleteKnowledgeBase(delete)).kb_id == kb_id
    assert (await kbs.DeleteKnowledgeBase(delete)).kb_id == kb_id
    # Request ids are per project: another tenant's identical id is its own.
    other = server.stubs((await server.tenant()).secret).kbs
    theirs = (await other.CreateKnowledgeBase(request)).knowledge_base
    assert theirs.id != kb_id
