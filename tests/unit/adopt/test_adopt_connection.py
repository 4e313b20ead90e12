"""How `orc import` names servers and checks the settings to reach them, before any request."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.adopt import ImportRequest
from reconciler.adopt.connection import (
    connections,
    instance_names,
    is_credential_header,
    name_from_url,
)
from reconciler.desired import SecretRef
from reconciler.errors import UsageError


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://gpu-1.example.com", "gpu-1"),
        ("http://localhost:11434", "localhost"),
        ("http://GPU_Box.internal:11434/ollama", "gpu-box"),
        ("http://10.0.0.5:11434", "10-0-0-5"),
        ("http://[::1]:11434", "ollama-1"),
        ("http://[fe80::1ff:fe23]:11434", "ollama-fe80-1ff-fe23"),
        ("https://-odd-.example.com", "odd"),
        (f"https://{'a' * 70}.example.com", "a" * 63),
    ],
)
def test_a_name_is_derived_from_the_host(url: str, name: str) -> None:
    assert name_from_url(url) == name


def test_names_for_several_urls() -> None:
    urls = ["http://gpu.a.com", "http://gpu.b.com", "http://gpu.c.com"]
    assert instance_names(urls, None) == ["gpu", "gpu-2", "gpu-3"]
    assert instance_names(urls, "prod") == ["prod-1", "prod-2", "prod-3"]
    assert instance_names(urls[:1], "prod") == ["prod"]


@pytest.mark.parametrize(
    ("header", "credential"),
    [
        ("Authorization", True),
        ("proxy-authorization", True),
        ("Cookie", True),
        ("X-API-Key", True),
        ("x-apikey", True),
        ("X-Auth-Token", True),
        ("X-Client-Secret", True),
        ("X-Client-ID", False),
        ("X-Request-Source", False),
    ],
)
def test_credential_headers_are_recognised_by_name(header: str, credential: bool) -> None:
    assert is_credential_header(header) is credential


def _request(**fields: object) -> ImportRequest:
    return ImportRequest(**{"urls": ("http://gpu-1.internal:11434",), "out": Path("m"), **fields})  # type: ignore[arg-type]


def test_a_url_with_credentials_is_refused_without_showing_them() -> None:
    request = _request(urls=("https://admin:hunter2-secret@gpu-1.internal",))
    with pytest.raises(UsageError) as caught:
        connections(request, {})
    assert "hunter2" not in str(caught.value) and "admin" not in str(caught.value)
    assert str(caught.value) == (
        "cannot import https://gpu-1.internal: the URL carries credentials "
        "(remove them and pass a token with --token-env or --token-file)"
    )


@pytest.mark.parametrize("url", ["gpu-1:11434", "ftp://gpu-1", "http://"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(UsageError, match="not an http or https URL with a host"):
        connections(_request(urls=(url,)), {})


def test_a_plain_credential_header_is_refused_and_its_value_never_shown() -> None:
    request = _request(headers={"Authorization": "Bearer plain-secret-value"})
    with pytest.raises(UsageError) as caught:
        connections(request, {})
    assert "plain-secret-value" not in str(caught.value)
    assert "--header-env Authorization=VARIABLE" in str(caught.value)


def test_variables_must_be_set_and_become_references() -> None:
    request = _request(token_env="GPU_TOKEN", header_env={"X-API-Key": "GPU_KEY"})
    with pytest.raises(UsageError, match="--token-env: the environment variable GPU_TOKEN"):
        connections(request, {"GPU_KEY": "key-value-123456"})
    [instance] = connections(request, {"GPU_TOKEN": "t" * 20, "GPU_KEY": "k" * 20})
    assert instance.bearer_token == SecretRef(env="GPU_TOKEN")
    assert instance.headers == {"X-API-Key": SecretRef(env="GPU_KEY")}


def test_token_flags_exclude_each_other(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t" * 20)
    request = _request(token_env="T", token_file=token)
    with pytest.raises(UsageError, match="--token-env and --token-file exclude each other"):
        connections(request, {"T": "t" * 20})


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"--token-file .*nope: no such file"):
        connections(_request(token_file=tmp_path / "nope"), {})


def test_names_and_modelsets_must_be_dns_labels() -> None:
    with pytest.raises(UsageError, match="--name: 'GPU_1' is not a DNS label"):
        connections(_request(name="GPU_1"), {})
    with pytest.raises(UsageError, match="--modelset: 'Shared' is not a DNS label"):
        connections(_request(modelset="Shared"), {})


def test_a_modelset_labels_its_instances_and_refuses_a_conflicting_label() -> None:
    [instance] = connections(_request(modelset="gpu", labels={"tier": "gpu"}), {})
    assert instance.labels == {"tier": "gpu", "modelset": "gpu"}
    with pytest.raises(UsageError, match="--labels modelset=cpu conflicts with --modelset gpu"):
        connections(_request(modelset="gpu", labels={"modelset": "cpu"}), {})


def test_endpoints_are_checked() -> None:
    with pytest.raises(UsageError, match="--endpoint chats: unknown endpoint"):
        connections(_request(endpoints={"chats": "/v1/chat"}), {})
    with pytest.raises(UsageError, match="the path must start with '/'"):
        connections(_request(endpoints={"chat": "v1/chat"}), {})
