"""`orc watch --mode apply` over a server that holds 3 runners and an instance that declares 5
keepLoaded models: the real loop, Reconciler and simulator in process, on a fake clock. The loop
must not reload the evicted models at every interval, and must report the instance Degraded."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from reconciler.observed import Health
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.reconcile import KEEP_LOADED_RETRY, KeptLoaded, Reconciler
from reconciler.testing import SimInstanceConfig, SimServer
from reconciler.watch import Mode, Timing, WatchLoop, WatchOptions

FIVE = ("smollm2:135m", "qwen2.5-coder:1.5b", "llama3.2:1b", "gemma2:2b", "llama3.2:3b")
INTERVAL = 60.0
MESSAGE = "keeps 3 of 5 keepLoaded models loaded"


class FakeClock:
    """Monotonic seconds that move only when the test advances them."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2025, 6, 1, tzinfo=UTC) + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    def waiting(self) -> bool:
        return any(not f.done() for _, _, f in self._sleepers)

    def wake_due(self, target: float) -> bool:
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                self.now = max(self.now, when)
                future.set_result(None)
                return True
        return False


class NoChanges:
    """A change source that never reports a change."""

    def __aiter__(self) -> NoChanges:
        return self

    async def __anext__(self) -> set[str]:
        await asyncio.Event().wait()
        raise StopAsyncIteration


class Bench:
    def __init__(self, folder: Path, server: SimServer) -> None:
        self.clock = FakeClock()
        self.server = server
        self.reconciler = Reconciler(
            client_factory=self.client, env={}, kept_loaded=KeptLoaded(clock=self.clock)
        )
        self.loop = WatchLoop(
            WatchOptions((folder,), Mode.APPLY, Timing(interval=INTERVAL, jitter=0.0, settle=0)),
            self.reconciler,
            changes=NoChanges(),
            clock=self.clock,
            sleep=self.clock.sleep,
            wall=self.clock.wall,
            revision=lambda paths: None,
        )

    def client(self, config: ClientConfig) -> OllamaClient:
        return OllamaClient(config, transport=httpx.ASGITransport(app=self.server.app))

    async def idle(self) -> None:
        """Until the loop waits on the fake clock with no reconcile running."""
        for _ in range(100_000):
            if self.clock.waiting() and self.loop.record.running is None:
                return
            await asyncio.sleep(0)
        raise AssertionError("the watch loop did not settle")

    async def advance(self, seconds: float) -> None:
        """Move the fake clock, letting each reconcile that falls due run to its end."""
        target = self.clock.now + seconds
        await self.idle()
        while self.clock.wake_due(target):
            await asyncio.sleep(0)
            await self.idle()
        self.clock.now = target

    @property
    def loads(self) -> int:
        return self.server.state.count("/api/generate")

    @property
    def instance(self):  # type: ignore[no-untyped-def]
        return self.loop.record.observed["gpu"]


def manifest(folder: Path) -> None:
    models = "".join(f'    - {{name: "{m}", keepLoaded: true}}\n' for m in FIVE)
    text = (
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: gpu}\n"
        'spec:\n  url: "http://gpu.sim.test:11434"\n  models:\n' + models
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gpu.yaml").write_text(text, encoding="utf-8")


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Bench]:
    manifest(tmp_path / "manifests")
    server = SimServer(SimInstanceConfig("gpu", models=FIVE, max_loaded=3))
    bench = Bench(tmp_path / "manifests", server)
    task = asyncio.create_task(bench.loop.run())
    await bench.idle()
    yield bench
    bench.loop.stop.set()
    await asyncio.wait_for(task, timeout=10)


async def test_watch_stops_reloading_what_the_server_cannot_hold_and_reports_it(bench):
    assert bench.loop.cycle.count == 1
    assert bench.loads == 5, "the first reconcile tries every keepLoaded model"
    assert len(bench.server.state.loaded) == 3
    assert (bench.instance.health, bench.instance.message) == (Health.DEGRADED, MESSAGE)

    await bench.advance(10 * INTERVAL)

    assert bench.loop.cycle.count == 11
    assert bench.loads == 5, "no reload at any interval since"
    assert str(bench.loop.record.last.result) == "synced"
    (entry,) = bench.loop.record.document["instances"]
    assert (entry["health"], entry["message"]) == ("Degraded", MESSAGE)


async def test_after_a_restart_it_loads_only_what_the_server_held(bench):
    bench.server.restart()
    await bench.advance(INTERVAL)
    assert bench.loads == 5 + 3
    assert len(bench.server.state.loaded) == 3
    assert bench.instance.message == MESSAGE


async def test_every_load_is_tried_again_once_the_retry_time_has_passed(bench):
    await bench.advance(KEEP_LOADED_RETRY - INTERVAL)
    assert bench.loads == 5
    await bench.advance(2 * INTERVAL)
    assert bench.loads == 5 + 2, "the two missing ones, once"
    await bench.advance(10 * INTERVAL)
    assert bench.loads == 5 + 2
    assert bench.instance.message == MESSAGE
