"""`spec.pruneDelay` of the Fleet: a duration that may be 0, 30s by default, outside the digest."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.manifest import load_fleet

FLEET = "apiVersion: ollama-reconciler/v1\nkind: Fleet\nmetadata: {name: f}\n"
INSTANCE = (
    "---\napiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: a}\n"
    "spec: {url: 'http://a:11434'}\n"
)


def write(tmp_path: Path, spec: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET + spec + INSTANCE, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("spec", "seconds"),
    [
        ("", 30.0),
        ("spec: {}\n", 30.0),
        ("spec: {pruneDelay: 0}\n", 0.0),
        ("spec: {pruneDelay: 0s}\n", 0.0),
        ("spec: {pruneDelay: 2m}\n", 120.0),
        ("spec: {pruneDelay: 1.5}\n", 1.5),
    ],
)
def test_prune_delay_resolves_to_seconds(tmp_path: Path, spec: str, seconds: float) -> None:
    result = load_fleet([write(tmp_path, spec)])
    assert result.ok, [str(d) for d in result.diagnostics]
    assert result.fleet is not None
    assert result.fleet.prune_delay == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5", "must be at least 0"), ("soon", "invalid duration 'soon'"), ("true", "got a boolean")],
)
def test_a_bad_prune_delay_is_an_error_at_its_line(
    tmp_path: Path, value: str, message: str
) -> None:
    path = write(tmp_path, f"spec:\n  pruneDelay: {value}\n")
    result = load_fleet([path])
    assert not result.ok
    [error] = [d for d in result.diagnostics if d.is_error]
    assert (error.line, error.field_path) == (5, "spec.pruneDelay")
    assert message in error.message


def test_the_prune_delay_leaves_the_desired_digest_alone(tmp_path: Path) -> None:
    first = load_fleet([write(tmp_path, "spec: {pruneDelay: 10s}\n")]).fleet
    second = load_fleet([write(tmp_path, "spec: {pruneDelay: 0}\n")]).fleet
    assert first is not None and second is not None
    assert first.prune_delay != second.prune_delay
    assert first.digest() == second.digest()
