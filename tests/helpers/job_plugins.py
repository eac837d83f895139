"""A job handler for tests, registered through the engine's public plugin interface.

Operation "test.steps" runs the named steps; each writes `items` rows in batches into a SQLite
results file with deterministic keys (upserts), checkpointing its cursor after each batch, the way
real ingestion writes vectors. It can fail at a step, and cleans up a step's rows when cancelled.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from vecflow.jobs.context import JobContext, Step
from vecflow.jobs.engine import JobEngine
from vecflow.jobs.errors import JobCancelled, JobFailed

SCHEMA = """CREATE TABLE IF NOT EXISTS produced (
    job_id TEXT, step TEXT, item INTEGER, attempt INTEGER, writes INTEGER,
    PRIMARY KEY (job_id, step, item))"""


def _write(path: str, job_id: str, step: str, items: range, attempt: int) -> None:
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute(SCHEMA)
        conn.executemany(
            "INSERT INTO produced VALUES (?, ?, ?, ?, 1) "
            "ON CONFLICT(job_id, step, item) DO UPDATE SET writes = writes + 1, attempt = excluded.attempt",
            [(job_id, step, i, attempt) for i in items],
        )


def _delete(path: str, job_id: str, step: str) -> None:
    with sqlite3.connect(path, timeout=30) as conn:
        conn.execute(SCHEMA)
        conn.execute("DELETE FROM produced WHERE job_id = ? AND step = ?", (job_id, step))


async def steps_job(ctx: JobContext) -> dict[str, Any]:
    p = ctx.params
    steps: list[str] = p.get("steps", ["one", "two", "three"])
    items: int = p.get("items", 10)
    batch: int = p.get("batch", 5)
    delay: float = p.get("delay", 0.0)
    path: str = p["results"]
    for name in steps:

        async def work(step: Step, name: str = name) -> dict[str, int]:
            cursor = ctx.state.get("cursors", {}).get(name, 0)
            step.details["resumed_at"] = cursor
            try:
                for start in range(cursor, items, batch):
                    ctx.checkpoint()
                    if p.get("fail_at") == name and ctx.attempt <= p.get("fail_attempts", 1) and start >= batch:
                        raise JobFailed("TEST_FAILURE", f"step {name} failed on purpose at item {start}")
                    await ctx.to_thread(
                        _write, path, ctx.job_id, name, range(start, min(start + batch, items)), ctx.attempt
                    )
                    if delay:
                        await asyncio.sleep(delay)
                    await ctx.save_state(cursors={**ctx.state.get("cursors", {}), name: start + batch})
                    await ctx.progress(done=min(start + batch, items), total=items)
            except JobCancelled:
                await ctx.to_thread(_delete, path, ctx.job_id, name)  # nothing half-written remains
                raise
            step.details["items"] = items
            return {"items": items}

        await ctx.run_step(name, work)
    return {"steps": len(steps), "items": items * len(steps)}


async def chatty_job(ctx: JobContext) -> dict[str, Any]:
    """Reports progress far faster than anyone can read it."""
    updates: int = ctx.params.get("updates", 2000)
    async with ctx.step("count") as step:
        for i in range(1, updates + 1):
            await ctx.progress(done=i, total=updates)
            if i % 50 == 0:
                await asyncio.sleep(0.005)
        step.details["done"] = updates
    return {"done": updates}


async def idle_job(ctx: JobContext) -> dict[str, Any]:
    """Sits in one step for a while (for heartbeats), padding its events to a given size."""
    pad = "x" * ctx.params.get("pad", 0)
    events: int = ctx.params.get("events", 0)
    async with ctx.step("wait"):
        for i in range(events):
            await ctx.engine.emit(ctx, "wait", "progress", details={"i": i, "pad": pad})
        await asyncio.sleep(ctx.params.get("seconds", 1.0))
    return {}


async def ticking_job(ctx: JobContext) -> dict[str, Any]:
    """Emits `events` progress events `interval` seconds apart, each committed before the next (none coalesced)."""
    events: int = ctx.params.get("events", 100)
    async with ctx.step("tick"):
        for i in range(events):
            await ctx.engine.emit(ctx, "tick", "progress", details={"i": i})
            await asyncio.sleep(ctx.params.get("interval", 0.01))
    return {"events": events}


def register(engine: JobEngine) -> None:
    engine.register("test.steps", steps_job)
    engine.register("test.chatty", chatty_job)
    engine.register("test.idle", idle_job)
    engine.register("test.ticks", ticking_job)
