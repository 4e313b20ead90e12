"""`Fleet`'s default policy on simulated servers of different speeds: it learns their windows
and paces, holds what none has room for, and gives it to whichever frees first."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from reconciler.chat import Fleet, FleetChatResult
from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
from reconciler.names import parse
from reconciler.testing import SimInstanceConfig, SimServer

from .conftest import Sim

MODEL = "llama3.2:3b"
PROSE = [{"role": "user", "content": "Tell me about yourself."}]


def instance(name: str, priority: int = 1, **extra: int) -> DesiredInstance:
    return DesiredInstance(
        name=name,
        url=f"http://{name}",
        priority=priority,
        models=(DesiredModel(parse(MODEL)),),
        **extra,  # type: ignore[arg-type]
    )


def sim_of(**rates: float) -> Sim:
    """One server per name at its token rate, 2 generation slots each and a deep queue."""
    configs = [
        SimInstanceConfig(
            name, models=(MODEL,), token_rate=rate, first_token_delay=0.01, parallel=2
        )
        for name, rate in rates.items()
    ]
    return Sim({c.name: SimServer(c) for c in configs})


@pytest.fixture
async def fleets() -> AsyncIterator[list[Fleet]]:
    opened: list[Fleet] = []
    yield opened
    for fleet in opened:
        await fleet.aclose()


def default_fleet(sim: Sim, *instances: DesiredInstance, opened: list[Fleet]) -> Fleet:
    fleet = Fleet(DesiredFleet(instances=instances), client_factory=sim.factory, clock=sim.clock)
    opened.append(fleet)
    return fleet


async def chat_many(fleet: Fleet, n: int, tokens: int = 6) -> list[FleetChatResult]:
    options = {"num_predict": tokens}
    return await asyncio.gather(
        *(fleet.chat(model=MODEL, messages=PROSE, options=options) for _ in range(n))
    )


async def test_a_twice_faster_instance_gets_about_two_thirds_with_default_weights(
    fleets: list[Fleet],
) -> None:
    sim = sim_of(fast=200.0, slow=100.0, spare=200.0)
    fleet = default_fleet(
        sim, instance("fast"), instance("slow"), instance("spare", priority=2), opened=fleets
    )
    results = await chat_many(fleet, 60)
    shares = Counter(r.instance for r in results)
    assert 36 <= shares["fast"] <= 44, shares  # 2/3 of 60 is 40; even shares would be 30
    assert shares["fast"] + shares["slow"] == 60
    assert sim.chats("spare") == 0  # the lower tier stays empty while the best one has room
    load = fleet.load()
    assert load["fast"].seconds_per_reply is not None
    assert load["slow"].seconds_per_reply is not None
    assert load["fast"].seconds_per_reply < load["slow"].seconds_per_reply


async def test_the_window_settles_on_the_servers_generation_slots(fleets: list[Fleet]) -> None:
    sim = sim_of(gpu=40.0)  # 2 slots; a reply of 4 tokens takes about 0.085 s
    fleet = default_fleet(sim, instance("gpu"), opened=fleets)
    await chat_many(fleet, 16, tokens=4)
    assert fleet.load()["gpu"].window == 2
    assert sim.servers["gpu"].ctx.slots.peak == 2


async def test_held_chats_do_not_count_against_the_wait_limit(fleets: list[Fleet]) -> None:
    sim = sim_of(only=300.0)
    fleet = Fleet(
        DesiredFleet(instances=(instance("only"),)),
        client_factory=sim.factory,
        clock=sim.clock,
        wait_limit=0.001,
    )
    fleets.append(fleet)
    results = await chat_many(fleet, 20)
    assert len(results) == 20 and all(r.failovers == () for r in results)
    assert fleet.admission.waiting == 0 and fleet.load()["only"].outstanding == 0


async def test_a_server_answering_busy_is_given_fewer_chats_at_once_not_dropped(
    fleets: list[Fleet],
) -> None:
    configs = [
        SimInstanceConfig(
            "tight", models=(MODEL,), token_rate=300.0, first_token_delay=0.01, parallel=2,
            max_queue=0,
        ),
        SimInstanceConfig("roomy", models=(MODEL,), token_rate=300.0, first_token_delay=0.01),
    ]  # fmt: skip
    sim = Sim({c.name: SimServer(c) for c in configs})
    fleet = default_fleet(sim, instance("tight"), instance("roomy", priority=2), opened=fleets)
    results = await chat_many(fleet, 30)
    assert len(results) == 30
    refused = sim.servers["tight"].ctx.slots.refused
    assert refused <= 2  # slow start overshoots once at most; then the window holds them
    assert fleet.load()["tight"].window == 2
    assert fleet.load()["tight"].circuit == "closed"
    assert sim.chats("roomy") == refused  # only the refused ones failed over to the lower tier
