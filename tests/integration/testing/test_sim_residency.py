"""Which models a simulated server keeps loaded: eviction at `max_loaded` and in `memory`, the
order of evictions, asynchronous unloading, and runners outliving a delete (as Ollama's scheduler
behaves). Time is a fake clock; nothing sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from reconciler.testing import CATALOG, SimInstanceConfig, SimServer

SECOND = 1_000_000_000
SMALL = ("smollm2:135m", "qwen2.5-coder:1.5b", "llama3.2:1b", "gemma2:2b", "llama3.2:3b")


class Clock:
    """Nanoseconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_750_000_000 * SECOND

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * SECOND)


Make = Callable[..., tuple[SimServer, httpx.AsyncClient]]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def make(clock: Clock) -> AsyncIterator[Make]:
    clients: list[httpx.AsyncClient] = []

    def factory(**settings: Any) -> tuple[SimServer, httpx.AsyncClient]:
        settings.setdefault("models", SMALL)
        server = SimServer(SimInstanceConfig(name="sim", **settings), clock=clock)
        transport = httpx.ASGITransport(app=server.app)
        client = httpx.AsyncClient(transport=transport, base_url="http://sim.test:11434")
        clients.append(client)
        return server, client

    yield factory
    for client in clients:
        await client.aclose()


async def load(client: httpx.AsyncClient, model: str, keep_alive: Any = -1) -> None:
    reply = await client.post("/api/generate", json={"model": model, "keep_alive": keep_alive})
    assert reply.json()["done_reason"] == "load"


async def unload(client: httpx.AsyncClient, model: str) -> None:
    reply = await client.post("/api/generate", json={"model": model, "keep_alive": 0})
    assert reply.json()["done_reason"] == "unload"


async def ps(client: httpx.AsyncClient) -> list[str]:
    return sorted(m["name"] for m in (await client.get("/api/ps")).json()["models"])


def weights(model: str) -> str:
    spec = CATALOG.get(model)
    assert spec is not None
    return spec.layers[0].digest


async def test_the_default_server_keeps_three_models_loaded(make):
    server, client = make()
    for model in SMALL:
        await load(client, model)
    assert len(await ps(client)) == 3
    assert len(server.state.runners.evicted) == 2


async def test_eviction_takes_the_shortest_keep_alive_first(make):
    server, client = make(max_loaded=2)
    await load(client, "llama3.2:1b", -1)
    await load(client, "gemma2:2b", "1h")  # loaded last, but the shortest keep-alive
    await load(client, "smollm2:135m", -1)
    assert await ps(client) == ["llama3.2:1b", "smollm2:135m"]
    assert server.state.runners.evicted == ["gemma2:2b"]


async def test_equal_keep_alives_are_evicted_in_the_order_of_their_weights_path(make):
    server, client = make(max_loaded=2)
    first, second = "qwen2.5-coder:1.5b", "llama3.2:3b"
    await load(client, first)
    await load(client, second)
    await load(client, "smollm2:135m")
    victim = min((first, second), key=weights)  # not the least recently used
    assert server.state.runners.evicted == [victim]
    assert await ps(client) == sorted({first, second, "smollm2:135m"} - {victim})


async def test_reloading_a_loaded_model_evicts_nothing(make):
    server, client = make(max_loaded=2)
    await load(client, "llama3.2:1b")
    await load(client, "gemma2:2b")
    await load(client, "llama3.2:1b")
    assert server.state.runners.evicted == []
    assert await ps(client) == ["gemma2:2b", "llama3.2:1b"]


async def test_a_model_that_does_not_fit_in_memory_evicts_the_first_in_order(make):
    three = ("smollm2:135m", "qwen2.5-coder:1.5b", "llama3.2:1b")
    scratch, scratch_client = make(max_loaded=10)
    for model in three:
        await load(scratch_client, model)
    sizes = {name: runner.memory for name, runner in scratch.state.loaded.items()}
    server, client = make(max_loaded=10, memory=sum(sizes.values()) - 1)
    for model in three:
        await load(client, model)
    victim = min(three[:2], key=weights)
    assert server.state.runners.evicted == [victim]
    assert await ps(client) == sorted(set(three) - {victim})


