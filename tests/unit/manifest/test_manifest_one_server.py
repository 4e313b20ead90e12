"""Validation: two enabled instances must not reach one server, however their URLs are spelled."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import load_fleet

DOC = (
    "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: %s}\n"
    "spec: {url: '%s', enabled: %s, prune: true}\n"
)


def load(tmp_path: Path, *instances: tuple[str, str, bool]) -> list[str]:
    text = "---\n".join(DOC % (n, u, "true" if e else "false") for n, u, e in instances)
    (tmp_path / "fleet.yaml").write_text(text)
    return [d.message for d in load_fleet([tmp_path]).errors]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("http://127.0.0.1:11434", "http://localhost:11434/"),
        ("http://localhost:11434", "http://localhost:11434"),
        ("http://[::1]:11434", "http://127.0.0.1:11434"),
        ("https://gw.example/ollama", "https://GW.example:443/ollama/"),
    ],
)
def test_two_enabled_instances_of_one_server_are_an_error(
    tmp_path: Path, first: str, second: str
) -> None:
    errors = load(tmp_path, ("a", first, True), ("b", second, True))
    assert len(errors) == 1
    where = f"({tmp_path / 'fleet.yaml'}:4:13)"
    assert errors[0].startswith(f"instance 'b' is the same server as instance 'a' {where}: ")


def test_the_message_never_shows_url_credentials(tmp_path: Path) -> None:
    errors = load(
        tmp_path, ("a", "http://localhost:11434", True), ("b", "http://u:pw-9@[::1]:11434", True)
    )
    assert any("same server" in e for e in errors)
    assert not any("pw-9" in e for e in errors)


def test_a_disabled_instance_may_share_a_server(tmp_path: Path) -> None:
    assert (
        load(tmp_path, ("a", "http://localhost:11434", True), ("b", "http://[::1]:11434", False))
        == []
    )


def test_different_ports_and_path_prefixes_are_different_servers(tmp_path: Path) -> None:
    assert (
        load(
            tmp_path,
            ("a", "http://localhost:11434", True),
            ("b", "http://localhost:11435", True),
            ("c", "https://gw.example/gpu-1", True),
            ("d", "https://gw.example/gpu-2", True),
        )
        == []
    )
