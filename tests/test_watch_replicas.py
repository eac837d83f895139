"""WatchJob across two replicas on one PostgreSQL: a job runs on A, its watchers are on B (LISTEN/NOTIFY,
reconnect and polling fallback: vecflow.jobs.listener). PostgreSQL only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from helpers.server import JOB_SETTINGS, Server, start_server
from sqlalchemy.engine import make_url
from vecflow_client.v1 import job_pb2
from vecflow_client.v1 import job_service_pb2 as pb

EVENTS = 100  # progress events of the test job, ~1.5 s in all
TOTAL = EVENTS + 5  # queued, started, tick started, the ticks, tick succeeded, job succeeded


@pytest.fixture
async def replicas(tmp_path: Path, postgres_url: str) -> AsyncIterator[tuple[Server, Server, str]]:
    """Replica A runs jobs; replica B (no worker slots) only serves watchers. Both on one fresh PostgreSQL database
    (watching across replicas is LISTEN/NOTIFY)."""
    url = postgres_url
    servers: list[Server] = []
    try:
        a = await start_server(tmp_path / "a", url, **JOB_SETTINGS)
        servers.append(a)
        servers.append(await start_server(tmp_path / "b", url, key=a.key, **JOB_SETTINGS, workers=0))
        yield servers[0], servers[1], url
    finally:
        for server in servers:
            await server.close()


async def submit(server: Server, events: int = EVENTS, interval: float = 0.015) -> str:
    job = await server.app.engine.submit(
        server.key.project_id, "test.ticks", source_id="src_1", params={"events": events, "interval": interval}
    )
    return job.id


async def history(server: Server, job_id: str) -> list[job_pb2.JobHistoryEvent]:
    job = (await server.stubs().jobs.GetJob(pb.GetJobRequest(job_id=job_id))).job
    assert job.status == job_pb2.JOB_STATUS_SUCCEEDED
    return list(job.history)


async def watch(
    server: Server, job_id: str, after: int = 0, stop_at: int | None = None, on_event: Any = None
) -> list[job_pb2.JobHistoryEvent]:
    """Every event WatchJob sends after `after` (until the job ends, or `stop_at` events, then disconnect)."""
    seen: list[job_pb2.JobHistoryEvent] = []
    call = server.stubs().jobs.WatchJob(pb.WatchJobRequest(job_id=job_id, after_sequence=after))
    async for message in call:
        if not message.HasField("event"):
            continue
        seen.append(message.event)
        if on_event is not None:
            await on_event(message.event)
        if stop_at is not None and len(seen) >= stop_at:
            call.cancel()
            break
    return seen


def pg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def assert_contiguous(events: list[job_pb2.JobHistoryEvent], start: int = 1) -> None:
    assert [e.sequence for e in events] == list(range(start, start + len(events)))


async def test_watchers_on_another_replica_get_every_event_live_in_order_exactly_once(
    replicas: tuple[Server, Server, str],
) -> None:
    a, b, _ = replicas
    job_id = await submit(a)
    statuses_at_fifth: list[int] = []

    async def note(event: job_pb2.JobHistoryEvent) -> None:
        if event.sequence == 5:  # a live event: the job on A has ~100 more to go
            job = (await b.stubs().jobs.GetJob(pb.GetJobRequest(job_id=job_id))).job
            statuses_at_fifth.append(job.status)

    seen = await asyncio.gather(watch(b, job_id, on_event=note), watch(b, job_id), watch(b, job_id), watch(a, job_id))
    full = await history(a, job_id)
    assert len(full) == TOTAL
    assert_contiguous(full)
    for events in seen:
        assert events == full  # every event, in order, exactly once, on either replica
    assert statuses_at_fifth == [job_pb2.JOB_STATUS_RUNNING]  # delivered before the job ended
    # B read each of A's events at most once for its three watchers (never once per watcher) and A read none
    # of its own (it publishes them after commit).
    assert 0 < b.app.listener.events_read <= TOTAL
    assert a.app.listener.events_read == 0
    assert b.app.hub.watched() == {} and a.app.hub.watched() == {}


async def test_resuming_on_the_other_replica_misses_and_repeats_nothing(replicas: tuple[Server, Server, str]) -> None:
    a, b, _ = replicas
    job_id = await submit(a)
    seen: list[job_pb2.JobHistoryEvent] = []
    for server, cut in ((b, 20), (a, 25), (b, 30), (a, None)):  # B, then A, then B, then A to the end
        seen += await watch(server, job_id, after=seen[-1].sequence if seen else 0, stop_at=cut)
    assert seen == await history(a, job_id)
    assert_contiguous(seen)
    assert len(seen) == TOTAL


async def test_a_dropped_listen_connection_reconnects_and_reads_what_it_missed(
    replicas: tuple[Server, Server, str],
) -> None:
    a, b, url = replicas
    listener = b.app.listener
    assert listener.connection is not None
    pid = listener.connection.backend_pid
    killer = await asyncpg.connect(pg_dsn(url))
    job_id = await submit(a)

    async def kill(event: job_pb2.JobHistoryEvent) -> None:
        if event.sequence == 20:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)

    try:
        seen = await watch(b, job_id, on_event=kill)
    finally:
        await killer.close()
    assert seen == await history(a, job_id)
    assert_contiguous(seen)
    for _ in range(200):  # it reconnected at once (the watch above could also have been fed by the poll)
        if listener.reconnects:
            break
        await asyncio.sleep(0.05)
    assert listener.reconnects == 1 and listener.connection is not None
    assert listener.connection.backend_pid != pid


async def deafen(server: Server) -> int:
    """Stop `server`'s listener hearing notifications while its connection stays up; returns its backend pid."""
    connection = server.app.listener.connection
    assert connection is not None
    await connection._conn.execute("UNLISTEN *")
    return connection.backend_pid


