"""No secret (bearer token, secret header, URL password) in any error, repr or log record."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from reconciler.ollama import ClientConfig, OllamaClient, OllamaError, RequestRejected


def _leaks(error: OllamaError, secrets: tuple[str, ...]) -> list[str]:
    texts = [str(error), repr(error), *map(str, error.args), error.detail or "", error.hint or ""]
    return [s for s in secrets for text in texts if s in text]


async def _drain_pull(client: OllamaClient) -> None:
    async for _ in client.pull("llama3"):
        pass


async def test_secrets_never_appear_in_errors_reprs_or_logs(
    config: ClientConfig,
    api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    secrets: tuple[str, str],
) -> None:
    token, api_key = secrets
    caplog.set_level(logging.DEBUG)
    failures: list[tuple[Callable[[respx.Route], object], Callable[[OllamaClient], Awaitable[Any]]]]
    failures = [
        (lambda r: r.respond(401, json={"error": f"bad token {token}"}), lambda c: c.version()),
        (lambda r: r.respond(500, text=f"upstream rejected X-API-Key={api_key}"),
         lambda c: c.list_models()),
        (lambda r: r.respond(200, content=f'{{"error":"denied for Bearer {token}"}}\n'.encode()),
         _drain_pull),
        (lambda r: r.mock(side_effect=httpx.LocalProtocolError(f"Illegal header b'{token}'")),
         lambda c: c.show("llama3")),
        (lambda r: r.mock(side_effect=httpx.ConnectError(f"proxy said no to {api_key}")),
         lambda c: c.health()),
        (lambda r: r.respond(200, text=f"<html>{token}</html>"), lambda c: c.running()),
    ]  # fmt: skip
    errors: list[OllamaError] = []
    async with OllamaClient(config) as client:
        for arrange, act in failures:
            api.routes.clear()
            arrange(api.route())
            with pytest.raises(OllamaError) as caught:
                await act(client)
            errors.append(caught.value)
        client_repr = repr(client)

    assert len(errors) == len(failures)
    assert all(not _leaks(error, secrets) for error in errors), [str(e) for e in errors]
    assert any("***" in str(error) for error in errors)  # the echoed secrets were masked
    assert "gpu-1" in caplog.text  # the client did log its requests
    for secret in secrets:
        assert secret not in caplog.text
        assert secret not in repr(config)
        assert secret not in client_repr


async def test_a_password_in_the_url_is_never_shown() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    config = ClientConfig(instance="edge", base_url="https://admin:pw-SECRET-99@edge.example:8443")
    async with OllamaClient(config, transport=httpx.MockTransport(refuse)) as client:
        with pytest.raises(OllamaError) as caught:
            await client.version()
    assert "pw-SECRET-99" not in str(caught.value)
    assert "https://edge.example:8443/api/version" in str(caught.value)
    assert "pw-SECRET-99" not in repr(config)


def test_an_unsendable_header_value_is_refused_without_showing_it() -> None:
    config = ClientConfig(instance="x", base_url="http://h", bearer_token="tøken-SECRET\n")
    with pytest.raises(RequestRejected) as caught:
        OllamaClient(config)
    assert "tøken-SECRET" not in str(caught.value)
    assert "Authorization" in str(caught.value)
