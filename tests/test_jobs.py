"""The job engine through the API: history, WatchJob, cancel, restart, progress coalescing."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path
from typing import Any

import grpc
import pytest
from helpers.rpc import error_details
from helpers.server import JOB_SETTINGS, Server, start_server
from vecflow_client import VecflowClient
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import job_service_pb2 as pb

TERMINAL = {job_pb2.JOB_STATUS_SUCCEEDED, job_pb2.JOB_STATUS_FAILED, job_pb2.JOB_STATUS_CANCELLED}


async def submit(server: Server, operation: str = "test.steps", **params: Any) -> str:
    params.setdefault("results", str(Path(server.app.settings.data_dir) / "results.db"))
    job = await server.app.engine.submit(server.key.project_id, operation, source_id="src_1", params=params)
    return job.id


async def watch_all(server: Server, job_id: str, after: int = 0, **metadata: str) -> list[job_pb2.JobHistoryEvent]:
    stub = server.stubs(**metadata).jobs
    events = []
    async for message in stub.WatchJob(pb.WatchJobRequest(job_id=job_id, after_sequence=after)):
        if message.HasField("event"):
            events.append(message.event)
    return events


async def get_job(server: Server, job_id: str) -> job_pb2.Job:
    return (await server.stubs().jobs.GetJob(pb.GetJobRequest(job_id=job_id))).job


def assert_contiguous(events: list[job_pb2.JobHistoryEvent], start: int = 1) -> None:
    assert [e.sequence for e in events] == list(range(start, start + len(events)))


async def test_three_watchers_see_every_event_in_order_and_a_late_one_gets_the_replay(job_server: Server) -> None:
    job_id = await submit(job_server, items=12, batch=3, delay=0.02)
    watchers = await asyncio.gather(*(watch_all(job_server, job_id) for _ in range(3)))
    job = await get_job(job_server, job_id)
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED and job.object == "job"
    assert dict(job.result) == {"steps": 3.0, "items": 36.0}
    history = list(job.history)
    assert_contiguous(history)
    assert job.latest_sequence == len(history)
    for seen in watchers:
        assert seen == history  # every event, in order, exactly once
    late = await watch_all(job_server, job_id)
    assert late == history
    tail = await watch_all(job_server, job_id, after=len(history) - 2)
    assert tail == history[-2:]
    steps = [(e.step, job_pb2.StepStatus.Name(e.status)) for e in history if e.status != job_pb2.STEP_STATUS_PROGRESS]
    assert steps == [
        ("queued", "STEP_STATUS_INFO"),
        ("started", "STEP_STATUS_INFO"),
        ("one", "STEP_STATUS_STARTED"),
        ("one", "STEP_STATUS_SUCCEEDED"),
        ("two", "STEP_STATUS_STARTED"),
        ("two", "STEP_STATUS_SUCCEEDED"),
        ("three", "STEP_STATUS_STARTED"),
        ("three", "STEP_STATUS_SUCCEEDED"),
        ("job", "STEP_STATUS_SUCCEEDED"),
    ]
    finished = next(e for e in history if e.status == job_pb2.STEP_STATUS_SUCCEEDED and e.step == "one")
    assert finished.duration_ms >= 60 and finished.details["items"] == 12
    assert history[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED


async def test_resuming_after_20_random_disconnects_misses_and_repeats_nothing(job_server: Server) -> None:
    # Long enough to produce well over the 40 events that the 20 seeded cuts consume.
    job_id = await submit(job_server, items=100, batch=2, delay=0.03)
    stub = job_server.stubs().jobs
    seen: list[job_pb2.JobHistoryEvent] = []
    rng = random.Random(7)
    disconnects = 0
    while True:
        after = seen[-1].sequence if seen else 0
        call = stub.WatchJob(pb.WatchJobRequest(job_id=job_id, after_sequence=after))
        cut_after = rng.randint(1, 4) if disconnects < 20 else None
        received, ended = 0, True
        async for message in call:
            if message.HasField("event"):
                seen.append(message.event)
                received += 1
                if cut_after is not None and received >= cut_after:
                    call.cancel()
                    disconnects += 1
                    ended = False
                    break
        if ended:
            break
    assert disconnects == 20
    history = list((await get_job(job_server, job_id)).history)
    assert seen == history
    assert_contiguous(seen)


async def test_heartbeats_carry_the_latest_sequence_while_idle(job_server: Server) -> None:
    job_id = await submit(job_server, "test.idle", seconds=1.2)
    beats, events = [], []
    async for message in job_server.stubs().jobs.WatchJob(pb.WatchJobRequest(job_id=job_id)):
        if message.HasField("heartbeat"):
            beats.append(message.heartbeat)
        else:
            events.append(message.event)
    assert len(beats) >= 2
    assert all(b.latest_sequence == 3 for b in beats)  # queued, started, wait:started
    assert beats[0].job_status == job_pb2.JOB_STATUS_RUNNING
    assert events[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED


async def test_cursor_errors(job_server: Server) -> None:
    stub = job_server.stubs().jobs
    job_id = await submit(job_server, items=2, batch=2)
    await watch_all(job_server, job_id)
    for after in (-1, 10_000):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await watch_all(job_server, job_id, after=after)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        async for _ in stub.WatchJob(pb.WatchJobRequest(job_id="job_" + "0" * 32)):
            pass
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_expired_cursor_is_failed_precondition_with_oldest_sequence(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, job_history_limit=10, **JOB_SETTINGS)
    try:
        job_id = await submit(srv, "test.idle", seconds=0, events=30)
        job = (await srv.stubs().jobs.GetJob(pb.GetJobRequest(job_id=job_id))).job
        while job.status not in TERMINAL:
            await asyncio.sleep(0.05)
            job = await get_job(srv, job_id)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await watch_all(srv, job_id, after=0)
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        details = error_details(err.value)
        oldest = int(details["metadata"]["oldest_sequence"])
        assert details["reason"] == "CURSOR_EXPIRED" and oldest == job.latest_sequence - 9
        kept = await watch_all(srv, job_id, after=oldest - 1)
        assert_contiguous(kept, start=oldest)
        assert kept[-1].sequence == job.latest_sequence
    finally:
        await srv.close()


async def test_cancel_pending_running_and_finished_jobs(job_server: Server) -> None:
    stub = job_server.stubs().jobs
    # Running: stops at the next batch boundary, cleans up its half-written step, ends cancelled.
    job_id = await submit(job_server, items=200, batch=2, delay=0.02)
    watcher = asyncio.create_task(watch_all(job_server, job_id))
    while True:
        job = await get_job(job_server, job_id)
        if any(e.step == "one" and e.status == job_pb2.STEP_STATUS_PROGRESS for e in job.history):
            break
        await asyncio.sleep(0.02)
    cancelled = (await stub.CancelJob(pb.CancelJobRequest(job_id=job_id))).job
    assert cancelled.status in (job_pb2.JOB_STATUS_RUNNING, job_pb2.JOB_STATUS_CANCELLED)
    again = (await stub.CancelJob(pb.CancelJobRequest(job_id=job_id))).job  # harmless
    events = await watcher
    final = await get_job(job_server, job_id)
    assert final.status == job_pb2.JOB_STATUS_CANCELLED and again.id == job_id
    assert [e.step for e in final.history].count("cancel_requested") == 1
    assert (events[-1].step, events[-1].status) == ("job", job_pb2.STEP_STATUS_CANCELLED)
    assert any(e.step == "one" and e.status == job_pb2.STEP_STATUS_CANCELLED for e in events)
    import sqlite3

    rows = (
        sqlite3.connect(Path(job_server.app.settings.data_dir) / "results.db")
        .execute("SELECT count(*) FROM produced WHERE job_id = ?", (job_id,))
        .fetchone()[0]
    )
    assert rows == 0  # the half-done step was cleaned up
    # Finished jobs cannot be cancelled.
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CancelJob(pb.CancelJobRequest(job_id=(await submit_and_wait(job_server)).id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err.value)["reason"] == "JOB_ALREADY_FINISHED"


async def test_cancel_pending_job_is_immediate(job_server: Server) -> None:
    # An operation no worker handles stays pending.
    job = await job_server.app.engine.submit(job_server.key.project_id, "test.nobody")
    reply = (await job_server.stubs().jobs.CancelJob(pb.CancelJobRequest(job_id=job.id))).job
    assert reply.status == job_pb2.JOB_STATUS_CANCELLED
    assert [(e.step, e.status) for e in reply.history][-1] == ("job", job_pb2.STEP_STATUS_CANCELLED)
    assert reply.HasField("completed_at")


async def submit_and_wait(server: Server, **params: Any) -> job_pb2.Job:
    job_id = await submit(server, **params)
    async with VecflowClient(server.address, server.key.secret) as client:
        return await client.wait_job(job_id)


async def test_failed_job_says_why_and_restart_redoes_only_what_is_not_done(job_server: Server) -> None:
    stub = job_server.stubs().jobs
    failed = await submit_and_wait(job_server, items=6, batch=2, fail_at="two")
    assert failed.status == job_pb2.JOB_STATUS_FAILED
    assert failed.error.code == "TEST_FAILURE" and "step two failed" in failed.error.message
    last = failed.history[-1]
    assert last.details["error_code"] == "TEST_FAILURE" and last.job_status == job_pb2.JOB_STATUS_FAILED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.RestartJob(pb.RestartJobRequest(job_id=(await submit_and_wait(job_server)).id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    restarted = (await stub.RestartJob(pb.RestartJobRequest(job_id=failed.id))).job
    assert restarted.status == job_pb2.JOB_STATUS_PENDING and not restarted.HasField("error")
    assert restarted.history[-1].step == "restarted"
    async with VecflowClient(job_server.address, job_server.key.secret) as client:
        done = await client.wait_job(failed.id)
    assert done.status == job_pb2.JOB_STATUS_SUCCEEDED and done.attempt == 2
    assert_contiguous(list(done.history))
    second = [e for e in done.history if e.sequence > restarted.latest_sequence]
    outcome = {(e.step, job_pb2.StepStatus.Name(e.status)) for e in second}
    assert ("one", "STEP_STATUS_SKIPPED") in outcome and ("one", "STEP_STATUS_STARTED") not in outcome
    two_done = next(e for e in second if e.step == "two" and e.status == job_pb2.STEP_STATUS_SUCCEEDED)
    assert two_done.details["resumed_at"] == 2  # the batch written before the failure is not redone
    import sqlite3

    rows = (
        sqlite3.connect(Path(job_server.app.settings.data_dir) / "results.db")
        .execute(
            "SELECT step, count(*), max(writes) FROM produced WHERE job_id = ? GROUP BY step ORDER BY step",
            (failed.id,),
        )
        .fetchall()
    )
    assert rows == [("one", 6, 1), ("three", 6, 1), ("two", 6, 1)]


async def test_restart_of_running_job_is_refused(job_server: Server) -> None:
    job_id = await submit(job_server, "test.idle", seconds=1.0)
    while (await get_job(job_server, job_id)).status != job_pb2.JOB_STATUS_RUNNING:
        await asyncio.sleep(0.02)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await job_server.stubs().jobs.RestartJob(pb.RestartJobRequest(job_id=job_id))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(err.value)["reason"] == "JOB_NOT_RESTARTABLE"


async def test_fast_progress_is_coalesced_but_step_boundaries_are_not(job_server: Server) -> None:
    job_id = await submit(job_server, "test.chatty", updates=3000)
    async with VecflowClient(job_server.address, job_server.key.secret) as client:
        job = await client.wait_job(job_id)
    history = list(job.history)
    progress = [e for e in history if e.status == job_pb2.STEP_STATUS_PROGRESS]
    step_end = next(e for e in history if e.step == "count" and e.status == job_pb2.STEP_STATUS_SUCCEEDED)
    seconds = step_end.duration_ms / 1000
    assert 1 <= len(progress) <= seconds * 10 + 2, (len(progress), seconds)
    done = [e.details["done"] for e in progress]
    assert done == sorted(done)  # cumulative
    assert step_end.details["done"] == 3000


async def test_list_jobs_filters(job_server: Server) -> None:
    await submit_and_wait(job_server, items=2, batch=2)
    failed = await submit_and_wait(job_server, items=4, batch=2, fail_at="one")
    stub = job_server.stubs().jobs
    everything = (await stub.ListJobs(pb.ListJobsRequest())).jobs
    assert len(everything) == 2 and not everything[0].history
    only_failed = (await stub.ListJobs(pb.ListJobsRequest(status=job_pb2.JOB_STATUS_FAILED))).jobs
    assert [j.id for j in only_failed] == [failed.id]
    by_source = await stub.ListJobs(pb.ListJobsRequest(source_id="src_1", page_size=1))
    assert len(by_source.jobs) == 1 and by_source.next_page_token


async def test_stalled_watcher_is_cut_off_and_server_memory_stays_bounded(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, watch_queue_size=16, watch_write_timeout_seconds=0.5, **JOB_SETTINGS)
    try:
        job_id = await submit(srv, "test.idle", seconds=0.2, events=400, pad=8192)
        # A client that opens the stream and never reads (small flow-control window).
        channel = grpc.aio.insecure_channel(srv.address, options=[("grpc.http2.bdp_probe", 0)])
        from vecflow_client import metadata_interceptors

        channel = grpc.aio.insecure_channel(
            srv.address,
            options=[("grpc.http2.bdp_probe", 0)],
            interceptors=metadata_interceptors((("x-api-key", srv.key.secret),)),
        )
        stalled = pb_stub(channel).WatchJob(pb.WatchJobRequest(job_id=job_id))
        await asyncio.sleep(0.1)
        peak = 0
        while (await get_job(srv, job_id)).status not in TERMINAL:
            peak = max(peak, srv.app.hub.queued())
            await asyncio.sleep(0.01)
        for _ in range(100):  # the cut-off happens within the write timeout
            if srv.app.hub.watcher_count(job_id) == 0:
                break
            await asyncio.sleep(0.05)
        assert srv.app.hub.watcher_count(job_id) == 0
        assert peak <= 17  # never more than the queue bound (+ the overflow marker)
        received = []
        with pytest.raises(grpc.aio.AioRpcError) as err:
            async for message in stalled:
                received.append(message.event.sequence)
        assert err.value.code() == grpc.StatusCode.ABORTED
        details = error_details(err.value)
        assert details["reason"] == "WATCHER_TOO_SLOW"
        resume = int(details["metadata"]["resume_after_sequence"])
        # The hint is the last sequence the server saw written; the client may have one more in flight.
        assert received == list(range(1, len(received) + 1)) and resume <= received[-1]
        rest = await watch_all(srv, job_id, after=received[-1])
        assert_contiguous(rest, start=received[-1] + 1)
        assert rest[-1].job_status == job_pb2.JOB_STATUS_SUCCEEDED
        await channel.close()
    finally:
        await srv.close()


def pb_stub(channel: grpc.aio.Channel) -> Any:
    from vecflow_client.v1 import job_service_pb2_grpc

    return job_service_pb2_grpc.JobServiceStub(channel)


async def test_client_watch_job_resumes_transparently_after_a_cut_off(tmp_path: Path, sqlite_url: str) -> None:
    srv = await start_server(tmp_path, sqlite_url, watch_queue_size=8, watch_write_timeout_seconds=0.3, **JOB_SETTINGS)
    try:
        job_id = await submit(srv, "test.idle", seconds=0.1, events=200, pad=4096)
        seen = []
        async with VecflowClient(srv.address, srv.key.secret, options=[("grpc.http2.bdp_probe", 0)]) as client:
            async for event in client.watch_job(job_id):
                seen.append(event.sequence)
                if len(seen) == 3:
                    await asyncio.sleep(1.5)  # stall: the server cuts this reader off
            assert client.reconnects >= 1
        history = (await get_job(srv, job_id)).history
        assert seen == [e.sequence for e in history]
    finally:
        await srv.close()


async def test_an_event_that_cannot_be_stored_fails_only_its_caller(job_server: Server) -> None:
    """Appends committed together (group commit): one whose details are not JSON fails alone."""
    job = await job_server.app.engine.submit(job_server.key.project_id, "test.unclaimed", source_id="src_1")
    bad, good = await asyncio.gather(
        job_server.app.events.append(job.id, "bad", "info", details={"value": object()}),
        job_server.app.events.append(job.id, "good", "info", details={"ok": 1}),
        return_exceptions=True,
    )
    assert isinstance(bad, TypeError)
    assert good is not None and not isinstance(good, BaseException) and good.sequence == 2
    history = list((await get_job(job_server, job.id)).history)
    assert [(e.sequence, e.step) for e in history] == [(1, "queued"), (2, "good")]
