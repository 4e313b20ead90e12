"""`resolve_secret`: a SecretRef's value at plan time; errors name the source, never the value."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired import SecretRef
from reconciler.errors import SecretError, SecretRefused
from reconciler.manifest import resolve_secret
from reconciler.manifest.secretpolicy import SecretPolicy


def test_env_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORC_TEST_TOKEN", "tok-12345")
    assert resolve_secret(SecretRef(env="ORC_TEST_TOKEN")) == "tok-12345"


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
    assert resolve_secret(SecretRef(value="inline-value")) == "inline-value"
    with pytest.raises(SecretError, match="the secret reference is empty"):
        resolve_secret(SecretRef())
    assert "inline" not in repr(SecretRef(value="inline"))


# Short secrets: refused from every source, naming the field and the source, never the value.


@pytest.mark.parametrize("short", ["Zq", "hunter2", " Xk9pQ7 "])
def test_a_secret_shorter_than_8_characters_is_refused(tmp_path: Path, short: str) -> None:
    path = tmp_path / "token"
    path.write_text(short)
    refs = {
        "env ORC_TEST_SHORT": SecretRef(env="ORC_TEST_SHORT"),
        f"file {path}": SecretRef(file=path),
        "inline value": SecretRef(value=short.strip()),
    }
    for source, ref in refs.items():
        with pytest.raises(SecretRefused) as caught:
            resolve_secret(ref, {"ORC_TEST_SHORT": short.strip()}, field="spec.auth.bearerToken")
        assert caught.value.message == (
            f"spec.auth.bearerToken: the secret from {source} is shorter than 8 characters"
        )
        assert short.strip() not in str(caught.value).replace(source, "")


def test_eight_characters_are_enough() -> None:
    assert resolve_secret(SecretRef(env="T"), {"T": "12345678"}) == "12345678"


# The runner's allow-list of variables (ORC_SECRET_ENV), never the manifests'.

ENV = {"OLLAMA_TOKEN": "ollama-token-value", "AWS_SECRET_ACCESS_KEY": "aws-SECRET-value-42"}


def test_a_variable_outside_the_allow_list_is_refused_without_its_value() -> None:
    policy = SecretPolicy(env_patterns=("OLLAMA_*", "PROD_TOKEN"))
    with pytest.raises(SecretRefused) as caught:
        resolve_secret(SecretRef(env="AWS_SECRET_ACCESS_KEY"), ENV, policy, "spec.headers.X-Key")
    assert str(caught.value) == (
        "spec.headers.X-Key: environment variable AWS_SECRET_ACCESS_KEY is not allowed by"
        " ORC_SECRET_ENV (this runner allows OLLAMA_*,PROD_TOKEN; only whoever runs orc can"
        " allow more)"
    )
    assert resolve_secret(SecretRef(env="OLLAMA_TOKEN"), ENV, policy) == "ollama-token-value"


def test_a_refused_variable_is_refused_whether_it_is_set_or_not() -> None:
    """Otherwise a pull request could learn which variables the runner has."""
    policy = SecretPolicy(env_patterns=("OLLAMA_*",))
    for env in (ENV, {}):
        with pytest.raises(SecretRefused, match="not allowed by ORC_SECRET_ENV"):
            resolve_secret(SecretRef(env="AWS_SECRET_ACCESS_KEY"), env, policy)


def test_an_empty_allow_list_allows_no_variable_and_unset_allows_all() -> None:
    with pytest.raises(SecretRefused, match="this runner allows nothing"):
        resolve_secret(SecretRef(env="OLLAMA_TOKEN"), ENV, SecretPolicy(env_patterns=()))
    assert resolve_secret(SecretRef(env="AWS_SECRET_ACCESS_KEY"), ENV) == "aws-SECRET-value-42"


def test_patterns_match_whole_names_and_case() -> None:
    policy = SecretPolicy(env_patterns=("OLLAMA_*",))
    assert policy.allows_env("OLLAMA_TOKEN")
    assert not policy.allows_env("ollama_token")
    assert not policy.allows_env("X_OLLAMA_TOKEN")
