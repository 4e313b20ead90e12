"""What a session computes once instead of per request stays exactly what it computed before.

Display URLs come from a per-session prefix and the endpoint's path; headers of configs without
secrets are built once and shared, while headers carrying a secret stay with their own session.
"""

from __future__ import annotations

import zlib

import httpx
import pytest

from reconciler.ollama import ClientConfig
from reconciler.ollama.config import ENDPOINT_DEFAULTS, display_url
from reconciler.ollama.errors import RequestRejected
from reconciler.ollama.session import HTTPX_HEADERS, Session, _headers

TRANSPORT = httpx.MockTransport(lambda request: httpx.Response(200))

BASE_URLS = [
    "http://127.0.0.1:11434",
    "http://127.0.0.1:11434/",
    "http://LocalHost:11434//",
    "https://user:pa55word-long@Ollama.Example:8443/prefix/",
    "https://user@host/a/b",
    "http://[::1]:11434/ollama",
    "http://[::1:11434/broken-ipv6",
    "http://host:notaport/x",
    "http://host:0080/x",
    "http://host/x?token=secret-query",
    "http://host/x#frag",
    "http://host/x;params",
    "http://host/%7Euser/",
    "http://ho\tst:1/x",
    " http://host/lead",
    "http://",
    "HTTP://Host",
    "http://a@b@c/x",
    "http://host/x:y/z",
]

ENDPOINT_OVERRIDES = [
    {},
    {"listModels": "custom/tags"},
    {"version": "/v?x=1"},
    {"show": "/s#frag"},
    {"ps": "/a@b"},
    {"pull": "/p:q"},
    {"chat": "/%2Fenc"},
    {"generate": "/sp ace"},
    {"embed": "/tab\there"},
]


def _old_display(config: ClientConfig, endpoint: str) -> str:
    return display_url(config.url(endpoint))


@pytest.mark.parametrize("base_url", BASE_URLS)
@pytest.mark.parametrize("endpoints", ENDPOINT_OVERRIDES)
def test_call_urls_are_those_display_url_gives_for_the_full_url(
    base_url: str, endpoints: dict[str, str]
) -> None:
    config = ClientConfig("n", base_url, endpoints=endpoints)
    session = Session(config, TRANSPORT)
    for endpoint in ENDPOINT_DEFAULTS:
        assert session.call(endpoint, "op").url == _old_display(config, endpoint)
    call, url = session.blob_call("check blob", "HEAD", "sha256:" + "a" * 64)
    assert call.url == display_url(url)


def test_absolute_endpoint_overrides_are_displayed_on_their_own() -> None:
    config = ClientConfig("n", "http://host/x", endpoints={"show": "http://other:9/s?k=v"})
    assert Session(config, TRANSPORT).call("show", "show").url == "http://other:9/s"


def test_configs_without_secrets_share_one_header_set() -> None:
    first = Session(ClientConfig("a", "http://a:1", headers={"X-Team": "ml"}), TRANSPORT)
    second = Session(ClientConfig("b", "http://b:2", headers={"X-Team": "ml"}), TRANSPORT)
    other = Session(ClientConfig("c", "http://c:3", headers={"X-Team": "ops"}), TRANSPORT)
    assert first._headers is second._headers
    assert other._headers is not first._headers
    assert other._headers["X-Team"] == "ops"


@pytest.mark.parametrize(
    "config",
    [
        ClientConfig("a", "http://a:1", bearer_token="tok-secret-value"),
        ClientConfig("a", "http://a:1", headers={"X-Api-Key": "key-secret-value"}),
        ClientConfig(
            "a", "http://a:1", headers={"X-Plain": "tok-secret-value"}, secret_headers={"X-Plain"}
        ),
        ClientConfig("a", "http://u:pass-secret-value@a:1"),
    ],
)
def test_headers_of_a_config_with_secrets_are_its_own(config: ClientConfig) -> None:
    twin = ClientConfig(
        "b",
        config.base_url,
        bearer_token=config.bearer_token,
        headers=config.headers,
        secret_headers=config.secret_headers,
    )
    first, second = Session(config, TRANSPORT), Session(twin, TRANSPORT)
    assert first._headers is not second._headers
    assert list(first._headers.multi_items()) == list(second._headers.multi_items())


def test_shared_headers_are_merged_as_httpx_merges_them() -> None:
    own = {"accept": "text/plain", "X-One": "1", "user-agent": "mine/1"}
    config = ClientConfig("a", "http://a:1", headers=own)
    expected = httpx.Headers(HTTPX_HEADERS)
    expected.update(_headers(config))
    for _ in range(2):  # built, then found
        got = Session(config, TRANSPORT)._headers
        assert list(got.raw) == list(expected.raw)


def test_a_bad_header_is_rejected_for_every_instance_that_sends_it() -> None:
    for name in ("first", "second"):
        with pytest.raises(RequestRejected) as caught:
            Session(ClientConfig(name, "http://a:1", headers={"X-Bad": "caf\u00e9"}), TRANSPORT)
        assert caught.value.instance == name


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "identity", None])
async def test_bodies_are_decoded_as_httpx_decodes_them(encoding: str | None) -> None:
    body = b'{"version": "0.5.7"}'
    packed = {
        "gzip": lambda b: zlib.compress(b, wbits=31),
        "deflate": zlib.compress,
    }.get(encoding or "", lambda b: b)(body)
    headers = {"Content-Encoding": encoding} if encoding else {}

    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=headers, stream=httpx.ByteStream(packed))

    session = Session(ClientConfig("n", "http://a:1"), httpx.MockTransport(reply))
    assert await session.fetch(session.call("version", "version")) == body
    await session.aclose()
