"""Our client against a hostile server on real loopback sockets: it redirects, echoes the request
headers back, drips its replies, and demands client certificates. Whatever it does, credentials
go nowhere else, no part of them shows in a message, and nothing waits forever or prompts."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from reconciler.ollama import (
    ClientConfig,
    OllamaClient,
    OllamaError,
    OllamaTimeout,
    OllamaTLSError,
    ProtocolError,
    TLSConfig,
)
from tests.support.hostile_server import (
    EchoKind,
    HostileServer,
    MutualTLS,
    dripping,
    echo_headers,
    json_reply,
    mutual_tls,
    redirect,
)

TOKEN = "Zq7xK2vR9mWp4LtYc3Nb"
API_KEY = "h8GfJ2sQ6dVw1PzXe5Ry"
SESSION = "uT4nM9bC2xL7kQ5wE8Ha"  # a plain header whose name says it carries credentials
PASSWORD = "pV3jD8rN1sK6yB0mT4Fq"
SECRETS = (TOKEN, API_KEY, SESSION, PASSWORD)


def fragments(secret: str, size: int = 4) -> set[str]:
    """Every `size`-character piece of a secret: none may show anywhere."""
    return {secret[i : i + size] for i in range(len(secret) - size + 1)}


def shown_pieces(text: str) -> list[str]:
    return sorted(p for secret in SECRETS for p in fragments(secret) if p in text)


def _config(url: str, **overrides: object) -> ClientConfig:
    scheme, rest = url.split("://", 1)
    settings: dict[str, object] = {
        "instance": "edge",
        "base_url": f"{scheme}://orc:{PASSWORD}@{rest}",
        "bearer_token": TOKEN,
        "headers": {"X-API-Key": API_KEY, "X-Session": SESSION, "X-Client-ID": "orc-e2e"},
        "secret_headers": frozenset({"x-api-key"}),
        "timeout": 5.0,
    }
    settings.update(overrides)
    return ClientConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def mtls(tmp_path: Path) -> MutualTLS:
    return mutual_tls(tmp_path / "mtls")


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_to_another_host_is_an_error_naming_it_and_sends_nothing_there(
    status: int,
) -> None:
    with HostileServer() as elsewhere, HostileServer() as server:
        server.route("/api/delete", redirect(f"{elsewhere.url}*", status))
        server.route("/api/tags", redirect(f"{elsewhere.url}*", status))
        async with OllamaClient(_config(server.url)) as client:
            with pytest.raises(ProtocolError) as deleting:
                await client.delete("llama3.2:3b")
            with pytest.raises(ProtocolError) as listing:
                await client.list_models()
    text = str(deleting.value)
    assert text.startswith(
        f"edge/llama3.2:3b: delete failed: DELETE {server.url}/api/delete was redirected "
        f"(HTTP {status}) to {elsewhere.url}/api/delete; orc follows no redirects"
    )
    assert "put the final URL in spec.url" in text
    assert f"to {elsewhere.url}/api/tags" in str(listing.value)
    assert deleting.value.transient is False
    assert elsewhere.seen == []  # neither the delete nor any credential went there
    assert [s.path for s in server.seen] == ["/api/delete", "/api/tags"]


async def test_a_redirect_location_shows_no_credentials_or_query() -> None:
    with HostileServer() as server:
        server.route(
            "/api/version",
            redirect(f"https://orc:{PASSWORD}@other.example/v?token={TOKEN}", 302),
        )
        async with OllamaClient(_config(server.url)) as client:
            with pytest.raises(ProtocolError) as caught:
                await client.version()
    assert "to https://other.example/v;" in str(caught.value)
    assert shown_pieces(str(caught.value)) == []


@pytest.mark.parametrize("kind", ["json", "text", "html"])
@pytest.mark.parametrize("status", [400, 401, 500, 502])
async def test_a_server_echoing_the_request_headers_shows_no_piece_of_a_credential(
    kind: EchoKind, status: int
) -> None:
    with HostileServer() as server:
        server.route("/api/tags", echo_headers(kind, status))
        # the bearer token only: httpx would send the URL's user and password instead
        config = _config(server.url, base_url=server.url)
        async with OllamaClient(config) as client:
            with pytest.raises(OllamaError) as caught:
                await client.list_models()
    sent = server.seen[0]
    assert sent.header("authorization") == f"Bearer {TOKEN}"  # the echo did carry them
    assert sent.header("x-api-key") == API_KEY
    error = caught.value
    texts = [str(error), repr(error), error.detail or "", error.hint or ""]
    assert all(shown_pieces(text) == [] for text in texts), texts
    assert "***" in str(error)
    assert "orc-e2e" in str(error) or (status == 401 and kind == "json")


async def test_basic_credentials_from_the_url_are_masked_in_every_form() -> None:
    with HostileServer() as server:
        server.route("/api/tags", echo_headers("text", 400))
        config = _config(server.url, bearer_token=None)
        async with OllamaClient(config) as client:
            with pytest.raises(OllamaError) as caught:
                await client.list_models()
    assert (server.seen[0].header("authorization") or "").startswith("Basic ")
    assert "Authorization: Basic ***;" in str(caught.value)
    assert shown_pieces(str(caught.value)) == []


async def test_a_short_secret_does_not_garble_the_message() -> None:
    with HostileServer() as server:
        server.route("/api/tags", json_reply({"error": "every model here needs a license"}, 400))
        config = ClientConfig(instance="edge", base_url=server.url, bearer_token="e")
        async with OllamaClient(config) as client:
            with pytest.raises(OllamaError) as caught:
                await client.list_models()
    assert "server said: every model here needs a license" in str(caught.value)


@pytest.mark.parametrize("body_only", [False, True])
async def test_timeout_bounds_the_whole_reply_of_a_server_that_drips_bytes(
    body_only: bool,
) -> None:
    slow = dripping(json_reply({"version": "0.12.6", "pad": "x" * 40}), 0.05, body_only=body_only)
    with HostileServer() as server:
        server.route("/api/version", slow)
        async with OllamaClient(_config(server.url, timeout=0.5)) as client:
            start = time.monotonic()
            with pytest.raises(OllamaTimeout) as caught:
                await client.version()
            elapsed = time.monotonic() - start
    assert elapsed < 2.0  # the reply would take 3s or more
    what = (
        "the reply from {}/api/version did not arrive in full within 0.5s"
        if body_only
        else "no reply from {}/api/version within 0.5s"
    )
    assert str(caught.value).startswith(f"edge: version failed: {what.format(server.url)} (")
    assert caught.value.transient is True


async def test_a_dripping_reply_within_the_timeout_still_works() -> None:
    with HostileServer() as server:
        server.route("/api/version", dripping(json_reply({"version": "0.12.6"}), every=0.002))
        async with OllamaClient(_config(server.url, timeout=5.0)) as client:
            assert await client.version() == "0.12.6"


async def test_mtls_without_a_client_certificate_says_the_server_asked_for_one(
    mtls: MutualTLS,
) -> None:
    with HostileServer(tls=mtls.context) as server:
        config = _config(server.url, tls=TLSConfig(ca_file=mtls.ca_file))
        for _ in range(6):  # the server's alert and its hang-up race: both must read the same
            async with OllamaClient(config) as client:
                with pytest.raises(OllamaTLSError) as caught:
                    await client.version()
            text = str(caught.value)
            assert text.startswith(
                f"edge: version failed: the server at {server.url}/api/version asked for a "
                "client certificate (mutual TLS), and none is configured"
            ), text
            assert "set tls.clientCert and tls.clientKey" in text
            assert "check that Ollama is running" not in text
    assert server.handshake_failures  # it really refused the handshake


async def test_mtls_with_the_client_certificate_works(mtls: MutualTLS) -> None:
    with HostileServer(tls=mtls.context) as server:
        tls = TLSConfig(
            ca_file=mtls.ca_file, client_cert=mtls.client_cert, client_key=mtls.client_key
        )
        async with OllamaClient(_config(server.url, tls=tls)) as client:
            assert await client.version() == "0.12.6"


def test_an_encrypted_client_key_is_refused_without_prompting(
    mtls: MutualTLS, capfd: pytest.CaptureFixture[str]
) -> None:
    key = mtls.encrypted_key
    tls = TLSConfig(ca_file=mtls.ca_file, client_cert=mtls.client_cert, client_key=key)
    with pytest.raises(OllamaTLSError) as caught:
        OllamaClient(_config("https://127.0.0.1:9", tls=tls))
    assert str(caught.value) == (
        f"edge: tls.clientKey {mtls.encrypted_key} is encrypted with a pass phrase, and orc "
        "never prompts for one (store the key unencrypted, readable only by orc's user "
        "(e.g. `openssl pkey -in enc.key -out enc-plain.key`), and point tls.clientKey at "
        "that file)"
    )
    captured = capfd.readouterr()
    assert "pass phrase" not in captured.out + captured.err  # OpenSSL never prompted


def test_a_key_encrypted_inside_the_certificate_file_is_refused_too(mtls: MutualTLS) -> None:
    combined = mtls.client_cert.with_name("combined.pem")
    combined.write_bytes(mtls.client_cert.read_bytes() + mtls.encrypted_key.read_bytes())
    tls = TLSConfig(ca_file=mtls.ca_file, client_cert=combined)
    with pytest.raises(OllamaTLSError, match=r"tls\.clientCert .*combined\.pem is encrypted"):
        OllamaClient(_config("https://127.0.0.1:9", tls=tls))


async def test_verify_false_warns_once_per_instance_and_command(
    mtls: MutualTLS, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="reconciler.ollama")
    config = _config("https://127.0.0.1:9", tls=TLSConfig(verify=False))
    for _ in range(3):
        await OllamaClient(config).aclose()
    await OllamaClient(ClientConfig(instance="plain", base_url="http://127.0.0.1:9")).aclose()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [
        "Warning: edge: tls.verify is false, so the server's certificate is not checked and "
        "anyone on the network path can pose as the server and read its credentials; set "
        "tls.caFile to the CA that signed it instead"
    ]


async def test_httpx_logs_no_request_lines_with_credentials(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    with HostileServer() as server:
        async with OllamaClient(_config(server.url)) as client:
            assert await client.version() == "0.12.6"
    assert "edge: GET" in caplog.text  # our own debug line, with the display URL
    assert shown_pieces(caplog.text) == []
    assert not [r for r in caplog.records if r.name.startswith(("httpx", "httpcore"))]
