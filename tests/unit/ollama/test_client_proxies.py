"""Proxies named by the environment are honoured; without any, the environment is read once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.ollama.session import environment_proxies

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def fresh_reading(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    environment_proxies.cache_clear()
    yield
    environment_proxies.cache_clear()


def _http(client: OllamaClient) -> httpx.AsyncClient:
    proxied = client._session._proxied
    assert proxied is not None, "the session should route through httpx's client"
    return proxied


async def test_a_proxy_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.com:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example.com")

    async with OllamaClient(ClientConfig("gpu-1", "https://gpu-1.example.com")) as client:
        mounts = _http(client)._mounts
        assert _http(client).trust_env
        proxied = [p for p, transport in mounts.items() if transport is not None]
        assert [p.pattern for p in proxied] == ["https://"]
        assert any(p.pattern == "all://*internal.example.com" for p in mounts)


async def test_without_proxies_the_environment_is_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = []
    real = __import__("urllib.request").request.getproxies

    def counted() -> dict[str, str]:
        reads.append(1)
        return real()

    monkeypatch.setattr("urllib.request.getproxies", counted)
    clients = [OllamaClient(ClientConfig(f"n{i}", f"http://10.0.0.{i}:11434")) for i in range(5)]

    assert len(reads) == 1
    for client in clients:
        assert client._session._proxied is None
        assert client._session._transport is not None  # no proxy: straight to the server
        await client.aclose()
