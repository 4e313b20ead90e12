"""Masking secrets in the forms an echoing server shows them, without garbling messages."""

from __future__ import annotations

import base64
import json

import pytest

from reconciler.ollama import ClientConfig
from reconciler.ollama.redaction import Redactor

SECRET = 'Tk9<x&"y>Q2w'


def test_every_encoded_form_of_a_secret_is_masked() -> None:
    redact = Redactor([SECRET])
    forms = [
        SECRET,
        json.dumps(SECRET)[1:-1],
        json.dumps(SECRET)[1:-1]
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026"),
        "Tk9&lt;x&amp;&quot;y&gt;Q2w",
        "Tk9%3Cx%26%22y%3EQ2w",
        base64.b64encode(SECRET.encode()).decode(),
    ]
    for form in forms:
        assert redact(f"header: {form}; end") == "header: ***; end", form


def test_overlapping_secrets_are_masked_as_one() -> None:
    redact = Redactor(["abcdefgh12", "fgh12XYZab"])
    assert redact("x abcdefgh12XYZab y") == "x *** y"


def test_short_secrets_never_garble_a_message() -> None:
    assert Redactor(["e"])("every model here") == "every model here"
    word = Redactor(["k3y5"])
    assert word("key k3y5 and k3y5x stays") == "key *** and k3y5x stays"


def test_credential_headers_and_basic_credentials_are_secrets() -> None:
    basic = base64.b64encode(b"ops:S3cr3tPassw0rd").decode()
    config = ClientConfig(
        instance="a",
        base_url="https://admin:Url%2FPassw0rd@h",
        headers={"Authorization": f"Basic {basic}", "X-Session-Token": "plainsessionvalue"},
    )
    secrets = set(config.secrets())
    assert {basic, "ops:S3cr3tPassw0rd", "S3cr3tPassw0rd", "plainsessionvalue"} <= secrets
    assert {"Url%2FPassw0rd", "Url/Passw0rd", "admin:Url/Passw0rd"} <= secrets
    redact = Redactor(secrets)
    sent = base64.b64encode(b"admin:Url/Passw0rd").decode()
    assert redact(f"Authorization: Basic {sent}") == "Authorization: Basic ***"


def test_endpoints_on_another_origin_are_refused_when_credentials_would_go_there() -> None:
    with pytest.raises(ValueError, match="only ever sent to the origin of base_url"):
        ClientConfig(
            instance="a",
            base_url="https://h",
            bearer_token="a-long-token-value",
            endpoints={"chat": "https://elsewhere.example/api/chat"},
        )
    same = ClientConfig(
        instance="a",
        base_url="https://h:443/x",
        bearer_token="a-long-token-value",
        endpoints={"chat": "https://h/api/chat"},
    )
    assert same.url("chat") == "https://h/api/chat"
