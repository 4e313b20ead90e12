"""ClientConfig: endpoint names and URLs, timeouts, and a repr that hides secrets."""

from __future__ import annotations

import pytest

from reconciler import ollama
from reconciler.desired import ENDPOINT_NAMES
from reconciler.ollama import ENDPOINT_DEFAULTS, ClientConfig


def test_every_manifest_endpoint_name_has_ollamas_real_path() -> None:
    assert set(ENDPOINT_DEFAULTS) == set(ENDPOINT_NAMES)
    assert ENDPOINT_DEFAULTS["health"] == "/"
    assert ENDPOINT_DEFAULTS["version"] == "/api/version"
    assert ENDPOINT_DEFAULTS["listModels"] == "/api/tags"
    assert ENDPOINT_DEFAULTS["ps"] == "/api/ps"


@pytest.mark.parametrize(
    ("base", "endpoints", "name", "url"),
    [
        ("http://127.0.0.1:11434", {}, "listModels", "http://127.0.0.1:11434/api/tags"),
        ("https://h/prefix", {}, "health", "https://h/prefix/"),
        ("https://h/prefix/", {"chat": "/api/v1/chat"}, "chat", "https://h/prefix/api/v1/chat"),
        ("https://h/prefix", {"show": "api/x/show"}, "show", "https://h/prefix/api/x/show"),
        ("https://h", {"embed": "https://e.example/embed"}, "embed", "https://e.example/embed"),
    ],
)
def test_urls_join_base_prefix_and_path(
    base: str, endpoints: dict[str, str], name: str, url: str
) -> None:
    assert ClientConfig(instance="i", base_url=base, endpoints=endpoints).url(name) == url


def test_unknown_endpoint_names_are_refused() -> None:
    with pytest.raises(ValueError, match="list_models"):
        ClientConfig(instance="i", base_url="http://h", endpoints={"list_models": "/x"})


def test_stream_inactivity_defaults_to_the_request_timeout() -> None:
    assert ClientConfig(instance="i", base_url="http://h", timeout=12).stream_inactivity == 12
    config = ClientConfig(instance="i", base_url="http://h", read_timeout_stream=90)
    assert config.stream_inactivity == 90
    assert (config.timeout, config.connect_timeout, config.pull_timeout) == (30.0, 10.0, 7200.0)


def test_repr_masks_the_token_and_secret_headers_only() -> None:
    config = ClientConfig(
        instance="cloud",
        base_url="https://u:pw@h/x",
        bearer_token="t0k3n",
        headers={"X-API-Key": "k3y", "X-Client-ID": "coder"},
        secret_headers=frozenset({"X-API-KEY"}),
    )
    text = repr(config)
    assert "t0k3n" not in text
    assert "k3y" not in text
    assert "pw" not in text
    assert "'X-Client-ID': 'coder'" in text
    assert "'X-API-Key': '***'" in text
    assert set(config.secrets()) == {"t0k3n", "k3y", "pw"}


def test_the_public_api_is_pinned() -> None:
    expected = {
        "OllamaClient", "ClientConfig", "TLSConfig", "ENDPOINT_DEFAULTS",
        "ModelEntry", "ModelDetails", "ShowResponse", "RunningModel", "PullProgress",
        "CreateProgress", "ChatMessage", "ChatChunk", "ChatResult", "GenerateChunk",
        "GenerateResult", "EmbedResult", "Metrics",
        "OllamaError", "OllamaUnreachable", "OllamaTLSError", "OllamaTimeout",
        "OllamaUnauthorized", "ModelNotFound", "ModelNotInRegistry", "ModelNameRejected",
        "ServerBusy", "ServerError", "ProtocolError", "RequestRejected", "PoolExhausted",
        "ChatOptions", "ChatOptionArgs",
        "normalize_digest", "parse_parameters",
    }  # fmt: skip
    assert set(ollama.__all__) == expected
    assert all(hasattr(ollama, name) for name in expected)
