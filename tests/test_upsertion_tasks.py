"""Upsertion tasks end to end through gRPC: create (idempotent by task_id) → job (validate, embed, upsert in
batches) → Milvus → SearchCollection; cancel, restart, list and limits.

Real server, real SQLite, real milvus-lite and the real embedding model (loaded once per process).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from helpers.rpc import error_details
from helpers.server import Server, start_server
from vecflow_client import VecflowClient
from vecflow_client.v1 import common_pb2, job_pb2, job_service_pb2
from vecflow_client.v1 import upsertion_task_service_pb2 as pb

DEFAULT, CATEGORIES = pb.COLLECTION_DEFAULT, pb.COLLECTION_CATEGORIES
DENSE, KEYWORD, HYBRID = common_pb2.RANKING_MODE_DENSE, common_pb2.RANKING_MODE_KEYWORD, common_pb2.RANKING_MODE_HYBRID

ANIMALS = {
    "octopus": ("Octopuses have three hearts and blue blood.", "mollusc", 1998, "wiki"),
    "bee": ("Honeybees tell each other where flowers are with a waggle dance.", "insect", 2005, "book"),
    "ant": ("Leafcutter ants grow fungus gardens underground.", "insect", 2012, "wiki"),
    "owl": ("Owls turn their heads almost all the way around to look behind them.", "bird", 2001, "book"),
    "whale": ("Blue whales are the largest animals that have ever lived.", "mammal", 1990, "wiki"),
    "bat": ("Bats find insects in the dark by echolocation.", "mammal", 2015, "book"),
}


def struct(value: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    out = struct_pb2.Struct()
    out.update(value)
    return out


def item(object_id: str, payload: dict[str, Any] | None = None, info: dict[str, Any] | None = None) -> pb.UpsertionItem:
    return pb.UpsertionItem(object_id=object_id, payload=struct(payload), item_info=struct(info))


def animal_items() -> list[pb.UpsertionItem]:
    return [
        item(oid, {"text": text, "kind": kind, "year": year}, {"source": source})
        for oid, (text, kind, year, source) in ANIMALS.items()
    ]


def bad_items() -> list[pb.UpsertionItem]:
    return [
        item("no-text", {"title": "no text field"}),
        item("number", {"text": 42}),
        item("blank", {"text": "   "}),
        item("huge", {"text": "word " * 8000}),  # 40,000 characters
    ]


async def create(stubs: Any, items: list[pb.UpsertionItem], **fields: Any) -> pb.CreateUpsertionTaskResponse:
    return await stubs.tasks.CreateUpsertionTask(pb.CreateUpsertionTaskRequest(items=items, **fields))


async def get(stubs: Any, task_id: str) -> pb.UpsertionTask:
    return (await stubs.tasks.GetUpsertionTask(pb.GetUpsertionTaskRequest(task_id=task_id))).upsertion_task


async def wait(server: Server, job_id: str) -> job_pb2.Job:
    async with VecflowClient(server.address, server.key.secret) as client:
        return await client.wait_job(job_id)


async def run(server: Server, stubs: Any, items: list[pb.UpsertionItem], **fields: Any) -> pb.UpsertionTask:
    """Create a task, wait for its job, return the finished task."""
    task = (await create(stubs, items, **fields)).upsertion_task
    await wait(server, task.job_id)
    return await get(stubs, task.id)


async def search(
    stubs: Any, query: str, mode: int = 0, flt: str = "", collection: int = 0, n: int = 6, **ranking: Any
) -> list[common_pb2.SearchHit]:
    request = pb.SearchCollectionRequest(
        collection=collection,
        query=query,
        max_num_results=n,
        filter=flt,
        ranking_options=common_pb2.RankingOptions(mode=mode, **ranking),
    )
    return list((await stubs.tasks.SearchCollection(request)).hits)


async def rejected(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value


@pytest.fixture
async def srv(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Server]:
    server = await start_server(tmp_path, sqlite_url)
    try:
        yield server
    finally:
        await server.close()


async def test_create_run_failed_items_and_idempotent_task_id(srv: Server) -> None:
    stubs = srv.stubs()
    items = animal_items() + bad_items()
    reply = await create(stubs, items, task_id="animals-1")
    task = reply.upsertion_task
    assert reply.created and task.id == "animals-1" and task.object == "upsertion_task"
    assert task.project_id == srv.key.project_id and task.job_id and task.total_items == 10
    assert task.collection == DEFAULT and task.text_field == "text"
    assert task.status in (pb.UPSERTION_TASK_STATUS_PENDING, pb.UPSERTION_TASK_STATUS_PROCESSING)

    job = await wait(srv, task.job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED, job.error
    assert job.operation == job_pb2.JOB_OPERATION_UPSERT and job.source_id == "animals-1"
    done = {e.step: e for e in job.history if e.status == job_pb2.STEP_STATUS_SUCCEEDED}
    assert {"prepare", "validate", "embed", "upsert"} <= set(done)
    validate = json_format.MessageToDict(done["validate"].details)
    assert (validate["valid"], validate["invalid"]) == (6, 4)
    assert validate["codes"] == {"MISSING_TEXT": 1, "INVALID_TEXT": 1, "EMPTY_TEXT": 1, "TEXT_TOO_LONG": 1}
    assert done["upsert"].details["landed"] == 6 and done["upsert"].duration_ms >= 0
    assert done["embed"].details["items"] == 6
    assert json_format.MessageToDict(job.result)["upserted_items"] == 6

    task = await get(stubs, "animals-1")
    assert task.status == pb.UPSERTION_TASK_STATUS_DONE and task.upserted_items == 6
    failed = {f.object_id: f for f in task.failed_items}
    assert [f.object_id for f in task.failed_items] == ["no-text", "number", "blank", "huge"]
    assert {k: f.code for k, f in failed.items()} == {
        "no-text": "MISSING_TEXT",
        "number": "INVALID_TEXT",
        "blank": "EMPTY_TEXT",
        "huge": "TEXT_TOO_LONG",
    }
    assert all(f.reason for f in task.failed_items) and "32768" in failed["huge"].reason
    assert failed["number"].reason == 'payload["text"] must be a string, got a number'
    index = await srv.app.indexing.ready()
    assert await index.count_items("default", srv.key.project_id) == 6

    # Same id and same items (in another order): the same task, no second job.
    again = await create(stubs, list(reversed(items)), task_id="animals-1", collection=DEFAULT, text_field="text")
    assert not again.created and again.upsertion_task.job_id == task.job_id
    assert again.upsertion_task.status == pb.UPSERTION_TASK_STATUS_DONE
    jobs = (await stubs.jobs.ListJobs(job_service_pb2.ListJobsRequest(source_id="animals-1"))).jobs
    assert len(jobs) == 1
    # Same id, other items (or collection, or text field): ALREADY_EXISTS.
    for other in (
        {"items": items[:-1]},
        {"items": items, "collection": CATEGORIES},
        {"items": items, "text_field": "body"},
    ):
        err = await rejected(
            stubs.tasks.CreateUpsertionTask(pb.CreateUpsertionTaskRequest(task_id="animals-1", **other))
        )
        assert err.code() == grpc.StatusCode.ALREADY_EXISTS
        assert error_details(err)["reason"] == "TASK_ID_CONFLICT"
        assert error_details(err)["metadata"]["task_id"] == "animals-1"

    # No task_id: one is generated; a request_id makes the call safe to retry.
    rid = "5b1f4b8e-2d4c-4b0e-9a57-0c7e7a3e2f11"
    first = await create(stubs, [item("solo", {"text": "A single item."})], request_id=rid)
    retry = await create(stubs, [item("solo", {"text": "A single item."})], request_id=rid)
    assert first.created and first.upsertion_task.id.startswith("task_")
    assert (
        retry.upsertion_task.id == first.upsertion_task.id
        and retry.upsertion_task.job_id == first.upsertion_task.job_id
    )
    err = await rejected(create(stubs, [item("solo", {"text": "Another text."})], request_id=rid))
    assert error_details(err)["reason"] == "REQUEST_ID_REUSED"
    await wait(srv, first.upsertion_task.job_id)

    # Another tenant sees none of it.
    other = srv.stubs((await srv.tenant()).secret)
    err = await rejected(other.tasks.GetUpsertionTask(pb.GetUpsertionTaskRequest(task_id="animals-1")))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert await search(other, "three hearts", DENSE) == []


@pytest.fixture
async def any_srv(tmp_path: Path, database_url: str) -> AsyncIterator[Server]:
    """A server on each backend (SQLite, and PostgreSQL when VECFLOW_TEST_POSTGRES_URL is set)."""
    server = await start_server(tmp_path, database_url)
    try:
        yield server
    finally:
        await server.close()


async def test_hundred_concurrent_creates_make_one_task_and_one_job(any_srv: Server) -> None:
    srv = any_srv
    stubs = srv.stubs()
    items = [item("one", {"text": "Racing requests."}), item("two", {"text": "Only one wins."})]
    replies = await asyncio.gather(*(create(stubs, items, task_id="race:1") for _ in range(100)))
    assert sum(r.created for r in replies) == 1
    assert len({r.upsertion_task.job_id for r in replies}) == 1
    jobs = (await stubs.jobs.ListJobs(job_service_pb2.ListJobsRequest(source_id="race:1"))).jobs
    assert len(jobs) == 1
    listed = await stubs.tasks.ListUpsertionTasks(pb.ListUpsertionTasksRequest())
    assert listed.total == 1
    task = await run(srv, stubs, items, task_id="race:1")
    assert task.status == pb.UPSERTION_TASK_STATUS_DONE and task.upserted_items == 2


async def test_search_modes_filters_replace_and_collections(srv: Server) -> None:
    stubs = srv.stubs()
    task = await run(srv, stubs, animal_items())
    assert task.status == pb.UPSERTION_TASK_STATUS_DONE and task.upserted_items == 6

    dense = await search(stubs, "which animal has three hearts", DENSE)
    assert dense[0].object_id == "octopus" and "three hearts" in dense[0].text
    assert dense[0].payload["kind"] == "mollusc" and dense[0].attributes["source"] == "wiki"
    assert dense[0].score > dense[-1].score
    keyword = await search(stubs, "waggle dance", KEYWORD)
    assert keyword[0].object_id == "bee"
    hybrid = await search(stubs, "echolocation in the dark")
    assert hybrid[0].object_id == "bat"
    weighted = await search(stubs, "fungus gardens", HYBRID, dense_weight=0.5, keyword_weight=0.5)
    assert weighted[0].object_id == "ant"
    assert len(await search(stubs, "animals", DENSE, n=2)) == 2
    assert await search(stubs, "animals", DENSE, score_threshold=0.99) == []

    async def ids(flt: str, query: str = "animals") -> set[str]:
        return {h.object_id for h in await search(stubs, query, DENSE, flt=flt)}

    assert await ids('kind = "insect"') == {"ant", "bee"}
    assert await ids('year >= 2005 AND kind != "insect"') == {"bat"}
    assert await ids('item_info.source = "book"') == {"bee", "owl", "bat"}
    assert await ids('object_id IN ["owl", "whale"]') == {"owl", "whale"}
    assert await ids('kind = "mammal" OR item_info.source = "book"') == {"bee", "owl", "bat", "whale"}
    for bad in ("kind = ", 'kind == "x"', "object_id = 3", '(kind = "x"'):
        err = await rejected(search(stubs, "x", flt=bad))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, bad
        assert error_details(err)["violations"][0][0] == "filter"
    for request, field in (
        (pb.SearchCollectionRequest(query=""), "query"),
        (pb.SearchCollectionRequest(query="x" * 8193), "query"),
        (pb.SearchCollectionRequest(query="x", max_num_results=51), "max_num_results"),
        (pb.SearchCollectionRequest(query="x", collection=9), "collection"),
    ):
        err = await rejected(stubs.tasks.SearchCollection(request))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(err)["violations"][0][0] == field

    # Upserting an object_id again replaces it: vectors, text and payload; never a duplicate.
    index = await srv.app.indexing.ready()
    project = srv.key.project_id
    assert await index.count_items("default", project) == 6
    newer = item("octopus", {"text": "Octopus arms can taste what they touch.", "kind": "cephalopod"}, {"v": 2})
    assert (await run(srv, stubs, [newer])).upserted_items == 1
    assert await index.count_items("default", project) == 6
    hits = await search(stubs, "arms that taste", DENSE, flt='object_id = "octopus"')
    assert len(hits) == 1 and hits[0].payload["kind"] == "cephalopod" and hits[0].attributes["v"] == 2
    assert "three hearts" not in hits[0].text
    assert await ids('kind = "mollusc"') == set()

    # The categories collection is separate, even for the same object_id.
    category = item("octopus", {"text": "Marine invertebrates with eight arms.", "kind": "category"})
    task = await run(
        srv, stubs, [category, item("birds", {"text": "Feathered animals that lay eggs."})], collection=CATEGORIES
    )
    assert task.collection == CATEGORIES and task.status == pb.UPSERTION_TASK_STATUS_DONE
    assert await index.count_items("categories", project) == 2
    assert await index.count_items("default", project) == 6
    in_categories = await search(stubs, "eight arms", DENSE, collection=CATEGORIES)
    assert {h.object_id for h in in_categories} == {"octopus", "birds"}
    assert in_categories[0].payload["kind"] == "category"
    in_default = await search(stubs, "eight arms", DENSE, collection=DEFAULT)
    assert all(h.payload["kind"] != "category" for h in in_default) and "birds" not in {h.object_id for h in in_default}


async def test_cancel_restart_and_their_preconditions(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, workers=1)
    try:
        stubs = srv.stubs()
        srv.app.upsert_items.batch_size = 4
        index = await srv.app.indexing.ready()
        project = srv.key.project_id
        many = [item(f"fact-{i}", {"text": f"Fact number {i} is about topic {i % 7}."}) for i in range(80)]
        big = (await create(stubs, many, task_id="big")).upsertion_task
        async with VecflowClient(srv.address, srv.key.secret) as client:
            async for event in client.watch_job(big.job_id):
                if event.step == "prepare":
                    break
            # The only worker is busy: a second task waits as pending, and cancelling it ends it at once.
            small = (await create(stubs, animal_items()[:2], task_id="small")).upsertion_task
            assert small.status == pb.UPSERTION_TASK_STATUS_PENDING
            reply = await stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="small"))
            assert reply.upsertion_task.status == pb.UPSERTION_TASK_STATUS_CANCELED
            assert reply.upsertion_task.upserted_items == 0
            # A task whose job is cancelled through JobService reads as canceled too.
            third = (await create(stubs, animal_items()[2:3], task_id="third")).upsertion_task
            await stubs.jobs.CancelJob(job_service_pb2.CancelJobRequest(job_id=third.job_id))
            assert (await get(stubs, "third")).status == pb.UPSERTION_TASK_STATUS_CANCELED
            # The running task stops at its next batch.
            async for event in client.watch_job(big.job_id):
                if event.step == "upsert" and event.status == job_pb2.STEP_STATUS_SUCCEEDED:
                    break
            reply = await stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="big"))
            assert reply.upsertion_task.status in (
                pb.UPSERTION_TASK_STATUS_PROCESSING,
                pb.UPSERTION_TASK_STATUS_CANCELED,
            )
            job = await client.wait_job(big.job_id)
        assert job.status == job_pb2.JOB_STATUS_CANCELLED
        task = await get(stubs, "big")
        landed = task.upserted_items
        assert task.status == pb.UPSERTION_TASK_STATUS_CANCELED and 4 <= landed < 80 and landed % 4 == 0
        assert await index.count_items("default", project) == landed  # items not landed stay out
        # Cancelling a canceled task returns it unchanged; restarting redoes only what did not land.
        again = await stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="big"))
        assert again.upsertion_task.status == pb.UPSERTION_TASK_STATUS_CANCELED
        restarted = await stubs.tasks.RestartUpsertionTask(pb.RestartUpsertionTaskRequest(task_id="big"))
        assert restarted.upsertion_task.status in (
            pb.UPSERTION_TASK_STATUS_PENDING,
            pb.UPSERTION_TASK_STATUS_PROCESSING,
        )
        job = await wait(srv, big.job_id)
        assert job.status == job_pb2.JOB_STATUS_SUCCEEDED
        after = max(e.sequence for e in job.history if e.step == "restarted")
        redone = sum(
            e.details["landed"]
            for e in job.history
            if e.sequence > after and e.step == "upsert" and e.status == job_pb2.STEP_STATUS_SUCCEEDED
        )
        assert redone == 80 - landed
        assert any(e.step == "validate" and e.status == job_pb2.STEP_STATUS_SKIPPED for e in job.history)
        task = await get(stubs, "big")
        assert task.status == pb.UPSERTION_TASK_STATUS_DONE and task.upserted_items == 80
        assert await index.count_items("default", project) == 80
        # The task cancelled while pending never ran; restarted, it does.
        assert (await wait(srv, small.job_id)).status == job_pb2.JOB_STATUS_CANCELLED
        await stubs.tasks.RestartUpsertionTask(pb.RestartUpsertionTaskRequest(task_id="small"))
        await wait(srv, small.job_id)
        assert (await get(stubs, "small")).upserted_items == 2

        # Done and failed tasks cannot be cancelled; done, pending and processing ones cannot be restarted.
        for call in (
            stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="big")),
            stubs.tasks.RestartUpsertionTask(pb.RestartUpsertionTaskRequest(task_id="big")),
        ):
            err = await rejected(call)
            assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert error_details(err)["reason"] in ("TASK_ALREADY_FINISHED", "TASK_NOT_RESTARTABLE")
        # A task with no item that can land fails with NO_ITEMS_LANDED; it may be restarted (and fails again).
        hopeless = (await create(stubs, bad_items(), task_id="hopeless")).upsertion_task
        job = await wait(srv, hopeless.job_id)
        assert job.status == job_pb2.JOB_STATUS_FAILED and job.error.code == "NO_ITEMS_LANDED"
        task = await get(stubs, "hopeless")
        assert task.status == pb.UPSERTION_TASK_STATUS_FAILED and len(task.failed_items) == 4
        err = await rejected(stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="hopeless")))
        assert err.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert error_details(err)["reason"] == "TASK_ALREADY_FINISHED"
        await stubs.tasks.RestartUpsertionTask(pb.RestartUpsertionTaskRequest(task_id="hopeless"))
        assert (await wait(srv, hopeless.job_id)).error.code == "NO_ITEMS_LANDED"
        for call in (
            stubs.tasks.CancelUpsertionTask(pb.CancelUpsertionTaskRequest(task_id="nope")),
            stubs.tasks.RestartUpsertionTask(pb.RestartUpsertionTaskRequest(task_id="nope")),
        ):
            err = await rejected(call)
            assert err.code() == grpc.StatusCode.NOT_FOUND
    finally:
        await srv.close()


async def test_list_paging_status_and_limits(any_srv: Server) -> None:
    srv = any_srv
    stubs = srv.stubs()
    first = await run(srv, stubs, animal_items()[:2], task_id="t1")
    second = await run(srv, stubs, bad_items(), task_id="t2")
    third = await run(srv, stubs, animal_items()[2:4], task_id="t3")
    assert (first.status, second.status, third.status) == (
        pb.UPSERTION_TASK_STATUS_DONE,
        pb.UPSERTION_TASK_STATUS_FAILED,
        pb.UPSERTION_TASK_STATUS_DONE,
    )

    async def listed(**kw: Any) -> tuple[list[str], int]:
        reply = await stubs.tasks.ListUpsertionTasks(pb.ListUpsertionTasksRequest(**kw))
        return [t.id for t in reply.upsertion_tasks], reply.total

    assert await listed() == (["t3", "t2", "t1"], 3)
    assert await listed(limit=2) == (["t3", "t2"], 3)
    assert await listed(offset=2, limit=2) == (["t1"], 3)
    assert await listed(limit=5000) == (["t3", "t2", "t1"], 3)
    assert await listed(status=pb.UPSERTION_TASK_STATUS_DONE) == (["t3", "t1"], 2)
    assert await listed(status=pb.UPSERTION_TASK_STATUS_FAILED, offset=0, limit=1) == (["t2"], 1)
    assert await listed(status=pb.UPSERTION_TASK_STATUS_PENDING) == ([], 0)
    err = await rejected(stubs.tasks.ListUpsertionTasks(pb.ListUpsertionTasksRequest(offset=-1)))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT

    # Token paging, as every other List call: pages in order, a filter bound to its token, never mixed with offset.
    async def page(**kw: Any) -> tuple[list[str], int, str]:
        reply = await stubs.tasks.ListUpsertionTasks(pb.ListUpsertionTasksRequest(**kw))
        return [t.id for t in reply.upsertion_tasks], reply.total, reply.next_page_token

    first, total, token = await page(page_size=2)
    assert (first, total) == (["t3", "t2"], 3) and token
    assert await page(page_size=2, page_token=token) == (["t1"], 3, "")
    done, _, token = await page(page_size=1, status=pb.UPSERTION_TASK_STATUS_DONE)
    assert done == ["t3"] and token
    assert (await page(page_size=1, status=pb.UPSERTION_TASK_STATUS_DONE, page_token=token))[0] == ["t1"]
    for wrong in ({"status": pb.UPSERTION_TASK_STATUS_FAILED}, {"offset": 1}):
        err = await rejected(stubs.tasks.ListUpsertionTasks(pb.ListUpsertionTasksRequest(page_token=token, **wrong)))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, wrong

    async def invalid(items: list[pb.UpsertionItem], **fields: Any) -> tuple[str, str, str]:
        err = await rejected(create(stubs, items, **fields))
        assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
        details = error_details(err)
        return details["reason"], details["violations"][0][0], err.details()

    ok = [item("a", {"text": "fine"})]
    assert (await invalid([]))[1] == "items"
    for task_id in ("has space", "x" * 129, "slash/no", "é"):
        assert (await invalid(ok, task_id=task_id))[1] == "task_id"
    assert (await invalid(ok, text_field="f" * 129))[1] == "text_field"
    assert (await invalid(ok, collection=7))[1] == "collection"
    assert (await invalid([item("")]))[1] == "items[0].object_id"
    assert (await invalid([item("a"), item("o" * 513)]))[1] == "items[1].object_id"
    assert (await invalid([item("a"), item("b\n")]))[1] == "items[1].object_id"
    reason, field, _ = await invalid([item("a"), item("b"), item("a")])
    assert (reason, field) == ("DUPLICATE_OBJECT_ID", "items[2].object_id")
    big = {"text": "fits", "blob": "x" * 66_000}
    reason, field, message = await invalid([item("a"), item("b"), item("c"), item("d", big)])
    assert (reason, field) == ("PAYLOAD_TOO_LARGE", "items[3].payload") and "65536" in message
    reason, field, _ = await invalid([item("a", {"text": "x"}, big)])
    assert (reason, field) == ("PAYLOAD_TOO_LARGE", "items[0].item_info")
    srv.app.upsertion_tasks.max_task_items = 3
    reason, field, message = await invalid([item(str(i)) for i in range(4)])
    assert (reason, field) == ("TOO_MANY_ITEMS", "items") and "at most 3" in message
    # The whole request is bounded by gRPC's message size (VECFLOW_MAX_MESSAGE_BYTES, 8 MiB by default).
    srv.app.upsertion_tasks.max_task_items = 10_000
    blob = "y" * 60_000
    err = await rejected(create(stubs, [item(f"i{n}", {"text": "t", "blob": blob}) for n in range(150)]))
    assert err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (await listed())[1] == 3  # nothing was created by any of these
