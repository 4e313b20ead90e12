"""What observing costs: the show cache by digest, the steady-state request count, concurrency.

Requests are counted from the simulated servers' own logs (`server.state.requests`).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from reconciler.observed import Health
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.state import StateDir
from reconciler.testing import SimServer

MODELS = ("llama3.2:3b", "nomic-embed-text", "qwen2.5-coder:1.5b")


def _shows(world: Any) -> dict[str, int]:
    return {name: s.state.count("/api/show") for name, s in world.servers.items()}


async def test_a_second_observe_with_the_same_state_dir_makes_no_show_requests(
    world, tmp_path: Path
) -> None:
    for name in ("gpu-1", "gpu-2"):
        world.instance(name, models=MODELS)
    with StateDir(tmp_path / "state") as state:
        first = await world.observe(state)
    assert sum(_shows(world).values()) == 3  # one per digest, whichever instance asked

    world.forget_requests()
    with StateDir(tmp_path / "state") as state:  # a new process would open it afresh
        second = await world.observe(state)
    assert _shows(world) == {"gpu-1": 0, "gpu-2": 0}
    for name in ("gpu-1", "gpu-2"):
        assert sorted(world.requests(name)) == [
            ("GET", "/api/ps"),
            ("GET", "/api/tags"),
            ("GET", "/api/version"),
        ]
        assert second.instances[name].models == first.instances[name].models


async def test_a_steady_state_observe_costs_at_most_three_requests_per_instance(
    world, tmp_path: Path
) -> None:
    for index in range(12):
        world.instance(f"node-{index}", models=MODELS, loaded=("llama3.2:3b",))
    with StateDir(tmp_path / "state") as state:
        await world.observe(state)
        world.forget_requests()
        observed = await world.observe(state)
    assert all(o.health is Health.HEALTHY for o in observed.instances.values())
    assert max(len(world.requests(name)) for name in world.servers) <= 3


async def test_show_is_asked_once_per_digest_across_many_instances(world) -> None:
    for index in range(8):
        world.instance(f"node-{index}", models=MODELS)
    observed = await world.observe()  # no state directory: the sharing is within the run
    assert sum(_shows(world).values()) == len(MODELS)
    for instance in observed.instances.values():
        assert all(m.context_length for m in instance.models), instance.name
        assert all(m.capabilities for m in instance.models), instance.name


async def test_two_names_of_one_digest_cost_one_show(world) -> None:
    world.instance("gpu-1", models=("llama3.2:3b", "llama3.2:latest"))
    gpu = (await world.observe()).instances["gpu-1"]
    assert _shows(world) == {"gpu-1": 1}
    assert {m.context_length for m in gpu.models} == {131072}


async def test_only_a_new_digest_is_shown_on_the_next_run(world, tmp_path: Path) -> None:
    server = world.instance("gpu-1", models=MODELS, declared=(*MODELS, "gemma2:2b"))
    with StateDir(tmp_path / "state") as state:
        await world.observe(state)
        async with OllamaClient(
            ClientConfig(instance="gpu-1", base_url="http://gpu-1.sim.test:11434"),
            transport=httpx.ASGITransport(app=server.app),
        ) as client:
            [p async for p in client.pull("gemma2:2b")]
        world.forget_requests()
        observed = await world.observe(state)
    shown = [p for _, p in world.requests("gpu-1") if p == "/api/show"]
    assert shown == ["/api/show"]
    gemma = next(m for m in observed.instances["gpu-1"].models if m.name.model == "gemma2")
    assert gemma.context_length == 8192


async def test_a_failed_show_is_not_cached_and_is_asked_again(world, tmp_path: Path) -> None:
    server = world.instance("gpu-1", models=("llama3.2:3b",))
    server.faults.fail_next(status=500, path="/api/show")
    with StateDir(tmp_path / "state") as state:
        first = await world.observe(state)
        world.forget_requests()
        second = await world.observe(state)
    before, after = first.instances["gpu-1"], second.instances["gpu-1"]
    assert before.health is Health.HEALTHY  # the inventory is still right
    assert [m.name.display for m in before.models] == ["llama3.2:3b"]
    assert before.models[0].context_length is None
    assert _shows(world) == {"gpu-1": 1}
    assert after.models[0].context_length == 131072


async def test_a_corrupt_cache_is_rebuilt_not_fatal(world, tmp_path: Path) -> None:
    world.instance("gpu-1", models=MODELS)
    folder = tmp_path / "state"
    folder.mkdir()
    (folder / "state.db").write_bytes(b"this is not a SQLite database" * 100)
    with StateDir(folder) as state:
        observed = await world.observe(state)
    assert observed.instances["gpu-1"].health is Health.HEALTHY
    assert _shows(world) == {"gpu-1": 3}
    world.forget_requests()
    with StateDir(folder) as state:
        await world.observe(state)
    assert _shows(world) == {"gpu-1": 0}


class _Meter:
    """Wraps ASGI apps to record how many requests, and of how many instances, are in flight."""

    def __init__(self) -> None:
        self.now: Counter[str] = Counter()
        self.peak_requests = 0
        self.peak_instances = 0

    def wrap(self, name: str, server: SimServer) -> Any:
        async def app(scope: Any, receive: Any, send: Any) -> None:
            self.now[name] += 1
            self.peak_requests = max(self.peak_requests, sum(self.now.values()))
            self.peak_instances = max(self.peak_instances, sum(1 for n in self.now.values() if n))
            try:
                await server.app(scope, receive, send)
            finally:
                self.now[name] -= 1

        return app


def _metered(world: Any, meter: _Meter) -> Any:
    def factory(config: ClientConfig) -> OllamaClient:
        app = meter.wrap(config.instance, world.servers[config.instance])
        return OllamaClient(config, transport=httpx.ASGITransport(app=app))

    return factory


async def test_instances_are_probed_at_once_not_one_after_another(world) -> None:
    for index in range(8):
        world.instance(f"node-{index}", models=("llama3.2:3b",), latency=0.02)
    meter = _Meter()
    observer = world.observer(client_factory=_metered(world, meter))
    await observer.fleet(world.desired())
    assert meter.peak_instances == 8
    assert meter.peak_requests >= 16  # version, tags and ps of each instance together


async def test_requests_in_flight_are_bounded(world) -> None:
    for index in range(8):
        world.instance(f"node-{index}", models=MODELS, latency=0.02)
    meter = _Meter()
    observer = world.observer(client_factory=_metered(world, meter), max_in_flight=3, parallelism=2)
    observed = await observer.fleet(world.desired())
    assert all(o.health is Health.HEALTHY for o in observed.instances.values())
    assert meter.peak_requests == 3
    assert meter.peak_instances <= 2
