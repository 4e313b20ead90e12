"""How many requests a simulated server generates for at once, and how many it lets wait.

Like Ollama's scheduler: `parallel` requests run at once (OLLAMA_NUM_PARALLEL), each at the
instance's token rate; later ones wait in a queue of at most `max_queue` (OLLAMA_MAX_QUEUE), and
one more is refused with 503 `server busy, please try again.  maximum pending requests exceeded`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import TypeVar

from reconciler.testing.bodies import BadRequest

BUSY = "server busy, please try again.  maximum pending requests exceeded"

T = TypeVar("T")


class Slots:
    """The generation slots of one server; None for `parallel` means no limit."""

    def __init__(self, parallel: int | None, max_queue: int | None) -> None:
        self.parallel = parallel
        self.max_queue = max_queue
        self.running = 0
        self.waiting = 0
        self.peak = 0
        self.refused = 0
        self._free = asyncio.Condition()

    async def enter(self) -> None:
        """Wait for a slot; BadRequest(503) when the queue is full."""
        if self.parallel is None:
            self._started()
            return
        queue = self.max_queue
        if self.running >= self.parallel and queue is not None and self.waiting >= queue:
            self.refused += 1
            raise BadRequest(BUSY, status=503)
        self.waiting += 1
        try:
            async with self._free:
                await self._free.wait_for(lambda: self.running < (self.parallel or 0))
                self._started()
        finally:
            self.waiting -= 1

    async def leave(self) -> None:
        """A generation ended: free its slot for the next one waiting."""
        self.running -= 1
        async with self._free:
            self._free.notify(1)

    async def holding(self, events: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
        """`events`, with the slot (already entered) held until they end or are abandoned."""
        try:
            async for event in events:
                yield event
        finally:
            await events.aclose()
            await self.leave()

    def _started(self) -> None:
        self.running += 1
        self.peak = max(self.peak, self.running)
