"""`server_key`: every spelling of one server gives one key, and different servers differ."""

from __future__ import annotations

import pytest

from reconciler.serverkey import server_key

LOOPBACK_11434 = [
    "http://127.0.0.1:11434",
    "http://localhost:11434/",
    "http://LocalHost.:11434//",
    "https://localhost:11434",  # one port serves one server, whatever the scheme
    "http://[::1]:11434",
    "http://[0:0:0:0:0:0:0:1]:11434",
    "http://[::ffff:127.0.0.1]:11434",
    "http://127.0.1.1:11434",
    "http://127.1:11434",
    "http://0x7f.0.0.1:11434",
    "http://0177.0.0.01:11434",
    "http://2130706433:11434",
    "http://0.0.0.0:11434",
    "http://[::]:11434",
    "http://ip6-localhost:11434",
    "http://localhost.localdomain:11434",
    "http://ollama.localhost:11434",
    "http://user:secret@localhost:11434",
]


@pytest.mark.parametrize("url", LOOPBACK_11434)
def test_every_loopback_spelling_is_one_server(url: str) -> None:
    assert server_key(url) == "localhost:11434"


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://Ollama.Example.COM/", "ollama.example.com:443"),
        ("https://ollama.example.com:443", "ollama.example.com:443"),
        ("http://ollama.example.com", "ollama.example.com:80"),
        ("http://ollama.example.com:80/", "ollama.example.com:80"),
        ("https://gw.example/ollama/", "gw.example:443/ollama"),
        ("https://gw.example/Ollama", "gw.example:443/Ollama"),
        ("http://10.0.0.7:11434", "10.0.0.7:11434"),
        ("http://[2001:DB8::0:1]:11434", "[2001:db8::1]:11434"),
    ],
)
def test_other_servers_are_named_canonically(url: str, key: str) -> None:
    assert server_key(url) == key


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("http://localhost:11434", "http://localhost:11435"),
        ("http://gw.example/gpu-1", "http://gw.example/gpu-2"),
        ("http://gw.example", "http://gw.example/ollama"),
        ("http://10.0.0.7:11434", "http://10.0.0.8:11434"),
        ("http://127.0.0.1.example:11434", "http://127.0.0.1:11434"),  # a name, not an address
        ("http://localhostx:11434", "http://localhost:11434"),
        ("http://256.0.0.1:11434", "http://0.0.0.1:11434"),  # not an address: a name
    ],
)
def test_different_servers_have_different_keys(one: str, other: str) -> None:
    assert server_key(one) != server_key(other)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host", "not an http or https url"),
        ("localhost:11434", "not an http or https url"),
        ("http://", "no host"),
        ("http://host:99999", "Port out of range"),
        ("http://host:x", "Port could not be cast"),
    ],
)
def test_what_is_not_an_http_url_has_no_key(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        server_key(url)
