"""Fixtures for the simulator's in-process tests: a server plus an httpx client on its ASGI app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from reconciler.testing import SimInstanceConfig, SimServer

Sim = tuple[SimServer, httpx.AsyncClient]


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Sim]]:
    """Factory: `make_sim(models=(...), ...)` → (server, client talking to server.app)."""
    clients: list[httpx.AsyncClient] = []

    def factory(**settings: Any) -> Sim:
        name = settings.pop("name", "sim-1")
        server = SimServer(SimInstanceConfig(name=name, **settings))
        transport = httpx.ASGITransport(app=server.app)
        client = httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:11434")
        clients.append(client)
        return server, client

    yield factory
    for client in clients:
        await client.aclose()


@pytest.fixture
def sim(make_sim: Callable[..., Sim]) -> Sim:
    """A server with a chat model (loaded), an embedding model and a coder model."""
    return make_sim(
        models=("llama3.2:3b", "nomic-embed-text", "qwen2.5-coder:1.5b"),
        loaded=("llama3.2:3b",),
        token_rate=2000.0,
        first_token_delay=0.001,
    )


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    """The objects of an NDJSON body; fails on a blank line or a missing final newline."""
    assert response.headers["content-type"] == "application/x-ndjson"
    text = response.text
    assert text.endswith("\n"), "an NDJSON stream ends with a newline"
    lines = text[:-1].split("\n")
    assert all(line.strip() for line in lines), "no blank lines in an NDJSON stream"
    return [json.loads(line) for line in lines]


@pytest.fixture
def lines() -> Callable[[httpx.Response], list[dict[str, Any]]]:
    """The NDJSON parser, as a fixture (test modules do not import each other)."""
    return ndjson
