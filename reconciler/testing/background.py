"""A SimFleet running on its own event loop in a background thread.

For synchronous callers (`orc demo`, CLI tests) that run `asyncio.run` themselves: the simulated
servers keep serving while the caller's own loops come and go.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from concurrent.futures import Future
from typing import Any, TypeVar

from reconciler.testing.config import SimInstanceConfig
from reconciler.testing.fleet import SimFleet

T = TypeVar("T")


class BackgroundFleet:
    """`with BackgroundFleet([...]) as fleet:` serves the instances until the block ends."""

    def __init__(self, configs: Sequence[SimInstanceConfig], host: str = "127.0.0.1") -> None:
        self.fleet = SimFleet(list(configs), host=host)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True, name="sim")

    def __enter__(self) -> SimFleet:
        self._thread.start()
        self.call(self.fleet.__aenter__())
        return self.fleet

    def __exit__(self, *exc_info: object) -> None:
        try:
            self.call(self.fleet.__aexit__(None, None, None), timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the fleet's loop (e.g. `fleet.stop(name)`) and wait for it."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)
