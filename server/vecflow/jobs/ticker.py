"""A periodic sweep that runs only while there is something to sweep (watch heartbeats, stalled writes)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Ticker:
    """One task that calls `tick(now)` every `period` seconds while `active()`; `ensure()` (re)starts it."""

    def __init__(self, name: str, period: float, tick: Callable[[float], None], active: Callable[[], bool]) -> None:
        self.name = name
        self.period = period
        self.tick = tick
        self.active = active
        self._task: asyncio.Task[None] | None = None

    def ensure(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def _run(self) -> None:
        while self.active():
            await asyncio.sleep(self.period)
            self.tick(time.monotonic())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
