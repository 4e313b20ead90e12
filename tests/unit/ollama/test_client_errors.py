"""The error tree: each failure maps to the right class and flag, and httpx never leaks."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import trustme

from reconciler.errors import ReconcilerError
from reconciler.ollama import (
    ClientConfig,
    ModelNameRejected,
    ModelNotFound,
    ModelNotInRegistry,
    OllamaClient,
    OllamaError,
    OllamaTimeout,
    OllamaTLSError,
    OllamaUnauthorized,
    OllamaUnreachable,
    PoolExhausted,
    ProtocolError,
    RequestRejected,
    ServerBusy,
    ServerError,
    TLSConfig,
)

USER = [{"role": "user", "content": "hi"}]


async def drain(items: AsyncIterator[Any], into: list[Any] | None = None) -> None:
    """Consume a stream to its end, keeping what arrived in `into`."""
    async for item in items:
        if into is not None:
            into.append(item)


PUBLIC_CALLS: dict[str, Callable[[OllamaClient], Awaitable[Any]]] = {
    "health": lambda c: c.health(),
    "version": lambda c: c.version(),
    "list_models": lambda c: c.list_models(),
    "running": lambda c: c.running(),
    "show": lambda c: c.show("llama3"),
    "pull": lambda c: drain(c.pull("llama3")),
    "delete": lambda c: c.delete("llama3"),
    "copy": lambda c: c.copy("llama3", "backup"),
    "create": lambda c: drain(c.create("coder", from_="llama3")),
    "load": lambda c: c.load("llama3"),
    "load_embedding": lambda c: c.load("nomic-embed-text", embedding=True),
    "unload": lambda c: c.unload("llama3"),
    "chat": lambda c: drain(c.chat("llama3", USER)),
    "chat_complete": lambda c: c.chat_complete("llama3", USER),
    "generate": lambda c: drain(c.generate("llama3", "hi")),
    "generate_complete": lambda c: c.generate_complete("llama3", "hi"),
    "embed": lambda c: c.embed("nomic-embed-text", "hi"),
}

TRANSIENT = {
    OllamaUnreachable: True,
    OllamaTLSError: False,
    OllamaTimeout: True,
    OllamaUnauthorized: False,
    ModelNotFound: False,
    ModelNotInRegistry: False,
    ModelNameRejected: False,
    ServerBusy: True,
    ServerError: True,
    ProtocolError: False,
    RequestRejected: False,
}


@pytest.mark.parametrize(("cls", "transient"), TRANSIENT.items())
def test_every_error_class_knows_whether_a_retry_may_help(
    cls: type[OllamaError], transient: bool
) -> None:
    error = cls("x failed", instance="gpu-1", model="llama3:latest")
    assert isinstance(error, ReconcilerError)
    assert error.transient is transient
    assert str(error).startswith("gpu-1/llama3:latest: x failed")


def _cert_failure() -> httpx.ConnectError:
    text = "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate"
    error = httpx.ConnectError(text)
    error.__cause__ = ssl.SSLCertVerificationError(1, text)
    return error


EXCEPTIONS: list[tuple[BaseException, type[OllamaError], str]] = [
    (httpx.ConnectError("[Errno 111] Connection refused"), OllamaUnreachable, "connection refused"),
    (httpx.ConnectError("[Errno -2] Name or service not known"), OllamaUnreachable, "resolved"),
    (httpx.ConnectTimeout("timed out"), OllamaTimeout, "could not connect"),
    (httpx.ReadTimeout("timed out"), OllamaTimeout, "no reply"),
    (httpx.WriteTimeout("timed out"), OllamaTimeout, "sending the request"),
    (httpx.PoolTimeout("timed out"), PoolExhausted, "all pooled connections busy"),
    (httpx.ReadError("[Errno 104] Connection reset by peer"), OllamaUnreachable, "reset"),
    (httpx.WriteError("[Errno 32] Broken pipe"), OllamaUnreachable, "lost"),
    (httpx.CloseError("close failed"), OllamaUnreachable, "lost"),
    (httpx.RemoteProtocolError("Server disconnected"), OllamaUnreachable, "disconnected"),
    (httpx.ProxyError("502 Bad Gateway from proxy"), OllamaUnreachable, "cannot connect"),
    (httpx.UnsupportedProtocol("Request URL has an unsupported protocol"), OllamaUnreachable,
     "cannot use"),
    (httpx.LocalProtocolError("Illegal header value"), ProtocolError, "could not be made"),
    (httpx.DecodingError("Error -3 while decompressing data"), ProtocolError, "unusable reply"),
    (httpx.TooManyRedirects("Exceeded maximum allowed redirects."), ProtocolError, "redirects"),
    (_cert_failure(), OllamaTLSError, "not trusted"),
    (httpx.ConnectError("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1000)"),
     OllamaTLSError, "handshake"),
    (ConnectionResetError(104, "Connection reset by peer"), OllamaUnreachable, "reset"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("exc", "expected", "words"), EXCEPTIONS, ids=[type(e[0]).__name__ for e in EXCEPTIONS]
)
async def test_transport_failures_never_escape_as_httpx_errors(
    client: OllamaClient,
    api: respx.MockRouter,
    exc: BaseException,
    expected: type[OllamaError],
    words: str,
) -> None:
    api.route().mock(side_effect=exc)
    for name, call in PUBLIC_CALLS.items():
        with pytest.raises(OllamaError) as caught:
            await call(client)
        error = caught.value
        assert type(error) is expected, name
        assert error.__cause__ is exc, name
        assert error.instance == "gpu-1"
        assert words in str(error), (name, str(error))
        assert "https://ollama.example.com/prefix" in str(error), name
    if expected is not OllamaTLSError and not isinstance(exc, httpx.UnsupportedProtocol):
        assert error.transient is (expected in (OllamaUnreachable, OllamaTimeout, PoolExhausted))


def _reply(status: int, body: object) -> httpx.Response:
    if isinstance(body, bytes):
        return httpx.Response(status, content=body)
    return httpx.Response(status, json=body)


STATUSES: list[tuple[str, int, object, type[OllamaError], str]] = [
    ("show", 401, {"error": "unauthorized"}, OllamaUnauthorized, "wants credentials"),
    ("show", 403, {"error": "forbidden by policy"}, OllamaUnauthorized, "access denied"),
    ("show", 404, {"error": "model 'llama3:latest' not found"}, ModelNotFound, "not found"),
    ("delete", 404, {"error": "model 'llama3' not found"}, ModelNotFound, "not found"),
    ("copy", 404, {"error": 'model "llama3" not found'}, ModelNotFound, "not found"),
    ("generate", 404, {"error": 'model "llama3" not found, try pulling it first'}, ModelNotFound,
     "not found"),
    ("embed", 404, {"error": "model 'nomic-embed-text' not found"}, ModelNotFound, "not found"),
    ("show", 400, {"error": "invalid model name"}, ModelNameRejected, "invalid model name"),
    ("delete", 400, {"error": 'name "Bad!" is invalid'}, ModelNameRejected, "invalid"),
    ("copy", 400, {"error": 'destination "x!" is invalid'}, ModelNameRejected, "invalid"),
    ("show", 500, {"error": "invalid model path"}, ModelNameRejected, "invalid"),
    ("chat", 503, {"error": "server busy, please try again.  maximum pending requests exceeded"},
     ServerBusy, "busy"),
    ("list_models", 429, b"Too Many Requests", ServerBusy, "busy"),
    ("list_models", 500, {"error": "mkdir /root/.ollama: permission denied"}, ServerError,
     "permission denied"),
    ("pull", 502, b"<html><body>502 Bad Gateway</body></html>", ServerError, "502"),
    ("health", 504, b"Gateway Timeout", OllamaTimeout, "timed out"),
    ("generate", 400, {"error": '"nomic-embed-text" does not support generate'}, RequestRejected,
     "does not support generate"),
    ("chat", 400, {"error": "registry.ollama.ai/library/x:latest does not support tools"},
     RequestRejected, "does not support tools"),
    ("list_models", 404, b"404 page not found", RequestRejected, "endpoints.listModels"),
    ("running", 404, {"error": "no such route"}, RequestRejected, "rejected the request"),
    ("delete", 405, b"405 method not allowed", RequestRejected, "405"),
    ("version", 200, b"<html>login</html>", ProtocolError, "not JSON"),
    ("version", 200, {"server": "nginx"}, ProtocolError, "'version'"),
    ("list_models", 200, {"models": "none"}, ProtocolError, "'models'"),
    ("list_models", 200, {"models": [{"size": 1}]}, ProtocolError, "ModelEntry: name"),
    ("show", 200, b"", ProtocolError, "empty body"),
    ("running", 200, [1, 2], ProtocolError, "'models'"),
    ("embed", 200, {"embeddings": "x"}, ProtocolError, "embeddings"),
]  # fmt: skip


@pytest.mark.parametrize("case", STATUSES, ids=[f"{c[0]}-{c[1]}" for c in STATUSES])
async def test_error_replies_map_to_the_right_class(
    client: OllamaClient,
    api: respx.MockRouter,
    case: tuple[str, int, object, type[OllamaError], str],
) -> None:
    method, status, body, expected, words = case
    api.route().mock(return_value=_reply(status, body))
    with pytest.raises(OllamaError) as caught:
        await PUBLIC_CALLS[method](client)
    error = caught.value
    assert type(error) is expected
    assert words in str(error)
    assert error.status == (status if status != 200 else None)
    assert error.transient is TRANSIENT[expected]


async def test_copy_reports_the_source_model(client: OllamaClient, api: respx.MockRouter) -> None:
    api.post("/api/copy").respond(404, json={"error": 'model "llama3" not found'})
    with pytest.raises(ModelNotFound) as caught:
        await client.copy("llama3", "backup")
    assert caught.value.model == "llama3"


async def test_empty_403_is_explained_as_the_host_header_guard(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.get("/").respond(403)
    with pytest.raises(OllamaUnauthorized) as caught:
        await client.health()
    text = str(caught.value)
    assert "Host-header guard" in text
    assert "localhost:11434" in text
    assert caught.value.status == 403
    assert not caught.value.transient


async def test_a_403_with_a_body_is_not_blamed_on_the_host_guard(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.get("/").respond(403, json={"error": "token expired"})
    with pytest.raises(OllamaUnauthorized) as caught:
        await client.health()
    assert "Host-header" not in str(caught.value)
    assert "token expired" in str(caught.value)


async def test_an_empty_model_name_is_refused_without_a_request(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    route = api.route().respond(200, json={})
    for method in (client.show, client.delete, client.load, client.unload):
        with pytest.raises(ModelNameRejected, match="empty"):
            await method("  ")
    assert not route.called


class _BrokenStream(httpx.AsyncByteStream):
    def __init__(self, first: bytes, exc: Exception) -> None:
        self.first, self.exc = first, exc

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.first
        raise self.exc


@pytest.mark.parametrize(
    "exc",
    [
        httpx.RemoteProtocolError("peer closed connection without sending complete message body"),
        httpx.ReadError("[Errno 104] Connection reset by peer"),
    ],
)
async def test_a_connection_lost_mid_stream_is_unreachable(
    config: ClientConfig, exc: Exception
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=_BrokenStream(b'{"status":"pulling manifest"}\n', exc))

    async with OllamaClient(config, transport=httpx.MockTransport(handler)) as client:
        seen: list[Any] = []
        with pytest.raises(OllamaUnreachable, match="was lost") as caught:
            await drain(client.pull("llama3"), seen)
    assert [p.status for p in seen] == ["pulling manifest"]
    assert caught.value.transient


def test_unreadable_tls_files_fail_at_construction(tmp_path: Path) -> None:
    config = ClientConfig(
        instance="tls", base_url="https://h", tls=TLSConfig(ca_file=tmp_path / "missing.pem")
    )
    with pytest.raises(OllamaTLSError, match=r"cannot use tls\.caFile .*missing\.pem") as caught:
        OllamaClient(config)
    assert "No such file or directory" in str(caught.value)
    assert not caught.value.transient


async def test_tls_settings_with_real_certificates_are_accepted(tmp_path: Path) -> None:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(tmp_path / "ca.pem")
    leaf = ca.issue_cert("client.example")
    leaf.cert_chain_pems[0].write_to_path(tmp_path / "c.pem")
    leaf.private_key_pem.write_to_path(tmp_path / "c.key")
    tls = TLSConfig(
        ca_file=tmp_path / "ca.pem", client_cert=tmp_path / "c.pem", client_key=tmp_path / "c.key"
    )
    for settings in (tls, TLSConfig(verify=False)):
        config = ClientConfig(instance="mtls", base_url="https://h", tls=settings)
        async with OllamaClient(config) as client:
            assert repr(client) == "OllamaClient('mtls', 'https://h')"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("ftp://user:pw@h.example", OllamaUnreachable),
        ("http://user:pw@h.example:port", ProtocolError),
    ],
)
async def test_unusable_urls_fail_as_ollama_errors(url: str, expected: type[OllamaError]) -> None:
    async with OllamaClient(ClientConfig(instance="bad", base_url=url)) as client:
        for name, call in PUBLIC_CALLS.items():
            with pytest.raises(OllamaError) as caught:
                await call(client)
            assert type(caught.value) is expected, name
            assert not caught.value.transient
            assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([{"name": "a:1", "size": 1}, {"name": "b:1", "size": "big"}], "ModelEntry: size: "),
        ([{"name": "a:1", "details": {"families": 3}}], "ModelEntry: details.families: "),
        (["not an object"], "ModelEntry: reply: "),
    ],
)
async def test_an_inventory_entry_of_the_wrong_shape_names_its_field(
    client: OllamaClient, api: respx.MockRouter, entries: list[Any], expected: str
) -> None:
    api.get("/api/tags").respond(200, json={"models": entries})
    with pytest.raises(ProtocolError, match=f"unexpected reply shape for {expected}"):
        await client.list_models()
    api.get("/api/ps").respond(200, json={"models": [{"name": "a:1", "size_vram": "x"}]})
    with pytest.raises(ProtocolError, match="unexpected reply shape for RunningModel: size_vram"):
        await client.running()
