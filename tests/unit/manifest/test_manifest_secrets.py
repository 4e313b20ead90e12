"""`resolve_secret`: a SecretRef's value at plan time; errors name the source, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import SecretRef
from reconciler.errors import SecretError
from reconciler.manifest import resolve_secret


def test_env_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_TEST_TOKEN", "tok-123")
    assert resolve_secret(SecretRef(env="ORC_TEST_TOKEN")) == "tok-123"


def test_missing_env_variable_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORC_TEST_TOKEN", raising=False)
    with pytest.raises(SecretError) as caught:
        resolve_secret(SecretRef(env="ORC_TEST_TOKEN"))
    assert str(caught.value) == (
        "environment variable ORC_TEST_TOKEN is not set (export ORC_TEST_TOKEN before running orc)"
    )


def test_empty_env_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_TEST_TOKEN", "")
    with pytest.raises(SecretError, match="ORC_TEST_TOKEN is empty"):
        resolve_secret(SecretRef(env="ORC_TEST_TOKEN"))


def test_file_content_is_stripped(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("  file-secret\n")
    assert resolve_secret(SecretRef(file=path)) == "file-secret"


def test_missing_unreadable_and_empty_files_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing-token"
    with pytest.raises(SecretError, match=f"secret file {missing} does not exist"):
        resolve_secret(SecretRef(file=missing))
    with pytest.raises(SecretError, match=f"cannot read secret file {tmp_path}"):
        resolve_secret(SecretRef(file=tmp_path))
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(SecretError, match="is empty"):
        resolve_secret(SecretRef(file=empty))


def test_binary_file_error_does_not_echo_the_content(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"\xffsecret-bytes")
    with pytest.raises(SecretError) as caught:
        resolve_secret(SecretRef(file=path))
    assert "secret-bytes" not in str(caught.value)


def test_inline_value_and_empty_ref() -> None:
    assert resolve_secret(SecretRef(value="inline")) == "inline"
    with pytest.raises(SecretError, match="the secret reference is empty"):
        resolve_secret(SecretRef())
    assert "inline" not in repr(SecretRef(value="inline"))
