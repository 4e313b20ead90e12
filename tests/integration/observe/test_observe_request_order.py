"""How one instance's probe requests are made: all at once for a fleet that fits in the request
slots, one after another over one connection for a bigger one (the slots are full either way),
required requests first; both ways observe the same."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.observed import Health
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.probe import Observer

TAGS = {"models": [{"name": "llama3.2:3b", "model": "llama3.2:3b", "size": 1, "details": {}}]}


@dataclass
class Server:
    """A fake server that notes which requests of its instance overlapped."""

    refuse_tags: bool = False
    paths: list[str] = field(default_factory=list)
    active: int = 0
    most_active: int = 0

    async def handle(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        for _ in range(5):  # let every other task run: overlapping requests meet here
            await asyncio.sleep(0)
        self.active -= 1
        if request.url.path == "/api/version":
            return httpx.Response(200, json={"version": "0.12.6"})
        if request.url.path == "/api/tags":
            if self.refuse_tags:
                raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
            return httpx.Response(200, json=TAGS)
        return httpx.Response(200, json={"models": []})


def observe(servers: dict[str, Server], slots: int) -> Observer:
    def factory(config: ClientConfig) -> OllamaClient:
        handler = servers[config.instance].handle
        return OllamaClient(config, transport=httpx.MockTransport(handler))

    return Observer(None, factory, env={}, max_in_flight=slots, loaded_where_planned=True)


def fleet(names: list[str]) -> DesiredFleet:
    return DesiredFleet(instances=tuple(DesiredInstance(n, f"http://{n}.test") for n in names))


async def test_a_fleet_within_the_slots_asks_each_instance_everything_at_once() -> None:
    servers = {n: Server() for n in ("a", "b", "c")}
    seen = await observe(servers, slots=64).fleet(fleet(list(servers)))
    assert all(s.most_active == 2 for s in servers.values())
    assert {i.health for i in seen.instances.values()} == {Health.HEALTHY}


async def test_a_fleet_beyond_the_slots_asks_one_request_at_a_time_tags_first() -> None:
    servers = {n: Server() for n in ("a", "b", "c")}
    seen = await observe(servers, slots=2).fleet(fleet(list(servers)))
    assert all(s.most_active == 1 for s in servers.values())
    assert all(s.paths[:2] == ["/api/tags", "/api/version"] for s in servers.values())
    assert {i.health for i in seen.instances.values()} == {Health.HEALTHY}
    assert {i.version for i in seen.instances.values()} == {"0.12.6"}


async def test_one_at_a_time_a_failed_inventory_ends_the_probe_as_it_fails_it() -> None:
    servers = {"a": Server(refuse_tags=True), "b": Server(), "c": Server()}
    seen = await observe(servers, slots=2).fleet(fleet(list(servers)))
    assert servers["a"].paths == ["/api/tags"]  # no second request to a server that is down
    failed = seen.instances["a"]
    assert failed.health is Health.UNREACHABLE
    assert "connection refused" in failed.message


async def test_both_ways_observe_the_same() -> None:
    names = ["a", "b", "c"]
    at_once = await observe({n: Server() for n in names}, slots=64).fleet(fleet(names))
    one_by_one = await observe({n: Server() for n in names}, slots=2).fleet(fleet(names))
    for name in names:
        first, second = at_once.instances[name], one_by_one.instances[name]
        assert (first.health, first.version, first.models) == (
            second.health,
            second.version,
            second.models,
        )


@dataclass
class Counter:
    """Instances being probed at once, across the whole fleet, and the order they started in."""

    active: int = 0
    most_active: int = 0
    started: list[str] = field(default_factory=list)


def counted(counter: Counter, slots: int = 64, parallelism: int | None = None) -> Observer:
    async def handle(request: httpx.Request) -> httpx.Response:
        host = request.url.host.removesuffix(".test")
        if request.url.path == "/api/tags":  # the first request of a one-by-one probe
            counter.started.append(host)
            counter.active += 1
            counter.most_active = max(counter.most_active, counter.active)
        for _ in range(5):
            await asyncio.sleep(0)
        if request.url.path == "/api/version":  # the last one of a plan's probe
            counter.active -= 1
            return httpx.Response(200, json={"version": "0.12.6"})
        return httpx.Response(200, json=TAGS)

    def factory(config: ClientConfig) -> OllamaClient:
        return OllamaClient(config, transport=httpx.MockTransport(handle))

    return Observer(
        None,
        factory,
        env={},
        max_in_flight=slots,
        parallelism=parallelism,
        loaded_where_planned=True,
    )


async def test_a_fleet_far_beyond_the_bound_is_probed_in_order_never_more_at_once() -> None:
    names = [f"n{i}" for i in range(9)]
    counter = Counter()
    seen = await counted(counter, slots=2).fleet(fleet(names))
    assert counter.most_active == 2
    assert counter.started == names
    assert list(seen.instances) == names
    assert {i.health for i in seen.instances.values()} == {Health.HEALTHY}


async def test_parallelism_bounds_the_instances_probed_at_once() -> None:
    names = [f"n{i}" for i in range(7)]
    counter = Counter()
    seen = await counted(counter, slots=4, parallelism=3).fleet(fleet(names))
    assert counter.most_active == 3
    assert [i.version for i in seen.instances.values()] == ["0.12.6"] * 7


async def test_an_empty_fleet_is_an_empty_round() -> None:
    seen = await counted(Counter()).fleet(fleet([]))
    assert seen.instances == {}