async def test_a_large_model_evicts_several_small_ones_and_spills_when_alone(make):
    server, client = make(max_loaded=10, memory=3_000_000_000)
    for model in ("smollm2:135m", "qwen2.5-coder:1.5b"):
        await load(client, model)
    pulled = await client.post("/api/pull", json={"model": "qwen2.5:7b", "stream": False})
    assert pulled.json() == {"status": "success"}
    await load(client, "qwen2.5:7b")
    assert server.state.runners.evicted == sorted(
        ["smollm2:135m", "qwen2.5-coder:1.5b"], key=weights
    )
    (runner,) = (await client.get("/api/ps")).json()["models"]
    assert runner["name"] == "qwen2.5:7b"
    assert runner["size"] > 3_000_000_000 and runner["size_vram"] == 3_000_000_000


async def test_an_unload_stays_in_ps_for_the_delay_expiring_at_the_unload(make, clock):
    server, client = make(unload_delay=0.2, utc_offset_minutes=0)
    await load(client, "llama3.2:1b")
    await unload(client, "llama3.2:1b")
    (runner,) = (await client.get("/api/ps")).json()["models"]
    assert runner["name"] == "llama3.2:1b"
    assert datetime.fromisoformat(runner["expires_at"]).timestamp() == clock.now / SECOND
    assert server.state.loaded == {}, "a runner being unloaded serves no more"
    clock.advance(0.19)
    assert await ps(client) == ["llama3.2:1b"]
    clock.advance(0.01)
    assert await ps(client) == []


async def test_a_request_with_keep_alive_zero_leaves_its_runner_unloading(make, clock):
    _, client = make(unload_delay=0.5)
    reply = await client.post(
        "/api/generate",
        json={"model": "llama3.2:1b", "prompt": "hi", "stream": False, "keep_alive": 0},
    )
    assert reply.json()["done"] is True
    assert await ps(client) == ["llama3.2:1b"]
    clock.advance(0.5)
    assert await ps(client) == []


async def test_a_load_while_unloading_loads_afresh(make, clock):
    server, client = make(unload_delay=0.2)
    await load(client, "llama3.2:1b")
    await unload(client, "llama3.2:1b")
    await load(client, "llama3.2:1b")
    clock.advance(1)
    (runner,) = (await client.get("/api/ps")).json()["models"]
    assert datetime.fromisoformat(runner["expires_at"]).year >= 2300, "kept for good"
    assert "llama3.2:1b" in server.state.loaded


async def test_a_runner_being_unloaded_is_the_first_to_make_room(make):
    server, client = make(max_loaded=2, unload_delay=5)
    await load(client, "llama3.2:1b")
    await load(client, "gemma2:2b")
    await unload(client, "gemma2:2b")
    await load(client, "smollm2:135m")
    assert await ps(client) == ["llama3.2:1b", "smollm2:135m"]
    assert server.state.runners.evicted == [], "an unloading runner is not an eviction"


async def test_a_deleted_model_stays_loaded_until_evicted(make):
    server, client = make(max_loaded=2)
    await load(client, "llama3.2:1b")
    await load(client, "gemma2:2b")
    deleted = await client.request("DELETE", "/api/delete", json={"model": "llama3.2:1b"})
    assert deleted.status_code == 200
    assert await ps(client) == ["gemma2:2b", "llama3.2:1b"], "it still holds its memory"
    await load(client, "smollm2:135m")
    assert len(await ps(client)) == 2
    assert len(server.state.runners.evicted) == 1


async def test_a_deleted_models_runner_leaves_when_its_keep_alive_ends(make, clock):
    _, client = make()
    await load(client, "llama3.2:1b", "10m")
    await client.request("DELETE", "/api/delete", json={"model": "llama3.2:1b"})
    clock.advance(599)
    assert await ps(client) == ["llama3.2:1b"]
    clock.advance(1)
    assert await ps(client) == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"max_loaded": 0}, "max_loaded must be at least 1, got 0"),
        ({"memory": 0}, "memory must be positive or None, got 0"),
        ({"unload_delay": -1}, "unload_delay must not be negative, got -1"),
        (
            {"models": SMALL[:3], "loaded": SMALL[:3], "max_loaded": 2},
            "3 loaded models, more than max_loaded (2)",
        ),
    ],
)
def test_settings_are_checked(settings, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SimInstanceConfig(name="sim", **settings)


def test_seeded_models_must_fit_in_memory():
    config = SimInstanceConfig(name="sim", models=SMALL[:2], loaded=SMALL[:2], memory=1_000_000_000)
    with pytest.raises(ValueError, match="sim: the loaded models do not fit in memory"):
        SimServer(config)
