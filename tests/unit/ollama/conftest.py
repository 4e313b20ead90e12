"""Fixtures for the Ollama client's unit tests: a config with secrets, respx, a client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from reconciler.ollama import ClientConfig, OllamaClient, session
from reconciler.ollama.tls import ContextSource, made

BASE = "https://ollama.example.com/prefix"
TOKEN = "tok-SECRET-7f3a9"
API_KEY = "key-SECRET-51c2e"


@pytest.fixture
def base() -> str:
    """The base URL (with a path prefix) every test config points at."""
    return BASE


@pytest.fixture
def secrets() -> tuple[str, str]:
    """The bearer token and the secret header value of `config`."""
    return TOKEN, API_KEY


@pytest.fixture
def config() -> ClientConfig:
    """An instance behind an authenticating proxy: token, one secret and one plain header."""
    return ClientConfig(
        instance="gpu-1",
        base_url=BASE,
        bearer_token=TOKEN,
        headers={"X-Client-ID": "ai-coder", "X-API-Key": API_KEY},
        secret_headers=frozenset({"x-api-key"}),
    )


@pytest.fixture(autouse=True)
def httpx_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    """Sessions send through httpx's own transport, whose network respx replaces.

    The client's own `KeepAliveTransport` is tested against real loopback servers in
    tests/e2e/ollama/test_transport.py.
    """

    def httpx_transport(
        config: ClientConfig, context: ContextSource
    ) -> httpx.AsyncBaseTransport | None:
        if session.environment_proxies():
            return None
        return httpx.AsyncHTTPTransport(verify=made(context))

    monkeypatch.setattr(session, "pooled_transport", httpx_transport)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    """respx router for `BASE`; every request must match a declared route."""
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        yield router


@pytest.fixture
async def client(config: ClientConfig, api: respx.MockRouter) -> AsyncIterator[OllamaClient]:
    """A client for `config`, its network replaced by `api`."""
    async with OllamaClient(config) as ollama:
        yield ollama


@pytest.fixture
def ndjson() -> Callable[..., bytes]:
    """Encode objects as an NDJSON body, one per line, as Ollama streams them."""

    def encode(*items: Any) -> bytes:
        return b"".join(json.dumps(item).encode() + b"\n" for item in items)

    return encode


def body_of(route: respx.Route, index: int = -1) -> Any:
    """The JSON body of a request a route received."""
    return json.loads(route.calls[index].request.content)


@pytest.fixture
def sent() -> Callable[..., Any]:
    """`sent(route)`: the JSON body of the last request `route` received."""
    return body_of
