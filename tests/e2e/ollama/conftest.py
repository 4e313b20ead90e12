"""Fixtures for our client against the simulator over real loopback sockets (TLS, token, faults).

`fleet` runs three simulated servers: `secure` (TLS from a private CA and a bearer token),
`plain` (http, a few models, one loaded) and `proxied` (http under the path prefix `/ollama`).
`connect(name, **overrides)` builds an `OllamaClient` for one of them with the right settings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import trustme

from reconciler.ollama import ClientConfig, OllamaClient, TLSConfig
from reconciler.testing import SimFleet, SimInstanceConfig

TOKEN = "e2e-SECRET-token-5b1f9c"

Connect = Callable[..., OllamaClient]


@pytest.fixture
def token() -> str:
    """The bearer token the `secure` instance requires."""
    return TOKEN


@pytest.fixture
async def fleet(tmp_path: Path) -> AsyncIterator[SimFleet]:
    """Three simulated servers on ephemeral loopback ports; downloads are instant."""
    configs = [
        SimInstanceConfig(name="secure", models=("llama3.2:3b",), tls=True, token=TOKEN),
        SimInstanceConfig(
            name="plain",
            models=("llama3.2:3b", "nomic-embed-text"),
            loaded=("llama3.2:3b",),
            token_rate=5000.0,
            first_token_delay=0.0,
        ),
        SimInstanceConfig(name="proxied", models=("qwen2.5-coder:1.5b",), path_prefix="/ollama"),
    ]
    async with SimFleet(configs, cert_dir=tmp_path / "sim-certs") as running:
        yield running


@pytest.fixture
def other_ca(tmp_path: Path) -> Path:
    """A CA certificate (PEM) that did not sign the simulator's certificate."""
    path = tmp_path / "other-ca.pem"
    trustme.CA(organization_name="someone else").cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
async def connect(fleet: SimFleet) -> AsyncIterator[Connect]:
    """Factory: `connect("secure", timeout=0.3)` → a client with that instance's settings.

    `secure` gets the fleet's CA and the right token unless overridden; clients are closed at
    the end of the test.
    """
    clients: list[OllamaClient] = []

    def factory(name: str, **overrides: Any) -> OllamaClient:
        config = ClientConfig(instance=name, base_url=fleet.url(name))
        if name == "secure":
            config = replace(config, bearer_token=TOKEN, tls=TLSConfig(ca_file=fleet.ca_file))
        client = OllamaClient(replace(config, **overrides))
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()
