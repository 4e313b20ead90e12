"""Our client against the simulator over real sockets: TLS, bearer token, and the three ways of
not getting through (wrong CA, wrong token, server down), each with the message a user reads."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reconciler.ollama import (
    OllamaError,
    OllamaTLSError,
    OllamaUnauthorized,
    OllamaUnreachable,
    TLSConfig,
)
from reconciler.testing import SimFleet


async def test_tls_with_the_fleet_ca_and_the_right_token_works(connect, fleet: SimFleet) -> None:
    client = connect("secure")
    assert await client.version() == "0.12.6"
    assert [m.name for m in await client.list_models()] == ["llama3.2:3b"]
    show = await client.show("llama3.2:3b")
    assert show.context_length == 131072
    assert "completion" in show.capabilities
    assert await client.running() == []
    assert await client.health() >= 0
    statuses = [p.status async for p in client.pull("smollm2:135m")]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    assert fleet["secure"].state.find("smollm2:135m") is not None


async def test_a_ca_that_did_not_sign_the_certificate_is_a_tls_error(
    connect, fleet: SimFleet, other_ca: Path, token: str
) -> None:
    client = connect("secure", tls=TLSConfig(ca_file=other_ca))
    with pytest.raises(OllamaTLSError) as caught:
        await client.list_models()
    error = caught.value
    text = str(error)
    assert text.startswith("secure: list models failed: ")
    assert f"the TLS certificate of {fleet.url('secure')}/api/tags is not trusted" in text
    assert "CERTIFICATE_VERIFY_FAILED" in text
    assert "tls.caFile" in text
    assert "tls.verify: false" in text
    assert error.instance == "secure"
    assert error.transient is False
    assert token not in text
    assert fleet["secure"].state.requests == []  # refused before any request was sent


async def test_the_system_trust_store_does_not_trust_the_private_ca(connect) -> None:
    client = connect("secure", tls=TLSConfig())
    with pytest.raises(
        OllamaTLSError, match=r"^secure: version failed: .* not trusted.*tls\.caFile"
    ):
        await client.version()


async def test_verify_false_skips_certificate_checks(connect) -> None:
    client = connect("secure", tls=TLSConfig(verify=False))
    assert await client.version() == "0.12.6"


async def test_https_to_a_plain_http_server_is_a_tls_handshake_error(
    connect, fleet: SimFleet
) -> None:
    url = fleet.url("plain").replace("http://", "https://")
    client = connect("plain", base_url=url, tls=TLSConfig(verify=False))
    with pytest.raises(OllamaTLSError) as caught:
        await client.version()
    text = str(caught.value)
    assert text.startswith(
        f"plain: version failed: the TLS handshake with {url}/api/version failed"
    )
    assert "use an http:// url if the server does not speak TLS" in text


async def test_a_missing_ca_file_is_a_tls_error_naming_the_settings(
    connect, tmp_path: Path
) -> None:
    with pytest.raises(OllamaTLSError, match=r"^secure: cannot use tls\.caFile .*nowhere\.pem"):
        connect("secure", tls=TLSConfig(ca_file=tmp_path / "nowhere.pem"))


async def test_a_wrong_token_is_unauthorized_without_showing_either_token(
    connect, fleet: SimFleet, token: str
) -> None:
    wrong = "e2e-WRONG-token-77aa01"
    client = connect("secure", bearer_token=wrong)
    with pytest.raises(OllamaUnauthorized) as caught:
        await client.list_models()
    error = caught.value
    text = str(error)
    assert text == (
        "secure: list models failed: the server wants credentials (HTTP 401); "
        "server said: unauthorized (check auth.bearerToken and the headers of this instance)"
    )
    assert (error.status, error.transient, error.instance) == (401, False, "secure")
    assert wrong not in text
    assert token not in text
    assert wrong not in repr(client.config)
    assert fleet["secure"].state.count("/api/tags") == 1


async def test_no_token_at_all_is_unauthorized(connect) -> None:
    client = connect("secure", bearer_token=None)
    with pytest.raises(
        OllamaUnauthorized, match=r"^secure/llama3.2:3b: show failed: .*\(HTTP 401\)"
    ):
        await client.show("llama3.2:3b")


async def test_a_stopped_server_is_unreachable_and_transient(connect, fleet: SimFleet) -> None:
    client = connect("plain")
    assert await client.version() == "0.12.6"
    await fleet.stop("plain")
    with pytest.raises(OllamaUnreachable) as caught:
        await client.list_models()
    error = caught.value
    text = str(error)
    assert text.startswith(f"plain: list models failed: cannot connect to {fleet.url('plain')}/")
    assert "check that Ollama is running at that URL" in text
    assert (error.instance, error.transient, error.status) == ("plain", True, None)


async def test_a_stopped_server_is_reported_as_connection_refused(connect, fleet: SimFleet) -> None:
    await fleet.stop("plain")
    with pytest.raises(OllamaUnreachable) as caught:
        await connect("plain").version()
    assert str(caught.value).startswith(
        f"plain: version failed: cannot connect to {fleet.url('plain')}/api/version: "
        "connection refused (check that Ollama is running"
    )


async def test_the_same_client_works_again_after_the_server_restarts(
    connect, fleet: SimFleet
) -> None:
    client = connect("plain")
    await client.version()
    await fleet.stop("plain")
    with pytest.raises(OllamaUnreachable):
        await client.version()
    await fleet.start("plain")
    names = sorted(m.name for m in await client.list_models())
    assert names == ["llama3.2:3b", "nomic-embed-text:latest"]


async def test_every_failure_is_an_ollama_error_never_an_httpx_one(
    connect, fleet: SimFleet, other_ca: Path
) -> None:
    await fleet.stop("proxied")
    attempts = [
        connect("secure", tls=TLSConfig(ca_file=other_ca)).version(),
        connect("secure", bearer_token="nope").version(),
        connect("proxied").version(),
        connect("plain", base_url=fleet.url("plain") + "/wrong-prefix").version(),
    ]
    for attempt in attempts:
        with pytest.raises(OllamaError) as caught:
            await attempt
        assert type(caught.value).__module__ == "reconciler.ollama.errors"


async def test_no_secret_reaches_a_log_line_or_an_error_even_when_echoed(
    connect, fleet: SimFleet, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    api_key = "e2e-SECRET-apikey-90d1"
    client = connect(
        "secure", headers={"X-API-Key": api_key}, secret_headers=frozenset({"X-API-Key"})
    )
    echo = f"proxy rejected Bearer {token} / X-API-Key {api_key}"
    fleet["secure"].faults.fail_next(status=502, message=echo, path="/api/tags")
    caplog.set_level(logging.DEBUG)  # every logger: ours, httpx, httpcore
    assert await client.version() == "0.12.6"
    with pytest.raises(OllamaError) as caught:
        await client.list_models()
    assert "proxy rejected Bearer *** / X-API-Key ***" in str(caught.value)
    assert caplog.records, "debug logging was captured"
    texts = [caplog.text, str(caught.value), repr(caught.value), repr(client.config)]
    texts.append(str(caught.value.detail))
    for secret in (token, api_key):
        assert not [t for t in texts if secret in t]
