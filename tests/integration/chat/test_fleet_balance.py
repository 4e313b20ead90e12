"""`Fleet` under concurrency on simulated servers: balancing, single-flight probes, circuits."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest

from reconciler.chat import CircuitPolicy, Fleet, FleetChatResult, NoInstanceAvailable
from reconciler.chat.balance import Policy
from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
from reconciler.names import parse
from reconciler.testing import SimInstanceConfig, SimServer

from .conftest import Sim

HI = [{"role": "user", "content": "Reply with the single word OK."}]
MODEL = "llama3.2:3b"


def instance(name: str, priority: int = 1, **extra: int) -> DesiredInstance:
    return DesiredInstance(
        name=name,
        url=f"http://{name}",
        priority=priority,
        models=(DesiredModel(parse(MODEL)),),
        **extra,  # type: ignore[arg-type]
    )


def make_sim(*configs: SimInstanceConfig) -> Sim:
    return Sim({c.name: SimServer(c) for c in configs})


def sim_config(name: str, **extra: object) -> SimInstanceConfig:
    return SimInstanceConfig(name, models=(MODEL,), first_token_delay=0.02, **extra)  # type: ignore[arg-type]


@pytest.fixture
def open_fleet() -> Callable[..., Fleet]:
    def make(
        sim: Sim, *instances: DesiredInstance, policy: Policy = "balanced", **kw: object
    ) -> Fleet:
        return Fleet(
            DesiredFleet(instances=instances),
            client_factory=sim.factory,
            clock=sim.clock,
            policy=policy,
            **kw,  # type: ignore[arg-type]
        )

    return make


async def chat_many(fleet: Fleet, n: int) -> list[FleetChatResult]:
    return await asyncio.gather(*(fleet.chat(model=MODEL, messages=HI) for _ in range(n)))


@pytest.fixture
async def closing() -> AsyncIterator[list[Fleet]]:
    fleets: list[Fleet] = []
    yield fleets
    for fleet in fleets:
        await fleet.aclose()


async def test_concurrent_chats_are_shared_by_equal_instances(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"), sim_config("cpu"))
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"), instance("cpu", priority=5))
    closing.append(fleet)
    results = await chat_many(fleet, 24)
    assert Counter(r.instance for r in results) == {"gpu-a": 12, "gpu-b": 12}
    assert all(r.content == "OK" and r.failovers == () for r in results)
    assert sim.chats("cpu") == 0


async def test_the_first_policy_still_sends_everything_to_one_instance(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"))
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"), policy="first")
    closing.append(fleet)
    results = await chat_many(fleet, 24)
    assert len({r.instance for r in results}) == 1


async def test_a_fresh_fleet_probes_each_instance_once_for_many_concurrent_chats(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"), sim_config("cpu"))
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"), instance("cpu", priority=5))
    closing.append(fleet)
    results = await chat_many(fleet, 150)
    assert len(results) == 150 and all(r.content == "OK" for r in results)
    assert [sim.probes(name) for name in ("gpu-a", "gpu-b", "cpu")] == [1, 1, 1]
    assert sum(sim.chats(name) for name in ("gpu-a", "gpu-b")) == 150


async def test_a_failed_probe_is_shared_too(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"))
    sim.down.add("gpu-a")
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"))
    closing.append(fleet)
    results = await chat_many(fleet, 100)
    assert {r.instance for r in results} == {"gpu-b"}
    alone = make_sim(sim_config("gpu-a"))
    alone.down.add("gpu-a")
    async with open_fleet(alone, instance("gpu-a")) as single:
        await single.status()
    one_round = alone.sent["gpu-a"]  # the requests of one probe of a refusing server
    assert sim.sent["gpu-a"] == one_round  # shared by every chat; no chat was sent there


async def test_more_chats_than_connections_run_when_maxconcurrent_sizes_the_pool(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"))
    fleet = open_fleet(sim, instance("gpu-a", max_concurrent=300))
    closing.append(fleet)
    await fleet.status()
    results = await chat_many(fleet, 250)
    assert len(results) == 250
    assert sim.servers["gpu-a"].ctx.slots.peak == 250  # one wave: no pool of 100 in the way


async def test_beyond_maxconcurrent_chats_spill_to_the_next_tier_not_past_the_cap(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"), sim_config("cpu"))
    best = (instance("gpu-a", max_concurrent=4), instance("gpu-b", max_concurrent=4))
    fleet = open_fleet(sim, *best, instance("cpu", priority=5))
    closing.append(fleet)
    await fleet.status()
    results = await chat_many(fleet, 20)
    assert Counter(r.instance for r in results) == {"gpu-a": 4, "gpu-b": 4, "cpu": 12}
    assert sim.servers["gpu-a"].ctx.slots.peak == 4


async def test_when_every_instance_is_full_chats_wait_for_a_slot_then_give_up(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"))
    fleet = open_fleet(sim, instance("gpu-a", max_concurrent=2), wait_limit=5.0)
    closing.append(fleet)
    results = await chat_many(fleet, 6)
    assert len(results) == 6 and sim.servers["gpu-a"].ctx.slots.peak == 2
    sim.servers["gpu-a"].faults.stall_next(2, 5.0, path="/api/chat")
    hung = [asyncio.create_task(fleet.chat(model=MODEL, messages=HI)) for _ in range(2)]
    await asyncio.sleep(0.05)
    fleet.admission.wait_limit = 0.05
    with pytest.raises(NoInstanceAvailable) as caught:
        await fleet.chat(model=MODEL, messages=HI)
    assert "gpu-a (priority 1) passed over: at capacity: 2 of 2 requests in flight" in str(
        caught.value
    )
    for task in hung:
        task.cancel()
    await asyncio.gather(*hung, return_exceptions=True)
    assert fleet.load()["gpu-a"].outstanding == 0


async def test_a_server_that_starts_refusing_is_skipped_by_every_chat_then_recovers(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a"), sim_config("gpu-b"))
    policy = CircuitPolicy(threshold=3, cool_down=2.0)
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"), circuit=policy)
    closing.append(fleet)
    await fleet.status()
    sim.down.add("gpu-a")
    sent = sim.sent.get("gpu-a", 0)
    results = await chat_many(fleet, 40)
    assert {r.instance for r in results} == {"gpu-b"}
    assert sim.sent["gpu-a"] - sent == 1  # the first refusal opened the circuit for everyone
    status = await fleet.status()
    assert status.load["gpu-a"].circuit == "open"
    assert status.load["gpu-a"].last_failure == "unreachable"
    sim.down.discard("gpu-a")
    sim.clock.offset += 2.0
    await fleet.status()  # a probe says it is back; the circuit still decides
    trial = await fleet.chat(model=MODEL, messages=HI)
    assert trial.instance == "gpu-a"  # the half-open trial: least loaded, and it may go
    assert fleet.load()["gpu-a"].circuit == "closed"
    after = await chat_many(fleet, 20)
    assert Counter(r.instance for r in after) == {"gpu-a": 10, "gpu-b": 10}


async def test_an_overloaded_server_answering_busy_sheds_load_to_its_peer(
    open_fleet: Callable[..., Fleet], closing: list[Fleet]
) -> None:
    sim = make_sim(sim_config("gpu-a", parallel=2, max_queue=0), sim_config("gpu-b"))
    slow_trials = CircuitPolicy(cool_down=60.0)
    fleet = open_fleet(sim, instance("gpu-a"), instance("gpu-b"), circuit=slow_trials)
    closing.append(fleet)
    await fleet.status()
    results = await chat_many(fleet, 24)
    assert len(results) == 24 and all(r.content == "OK" for r in results)
    refused = sim.servers["gpu-a"].ctx.slots.refused
    assert refused >= 3
    busy = [f for r in results for f in r.failovers if f.instance == "gpu-a" and f.tried]
    assert len(busy) == refused and {f.reason for f in busy} == {"busy (HTTP 503)"}
    skipped = [f for r in results for f in r.failovers if not f.tried]
    assert skipped and all(f.reason == "circuit open" for f in skipped)
    assert fleet.load()["gpu-a"].circuit == "open"
