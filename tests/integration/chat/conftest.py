"""A small simulated fleet in process: SimServers behind ASGI transports that can be cut off."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest

from reconciler.chat import Fleet
from reconciler.desired import (
    DesiredFleet,
    DesiredInstance,
    DesiredModel,
    SecretRef,
    SmokeTest,
)
from reconciler.names import parse
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.testing import SimInstanceConfig, SimServer

TOKEN = "tok-SECRET-b2a91c"


class Switchable(httpx.AsyncBaseTransport):
    """An ASGI transport to one simulated server that refuses connections while it is `down`."""

    def __init__(self, sim: Sim, name: str) -> None:
        self._asgi = httpx.ASGITransport(app=sim.servers[name].app)
        self._sim = sim
        self._name = name

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._sim.sent[self._name] = self._sim.sent.get(self._name, 0) + 1
        if self._name in self._sim.down:
            raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
        return await self._asgi.handle_async_request(request)

    async def aclose(self) -> None:
        self._sim.closed.append(self._name)
        await self._asgi.aclose()


class Clock:
    """Monotonic seconds that tests move by hand (real time still passes for timings)."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@dataclass
class Sim:
    """Servers by name, which are down, how many requests each got, which clients were closed."""

    servers: dict[str, SimServer]
    down: set[str] = field(default_factory=set)
    sent: dict[str, int] = field(default_factory=dict)
    closed: list[str] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    def factory(self, config: ClientConfig) -> OllamaClient:
        return OllamaClient(config, transport=Switchable(self, config.instance))

    def chats(self, name: str) -> int:
        return self.servers[name].state.endpoints.count("chat")

    def probes(self, name: str) -> int:
        return self.servers[name].state.endpoints.count("listModels")


OK_SMOKE = SmokeTest(parse("llama3.2:3b"), "Reply with the single word OK.", r"(?i)\bok\b")


def desired_fleet() -> DesiredFleet:
    """gpu-a (priority 1), gpu-b (priority 2, token), emb (embedding only), off (disabled)."""

    def models(*names: str) -> tuple[DesiredModel, ...]:
        return tuple(DesiredModel(parse(n)) for n in names)

    return DesiredFleet(
        instances=(
            DesiredInstance(
                name="gpu-b",
                url="http://gpu-b",
                priority=2,
                bearer_token=SecretRef(env="GPU_B_TOKEN"),
                models=models("llama3.2:3b", "nomic-embed-text"),
                smoke=(OK_SMOKE,),
            ),
            DesiredInstance(
                name="gpu-a",
                url="http://gpu-a",
                priority=1,
                models=models("llama3.2:3b"),
                smoke=(OK_SMOKE,),
            ),
            DesiredInstance(
                name="emb", url="http://emb", priority=1, models=models("nomic-embed-text")
            ),
            DesiredInstance(
                name="off",
                url="http://off",
                enabled=False,
                models=models("llama3.2:3b"),
                smoke=(OK_SMOKE,),
            ),
        )
    )


@pytest.fixture
def sim() -> Sim:
    """The servers of `desired_fleet()`; gpu-b wants the bearer token TOKEN."""
    configs = [
        SimInstanceConfig("gpu-a", models=("llama3.2:3b",)),
        SimInstanceConfig("gpu-b", models=("llama3.2:3b", "nomic-embed-text"), token=TOKEN),
        SimInstanceConfig("emb", models=("nomic-embed-text",)),
        SimInstanceConfig("off", models=("llama3.2:3b",)),
    ]
    return Sim({c.name: SimServer(c) for c in configs})


@pytest.fixture
def make_fleet(sim: Sim) -> Callable[..., Fleet]:
    """`make_fleet(env=...)`: a Fleet over `sim`, the token in its env unless told otherwise."""

    def make(env: dict[str, str] | None = None) -> Fleet:
        return Fleet(
            desired_fleet(),
            client_factory=sim.factory,
            env={"GPU_B_TOKEN": TOKEN} if env is None else env,
            clock=sim.clock,
        )

    return make


@pytest.fixture
async def fleet(make_fleet: Callable[..., Fleet]) -> AsyncIterator[Fleet]:
    """A Fleet over the simulated servers, closed at the end."""
    async with make_fleet() as opened:
        yield opened
