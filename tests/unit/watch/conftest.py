"""The watch loop's test bench: a fake clock, a scripted change source, a fake fleet.

Nothing here sleeps in real time. The fake reconciler observes a dictionary of fake servers and
plans with the real, pure `plan()`; its apply changes the dictionary. Manifests are real files in
a temporary folder, read by the real loader, so diagnostics carry real files and lines.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import itertools
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply import ActionFinished, ActionResult, ApplyResult, EventSink, Outcome
from reconciler.desired import DesiredFleet
from reconciler.manifest import load_fleet
from reconciler.names import parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.plan import ActionKind, Plan, plan, select
from reconciler.watch import Mode, Timing, WatchLoop, WatchOptions

EPOCH = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)


async def settle(rounds: int = 200) -> None:
    """Let every runnable task run until all of them wait (on the fake clock or an event)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


class FakeClock:
    """Monotonic time that moves only when a test calls `advance`."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def __call__(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), future))
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking each sleeper at its own deadline, in order."""
        target = self.now + seconds
        await settle()
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, future = heapq.heappop(self._sleepers)
            self.now = max(self.now, when)
            if not future.done():
                future.set_result(None)
                await settle()
        self.now = target
        await settle()


class ScriptedChanges:
    """A change source fed by the test: `emit({"a.yaml"})`."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[set[str]] = asyncio.Queue()

    def emit(self, *paths: Path | str) -> None:
        self._queue.put_nowait({str(p) for p in paths})

    def __aiter__(self) -> AsyncIterator[set[str]]:
        return self

    async def __anext__(self) -> set[str]:
        return await self._queue.get()


@dataclass
class FakeServer:
    """One fake Ollama server: its models, and whether it answers."""

    models: set[str]
    reachable: bool = True
    loaded: set[str] = field(default_factory=set)


class FakeReconciler:
    """Observes the fake servers, plans with the real planner, applies to the fake servers."""

    def __init__(self, servers: Mapping[str, FakeServer]) -> None:
        self.servers = dict(servers)
        self.plans: list[tuple[str, ...]] = []
        self.applied: list[Plan] = []
        self.hold_plan: asyncio.Event | None = None
        self.hold_apply: asyncio.Event | None = None

    async def plan(
        self,
        desired: DesiredFleet,
        targets: Sequence[str] = (),
        selector: Mapping[str, str] | None = None,
    ) -> tuple[ObservedFleet, Plan]:
        self.plans.append(tuple(targets))
        if self.hold_plan is not None:
            await self.hold_plan.wait()
        chosen = select(desired, targets)
        observed = ObservedFleet({i.name: self._observe(i.name, i.url) for i in chosen.instances})
        return observed, plan(desired, observed, targets=targets)

    async def apply(
        self,
        made: Plan,
        desired: DesiredFleet,
        *,
        parallelism: int | None = None,
        on_event: EventSink | None = None,
    ) -> ApplyResult:
        self.applied.append(made)
        if self.hold_apply is not None:
            try:
                await self.hold_apply.wait()
            except asyncio.CancelledError:  # as the real executor does: report, not raise
                return ApplyResult((), interrupted=True)
        results = []
        for action in made.actions:
            server = self.servers[action.instance]
            name = action.model.display
            if action.kind is ActionKind.PULL:
                server.models.add(name)
            elif action.kind is ActionKind.DELETE:
                server.models.discard(name)
            elif action.kind is ActionKind.LOAD:
                server.loaded.add(name)
            result = ActionResult(action, Outcome.DONE, attempts=1, seconds=0.5)
            if on_event is not None:
                on_event(ActionFinished(result))
            results.append(result)
        return ApplyResult(tuple(results))

    def _observe(self, name: str, url: str) -> ObservedInstance:
        server = self.servers[name]
        if not server.reachable:
            return ObservedInstance(
                name, url, True, Health.UNREACHABLE, "ConnectError", "connection refused"
            )
        models = tuple(
            ObservedModel(parse(m), digest=_digest(m), size=1000, loaded=m in server.loaded)
            for m in sorted(server.models)
        )
        return ObservedInstance(
            name,
            url,
            True,
            Health.HEALTHY,
            "Reachable",
            version="0.12.6",
            latency_ms=5.0,
            models=models,
        )


def _digest(model: str) -> str:
    return hashlib.sha256(model.encode()).hexdigest()


def instance_yaml(
    name: str,
    models: Sequence[str] = (),
    absent: Sequence[str] = (),
    keep_loaded: Sequence[str] = (),
) -> str:
    lines = [
        "apiVersion: ollama-reconciler/v1",
        "kind: OllamaInstance",
        "metadata:",
        f"  name: {name}",
        "spec:",
        f"  url: http://{name}.example:11434",
        "  models:" if (models or absent) else "  models: []",
    ]
    for model in models:
        lines.append(f'    - name: "{model}"')
        if model in keep_loaded:
            lines.append("      keepLoaded: true")
    for model in absent:
        lines += [f'    - name: "{model}"', "      state: absent"]
    return "\n".join(lines) + "\n"


class Bench:
    """A `WatchLoop` over real manifest files, a fake fleet and a fake clock, running."""

    manifest = staticmethod(instance_yaml)

    def __init__(self, folder: Path, servers: Mapping[str, Sequence[str]], **options: Any) -> None:
        self.folder = folder
        self.clock = FakeClock()
        self.changes = ScriptedChanges()
        self.reconciler = FakeReconciler({n: FakeServer(set(m)) for n, m in servers.items()})
        self.lock: Callable[[Any, Any], Any] | None = options.pop("lock", None)
        dispatcher = options.pop("dispatcher", None)
        mode = options.pop("mode", Mode.APPLY)
        follow = options.pop("interval_from_manifests", False)
        loader = options.pop("loader", load_fleet)
        options.setdefault("settle", 0.0)  # test_watch_half_saved.py sets it where it matters
        self.loop = WatchLoop(
            WatchOptions((folder,), mode, Timing(**options), interval_from_manifests=follow),
            self.reconciler,
            changes=self.changes,
            clock=self.clock,
            sleep=self.clock.sleep,
            rng=random.Random(7),
            wall=self.clock.wall,
            revision=lambda paths: None,
            loader=loader,
            lock=self.lock,
            dispatcher=dispatcher,
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def record(self) -> Any:
        return self.loop.record

    def server(self, name: str) -> FakeServer:
        return self.reconciler.servers[name]

    @property
    def cycles(self) -> int:
        return self.loop.cycle.count

    def write(self, name: str, text: str) -> Path:
        path = self.folder / name
        path.write_text(text, encoding="utf-8")
        return path

    async def start(self) -> None:
        self.task = asyncio.create_task(self.loop.run())
        await settle()

    async def edit(self, name: str, text: str) -> None:
        """Save a manifest and let the watcher report it."""
        self.changes.emit(self.write(name, text))
        await settle()

    async def stop(self) -> None:
        self.loop.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def bench(tmp_path: Path) -> AsyncIterator[Callable[..., Bench]]:
    """Factory: `bench({"a": ["llama3.2:3b"]}, interval=60)` → a Bench (start it yourself)."""
    made: list[Bench] = []

    def factory(servers: Mapping[str, Sequence[str]], **options: Any) -> Bench:
        folder = tmp_path / "manifests"
        folder.mkdir(exist_ok=True)
        made.append(Bench(folder, servers, **options))
        return made[-1]

    yield factory
    for item in made:
        await item.stop()
