"""Document lifecycle through a real server, real milvus-lite and the real model: deleting a file, a directory
tree or a knowledge base takes its chunks out of every vector store (durably, through a purge job), searches
never see a deleted file's chunks, contents are reclaimed once nothing references them, and uploads create
their directories."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers.server import Server, start_server
from test_knowledge_bases import expect_error
from test_pipeline import ANIMALS, ASTRONOMY, upload, wait
from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2
from vecflow_client.v1 import knowledge_base_service_pb2 as kb_pb2
from vecflow_client.v1 import vector_store_service_pb2 as vs_pb2

GARDEN = (
    "Tomatoes ripen best in full sun with steady watering. Basil planted beside them keeps pests away, "
    "and a layer of mulch holds moisture in the soil through the hottest weeks of summer."
)


async def parsed_files(srv: Server, kb_id: str, named: dict[str, str], directory: str = "") -> dict[str, str]:
    """Upload and parse each text; name → file id."""
    stubs = srv.stubs()
    ids = {}
    for name, text in named.items():
        reply = await upload(stubs, kb_id, name, text.encode(), directory=directory)
        job = await wait(srv, reply.parse_job.id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
        ids[name] = reply.file.id
    return ids


async def store_with(srv: Server, name: str, file_ids: list[str]) -> str:
    stubs = srv.stubs()
    store = (await stubs.stores.CreateVectorStore(vs_pb2.CreateVectorStoreRequest(name=name))).vector_store
    batch = (
        await stubs.stores.CreateFileBatch(vs_pb2.CreateFileBatchRequest(vector_store_id=store.id, file_ids=file_ids))
    ).file_batch
    job = await wait(srv, batch.job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    return str(store.id)


async def found_files(srv: Server, store_id: str, query: str) -> set[str]:
    reply = await srv.stubs().stores.SearchVectorStore(
        vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query=query, max_num_results=20)
    )
    return {hit.file_id for hit in reply.hits}


async def chunks_in_milvus(srv: Server, store_id: str, file_id: str) -> int:
    index = await srv.app.indexing.ready()
    return int(await index.count_chunks(srv.key.project_id, store_id, file_id))


async def store_state(srv: Server, store_id: str) -> Any:
    return (
        await srv.stubs().stores.GetVectorStore(vs_pb2.GetVectorStoreRequest(vector_store_id=store_id))
    ).vector_store


async def purge_jobs_done(srv: Server) -> list[job_pb2.Job]:
    """Wait for every purge job of the project; returns them."""
    stubs = srv.stubs()
    for _ in range(200):
        jobs = [
            j
            for j in (await stubs.jobs.ListJobs(job_service_pb2.ListJobsRequest(page_size=100))).jobs
            if j.operation == job_pb2.JOB_OPERATION_PURGE_FILES
        ]
        if jobs and all(j.status == job_pb2.JOB_STATUS_SUCCEEDED for j in jobs):
            return jobs
        assert not any(j.status == job_pb2.JOB_STATUS_FAILED for j in jobs), jobs
        await asyncio.sleep(0.05)
    raise AssertionError("the purge jobs did not finish")


@pytest.fixture
async def lifecycle(tmp_path: Path, database_url: str) -> Any:
    srv = await start_server(tmp_path, database_url)
    try:
        yield srv
    finally:
        await srv.close()


async def test_a_deleted_file_leaves_every_store(lifecycle: Server) -> None:
    srv, stubs = lifecycle, lifecycle.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    ids = await parsed_files(srv, kb.id, {"animals.txt": ANIMALS, "astronomy.txt": ASTRONOMY})
    both = list(ids.values())
    first, second = await store_with(srv, "one", both), await store_with(srv, "two", both)
    assert ids["animals.txt"] in await found_files(srv, first, "octopus arms")
    before = (await store_state(srv, first)).usage_bytes

    await stubs.kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=ids["animals.txt"]))
    await purge_jobs_done(srv)
    for store_id in (first, second):
        assert ids["animals.txt"] not in await found_files(srv, store_id, "octopus arms")
        assert ids["astronomy.txt"] in await found_files(srv, store_id, "planets and stars")
        assert await chunks_in_milvus(srv, store_id, ids["animals.txt"]) == 0
        assert await chunks_in_milvus(srv, store_id, ids["astronomy.txt"]) > 0
        state = await store_state(srv, store_id)
        assert state.file_counts.total == 1 and state.file_counts.completed == 1
        assert 0 < state.usage_bytes < before
        listed = await stubs.stores.ListVectorStoreFiles(vs_pb2.ListVectorStoreFilesRequest(vector_store_id=store_id))
        assert [f.file_id for f in listed.files] == [ids["astronomy.txt"]]
    await expect_error(stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=ids["animals.txt"])), grpc.StatusCode.NOT_FOUND)


async def test_deleted_chunks_are_never_found_and_a_restart_finishes_the_purge(tmp_path: Path, sqlite_url: str) -> None:
    """The engine stops before the purge job can run (as if the server died right after the delete's commit):
    the chunks are still in Milvus, yet no search returns them; the next server start removes them."""
    srv = await start_server(tmp_path, sqlite_url)
    stubs = srv.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    ids = await parsed_files(srv, kb.id, {"animals.txt": ANIMALS, "garden.txt": GARDEN})
    store_id = await store_with(srv, "one", list(ids.values()))
    await srv.app.engine.stop(grace=0)  # nothing runs from here on
    await stubs.kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=ids["animals.txt"]))
    assert await chunks_in_milvus(srv, store_id, ids["animals.txt"]) > 0, "the purge has not run yet"
    assert await found_files(srv, store_id, "octopus arms") == {ids["garden.txt"]}
    key = srv.key
    await srv.close()

    again = await start_server(tmp_path, sqlite_url, key=key)
    try:
        (listed,) = await purge_jobs_done(again)
        job = (await again.stubs().jobs.GetJob(job_service_pb2.GetJobRequest(job_id=listed.id))).job
        assert job.source_id == ids["animals.txt"]
        assert [e.step for e in job.history if e.status == job_pb2.STEP_STATUS_SUCCEEDED][:2] == [
            "remove_chunks",
            "remove_parse_results",
        ]
        assert await chunks_in_milvus(again, store_id, ids["animals.txt"]) == 0
        assert await found_files(again, store_id, "octopus arms") == {ids["garden.txt"]}
    finally:
        await again.close()


async def test_deleting_a_directory_tree_or_a_knowledge_base_takes_its_chunks(lifecycle: Server) -> None:
    srv, stubs = lifecycle, lifecycle.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    other = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="other"))).knowledge_base
    deep = await parsed_files(srv, kb.id, {"animals.txt": ANIMALS}, directory="zoo/notes")
    top = await parsed_files(srv, kb.id, {"astronomy.txt": ASTRONOMY})
    elsewhere = await parsed_files(srv, other.id, {"garden.txt": GARDEN})
    store_id = await store_with(srv, "all", [*deep.values(), *top.values(), *elsewhere.values()])

    reply = await stubs.kbs.DeleteDirectory(kb_pb2.DeleteDirectoryRequest(kb_id=kb.id, path="zoo", recursive=True))
    assert (reply.deleted_files, reply.deleted_directories) == (1, 2)
    await purge_jobs_done(srv)
    assert await found_files(srv, store_id, "octopus arms") == {top["astronomy.txt"], elsewhere["garden.txt"]}
    assert await chunks_in_milvus(srv, store_id, deep["animals.txt"]) == 0

    await stubs.kbs.DeleteKnowledgeBase(kb_pb2.DeleteKnowledgeBaseRequest(kb_id=kb.id))
    await purge_jobs_done(srv)
    assert await found_files(srv, store_id, "planets and stars") == {elsewhere["garden.txt"]}
    assert await chunks_in_milvus(srv, store_id, top["astronomy.txt"]) == 0
    assert (await store_state(srv, store_id)).file_counts.total == 1
    await expect_error(
        stubs.kbs.GetKnowledgeBase(kb_pb2.GetKnowledgeBaseRequest(kb_id=kb.id)), grpc.StatusCode.NOT_FOUND
    )


async def test_contents_and_parse_results_are_reclaimed_once_unreferenced(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, sweep_seconds=0.1, content_grace_seconds=0)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
        twins = await parsed_files(srv, kb.id, {"a.txt": GARDEN, "b.txt": GARDEN})  # one content, two files
        a = (await stubs.kbs.GetFile(kb_pb2.GetFileRequest(file_id=twins["a.txt"]))).file
        blob = srv.app.blobs.path(a.uid)
        parsed = srv.app.parsed.path(a.parse_result_id)
        assert blob.exists() and parsed.exists()

        await stubs.kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=twins["a.txt"]))
        await purge_jobs_done(srv)
        assert not parsed.exists(), "the parse result is removed with its file"
        await asyncio.sleep(0.5)  # several sweeps
        assert blob.exists(), "b.txt still references the content"

        await stubs.kbs.DeleteFile(kb_pb2.DeleteFileRequest(file_id=twins["b.txt"]))
        for _ in range(100):
            if not blob.exists():
                break
            await asyncio.sleep(0.05)
        assert not blob.exists(), "no file references the content any more"
    finally:
        await srv.close()


async def test_uploads_create_their_directories(lifecycle: Server) -> None:
    stubs = lifecycle.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    reply = await upload(stubs, kb.id, "q1.txt", b"first quarter", directory="reports/2024/q1")
    assert reply.file.directory == "reports/2024/q1"
    for parent, child in (("", "reports"), ("reports", "reports/2024"), ("reports/2024", "reports/2024/q1")):
        listed = await stubs.kbs.ListDirectories(kb_pb2.ListDirectoriesRequest(kb_id=kb.id, parent=parent))
        assert [d.path for d in listed.directories] == [child]
    # Racing uploads into one new directory: both land, the directory exists once.
    racing = await asyncio.gather(
        *(upload(stubs, kb.id, f"r{i}.txt", b"racing", directory="new/dir") for i in range(4))
    )
    assert all(r.file.directory == "new/dir" for r in racing)
    listed = await stubs.kbs.ListDirectories(kb_pb2.ListDirectoriesRequest(kb_id=kb.id, parent="new"))
    assert [d.path for d in listed.directories] == ["new/dir"]
    # A segment that is a file cannot become a directory.
    details = await expect_error(
        upload(stubs, kb.id, "x.txt", b"x", directory="reports/2024/q1/q1.txt/deeper"), grpc.StatusCode.ALREADY_EXISTS
    )
    assert details["reason"] == "NAME_TAKEN" and details["metadata"]["path"] == "reports/2024/q1/q1.txt"


async def test_attributes_change_without_embedding_again(lifecycle: Server) -> None:
    from vecflow.metrics import EMBED_TEXTS

    srv, stubs = lifecycle, lifecycle.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    ids = await parsed_files(srv, kb.id, {"animals.txt": ANIMALS, "garden.txt": GARDEN})
    store_id = await store_with(srv, "one", list(ids.values()))
    animals = ids["animals.txt"]

    async def filtered(expr: str) -> set[str]:
        reply = await stubs.stores.SearchVectorStore(
            vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query="animals", filter=expr, max_num_results=20)
        )
        return {hit.file_id for hit in reply.hits}

    assert await filtered('shelf = "zoology"') == set()
    embedded = EMBED_TEXTS._value.get()
    request = vs_pb2.UpdateVectorStoreFileRequest(vector_store_id=store_id, file_id=animals)
    request.attributes.update({"shelf": "zoology", "year": 2024})
    request.update_mask.paths.append("attributes")
    updated = (await stubs.stores.UpdateVectorStoreFile(request)).file
    assert EMBED_TEXTS._value.get() == embedded, "no chunk was embedded again"
    assert dict(updated.attributes) == {"shelf": "zoology", "year": 2024}
    assert await filtered('shelf = "zoology"') == {animals}
    assert await filtered("year >= 2020") == {animals}
    assert await chunks_in_milvus(srv, store_id, animals) == updated.chunk_count > 0
    hits = await stubs.stores.SearchVectorStore(
        vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query="three hearts", filter='shelf = "zoology"')
    )
    assert dict(hits.hits[0].attributes)["shelf"] == "zoology"

    bad = vs_pb2.UpdateVectorStoreFileRequest(vector_store_id=store_id, file_id=animals)
    bad.update_mask.paths.append("status")
    details = await expect_error(stubs.stores.UpdateVectorStoreFile(bad), grpc.StatusCode.INVALID_ARGUMENT)
    assert details["violations"][0][0] == "update_mask"
    gone = vs_pb2.UpdateVectorStoreFileRequest(vector_store_id=store_id, file_id="file_nope")
    gone.update_mask.paths.append("attributes")
    await expect_error(stubs.stores.UpdateVectorStoreFile(gone), grpc.StatusCode.NOT_FOUND)


def long_text(topic: str, sentences: int) -> str:
    return " ".join(
        f"Sentence {i} of the {topic} notes explains one more detail about {topic}." for i in range(sentences)
    )


async def test_replace_in_place_reindexes_every_store_with_no_gap(tmp_path: Path, database_url: str) -> None:
    """A search loop runs while a file in two stores is replaced: every search returns the old chunks or the
    new ones, never both and never none; at the end only the new content is found."""
    srv = await start_server(tmp_path, database_url)
    try:
        stubs = srv.stubs()
        kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
        old_text, new_text = long_text("octopus", 120), long_text("volcano", 120)
        first = await upload(stubs, kb.id, "report.txt", old_text.encode())
        await wait(srv, first.parse_job.id)
        assert first.outcome == kb_pb2.UPLOAD_OUTCOME_CREATED
        file_id = first.file.id
        stores = []
        for name in ("one", "two"):
            store = (
                await stubs.stores.CreateVectorStore(
                    vs_pb2.CreateVectorStoreRequest(
                        name=name,
                        chunking_strategy=common_pb2.ChunkingStrategy(max_chunk_size_tokens=24, chunk_overlap_tokens=0),
                    )
                )
            ).vector_store
            added = await stubs.stores.AddFilesToVectorStore(
                vs_pb2.AddFilesToVectorStoreRequest(vector_store_id=store.id, file_ids=[file_id])
            )
            assert (await wait(srv, added.job.id)).status == job_pb2.JOB_STATUS_SUCCEEDED
            stores.append(store.id)

        seen: list[set[str]] = []
        stop = asyncio.Event()

        async def search_loop() -> None:
            while not stop.is_set():
                reply = await stubs.stores.SearchVectorStore(
                    vs_pb2.SearchVectorStoreRequest(vector_store_id=stores[0], query="notes detail", max_num_results=10)
                )
                seen.append({"old" if "octopus" in h.text else "new" for h in reply.hits if h.file_id == file_id})

        looping = asyncio.create_task(search_loop())
        replaced = await upload(stubs, kb.id, "report.txt", new_text.encode(), if_exists=kb_pb2.IF_EXISTS_REPLACE)
        assert replaced.outcome == kb_pb2.UPLOAD_OUTCOME_REPLACED and replaced.file.id == file_id
        parse = await wait(srv, replaced.parse_job.id)
        assert parse.status == job_pb2.JOB_STATUS_SUCCEEDED, parse.error
        (reindex,) = [e for e in parse.history if e.step == "reindex" and e.status == job_pb2.STEP_STATUS_SUCCEEDED]
        jobs = list(reindex.details["jobs"])
        assert len(jobs) == 2
        for job_id in jobs:
            assert (await wait(srv, job_id)).status == job_pb2.JOB_STATUS_SUCCEEDED
        stop.set()
        await looping
        assert seen and all(kinds in ({"old"}, {"new"}) for kinds in seen), [
            k for k in seen if k not in ({"old"}, {"new"})
        ]
        assert seen[0] == {"old"} and seen[-1] == {"new"}
        switched = seen.index({"new"})
        assert all(kinds == {"new"} for kinds in seen[switched:]), "once the new chunks serve, the old never return"
        for store_id in stores:
            reply = await stubs.stores.SearchVectorStore(
                vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query="octopus", max_num_results=20)
            )
            assert reply.hits and all("volcano" in h.text for h in reply.hits)
            state = (
                await stubs.stores.GetVectorStoreFile(
                    vs_pb2.GetVectorStoreFileRequest(vector_store_id=store_id, file_id=file_id)
                )
            ).file
            assert await chunks_in_milvus(srv, store_id, file_id) == state.chunk_count, "the old chunks are gone"

        # The same content again: nothing to do, and the reply says so.
        again = await upload(stubs, kb.id, "report.txt", new_text.encode(), if_exists=kb_pb2.IF_EXISTS_REPLACE)
        assert again.outcome == kb_pb2.UPLOAD_OUTCOME_UNCHANGED and not again.HasField("parse_job")
        assert again.file.id == file_id and again.file.parse_state == kb_pb2.PARSE_STATE_SUCCESS
        # Without if_exists it is still a clash; a directory of that name is never replaced.
        await expect_error(upload(stubs, kb.id, "report.txt", b"x"), grpc.StatusCode.ALREADY_EXISTS)
        await stubs.kbs.CreateDirectory(kb_pb2.CreateDirectoryRequest(kb_id=kb.id, path="folder"))
        details = await expect_error(
            upload(stubs, kb.id, "folder", b"x", if_exists=kb_pb2.IF_EXISTS_REPLACE), grpc.StatusCode.ALREADY_EXISTS
        )
        assert details["metadata"]["existing_kind"] == "directory"
    finally:
        await srv.close()


async def test_re_adding_unchanged_files_embeds_nothing(lifecycle: Server) -> None:
    from vecflow.metrics import EMBED_TEXTS

    srv, stubs = lifecycle, lifecycle.stubs()
    kb = (await stubs.kbs.CreateKnowledgeBase(kb_pb2.CreateKnowledgeBaseRequest(name="lib"))).knowledge_base
    ids = await parsed_files(srv, kb.id, {"animals.txt": ANIMALS, "garden.txt": GARDEN})
    store_id = await store_with(srv, "one", list(ids.values()))
    chunks = await chunks_in_milvus(srv, store_id, ids["animals.txt"])
    embedded = EMBED_TEXTS._value.get()

    request = vs_pb2.CreateFileBatchRequest(vector_store_id=store_id, file_ids=list(ids.values()))
    request.attributes.update({"shelf": "again"})
    batch = (await stubs.stores.CreateFileBatch(request)).file_batch
    job = await wait(srv, batch.job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    assert EMBED_TEXTS._value.get() == embedded, "nothing was embedded again"
    steps = {e.step for e in job.history}
    assert "skip" in steps and "embed" not in steps and "chunk" not in steps
    (skip,) = [e for e in job.history if e.step == "skip" and e.status == job_pb2.STEP_STATUS_SUCCEEDED]
    assert (
        skip.details["files"] == 2
        and skip.details["attributes_updated"] == 2
        and "same parse result" in skip.details["reason"]
    )
    done = await stubs.stores.GetFileBatch(vs_pb2.GetFileBatchRequest(vector_store_id=store_id, batch_id=batch.id))
    assert (done.file_batch.file_counts.completed, done.file_batch.file_counts.total) == (2, 2)
    assert await chunks_in_milvus(srv, store_id, ids["animals.txt"]) == chunks
    reply = await stubs.stores.SearchVectorStore(
        vs_pb2.SearchVectorStoreRequest(vector_store_id=store_id, query="hearts", filter='shelf = "again"')
    )
    assert {h.file_id for h in reply.hits} == set(ids.values()), "the new attributes are on the chunks"