async def test_lost_notifications_are_made_up_for_by_polling(
    tmp_path: Path, replicas: tuple[Server, Server, str]
) -> None:
    a, _, url = replicas
    poller = await start_server(
        tmp_path / "c", url, key=a.key, **{**JOB_SETTINGS, "workers": 0, "watch_poll_seconds": 0.1}
    )
    try:
        await deafen(poller)
        job_id = await submit(a, events=20, interval=0.01)
        seen = await watch(poller, job_id)
        assert seen == await history(a, job_id)
        assert_contiguous(seen)
        assert poller.app.listener.reconnects == 0 and poller.app.listener.events_read > 0
    finally:
        await poller.close()


async def test_after_a_reconnect_the_listener_reads_what_was_committed_while_it_was_away(
    tmp_path: Path, replicas: tuple[Server, Server, str]
) -> None:
    a, _, url = replicas
    # No poll within the test: only the catch-up after the reconnect can deliver the job's last events.
    other = await start_server(
        tmp_path / "c", url, key=a.key, **{**JOB_SETTINGS, "workers": 0, "watch_poll_seconds": 600.0}
    )
    killer = await asyncpg.connect(pg_dsn(url))
    try:
        job_id = (await a.app.engine.submit(a.key.project_id, "test.idle", params={"seconds": 0.5})).id

        async def miss_the_end(event: job_pb2.JobHistoryEvent) -> None:
            if event.sequence != 3:  # queued, started, wait:started; then the job sleeps
                return
            pid = await deafen(other)
            for _ in range(600):  # the job ends on A while C hears nothing
                job = (await a.stubs().jobs.GetJob(pb.GetJobRequest(job_id=job_id))).job
                if job.status == job_pb2.JOB_STATUS_SUCCEEDED:
                    break
                await asyncio.sleep(0.05)
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", pid)

        seen = await watch(other, job_id, on_event=miss_the_end)
        full = await history(a, job_id)
        assert seen == full and len(full) == 5
        assert other.app.listener.reconnects == 1
    finally:
        await killer.close()
        await other.close()
