"""Secret files under the runner's `SecretPolicy`: inside the manifests' folders (or a
`--secrets-dir`), regular, small, and read without ever blocking."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from reconciler.desired import SecretRef
from reconciler.errors import SecretError, SecretRefused
from reconciler.manifest import resolve_secret
from reconciler.manifest.secretpolicy import SecretPolicy, check_tls_file

FIELD = "spec.auth.bearerToken"
TOKEN = "file-SECRET-token-77aa"
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs, devices and symlinks")


@pytest.fixture
def manifests(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "manifests"
    (folder / "instances").mkdir(parents=True)
    (folder / "secrets").mkdir()
    (folder / "secrets" / "token").write_text(TOKEN + "\n")
    return folder


def read(path: Path, policy: SecretPolicy) -> str:
    return resolve_secret(SecretRef(file=path), {}, policy, FIELD)


def refused(path: Path, policy: SecretPolicy) -> str:
    with pytest.raises(SecretRefused) as caught:
        read(path, policy)
    text = str(caught.value)
    assert text.startswith(f"{FIELD}: "), text
    return text


def test_a_file_inside_the_manifests_folder_is_read(manifests: Path) -> None:
    policy = SecretPolicy.for_manifests([manifests])
    assert read(manifests / "instances" / ".." / "secrets" / "token", policy) == TOKEN


def test_a_file_argument_confines_to_its_own_folder(manifests: Path) -> None:
    fleet = manifests / "instances" / "fleet.yaml"
    fleet.write_text("")
    (manifests / "instances" / "token").write_text(TOKEN)
    policy = SecretPolicy.for_manifests([fleet])
    assert read(manifests / "instances" / "token", policy) == TOKEN
    refused(manifests / "secrets" / "token", policy)


def test_an_absolute_file_outside_is_refused_before_it_is_read(manifests: Path) -> None:
    policy = SecretPolicy.for_manifests([manifests])
    assert refused(Path("/etc/passwd"), policy) == (
        f"{FIELD}: secret file /etc/passwd is outside the manifests' folders"
        " (keep it next to the manifests, or allow its folder with --secrets-dir)"
    )
    # Whether a file outside exists is not told either.
    assert "outside" in refused(Path("/etc/no-such-file-at-all"), policy)


def test_dot_dot_out_of_the_manifests_is_refused(manifests: Path) -> None:
    outside = manifests.parent / "outside"
    outside.write_text(TOKEN)
    sneaky = manifests / "instances" / ".." / ".." / "outside"
    assert refused(sneaky, SecretPolicy.for_manifests([manifests])) == (
        f"{FIELD}: secret file {sneaky} (resolves to {outside}) is outside the manifests'"
        " folders (keep it next to the manifests, or allow its folder with --secrets-dir)"
    )


@posix_only
def test_a_link_pointing_outside_is_refused(manifests: Path) -> None:
    outside = manifests.parent / "private-key"
    outside.write_text("aws-SECRET-do-not-send")
    link = manifests / "secrets" / "tok"
    link.symlink_to(outside)
    text = refused(link, SecretPolicy.for_manifests([manifests]))
    assert f"{link} (resolves to {outside}) is outside" in text
    assert "do-not-send" not in text


@posix_only
def test_a_linked_manifests_folder_still_allows_its_own_files(manifests: Path) -> None:
    alias = manifests.parent / "alias"
    alias.symlink_to(manifests, target_is_directory=True)
    assert read(alias / "secrets" / "token", SecretPolicy.for_manifests([alias])) == TOKEN


def test_a_secrets_dir_allows_its_files(manifests: Path, tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "token").write_text(TOKEN)
    assert "outside" in refused(vault / "token", SecretPolicy.for_manifests([manifests]))
    policy = SecretPolicy.for_manifests([manifests], [vault])
    assert read(vault / "token", policy) == TOKEN
    assert read(manifests / "secrets" / "token", policy) == TOKEN


def test_a_folder_whose_name_extends_a_root_is_not_inside_it(manifests: Path) -> None:
    twin = manifests.parent / (manifests.name + "-evil")
    twin.mkdir()
    (twin / "token").write_text(TOKEN)
    assert "outside" in refused(twin / "token", SecretPolicy.for_manifests([manifests]))


@posix_only
@pytest.mark.timeout(5)
def test_a_fifo_is_refused_without_blocking(manifests: Path) -> None:
    fifo = manifests / "secrets" / "pipe"
    os.mkfifo(fifo)
    assert refused(fifo, SecretPolicy.for_manifests([manifests])) == (
        f"{FIELD}: cannot read secret file {fifo}: it is a FIFO (named pipe), not a regular file"
    )
    assert "FIFO" in refused(fifo, SecretPolicy())  # even with no folders to stay in


@posix_only
@pytest.mark.timeout(5)
def test_a_device_is_refused_without_reading_it(manifests: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero")
    assert "outside" in refused(zero, SecretPolicy.for_manifests([manifests]))
    assert refused(zero, SecretPolicy.for_manifests([manifests], [Path("/dev")])) == (
        f"{FIELD}: cannot read secret file /dev/zero: it is a device, not a regular file"
    )
    link = manifests / "secrets" / "zero"
    link.symlink_to(zero)
    assert "outside" in refused(link, SecretPolicy.for_manifests([manifests]))
    assert "a device" in refused(link, SecretPolicy())


def test_a_large_file_is_refused_unread(manifests: Path) -> None:
    big = manifests / "secrets" / "big"
    with big.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024)  # 10 MB (sparse: nothing to write)
    assert refused(big, SecretPolicy.for_manifests([manifests])) == (
        f"{FIELD}: cannot read secret file {big}: it is larger than 64 KiB"
    )


def test_64_kib_is_allowed(manifests: Path) -> None:
    edge = manifests / "secrets" / "edge"
    edge.write_text("k" * 64 * 1024)
    assert len(read(edge, SecretPolicy.for_manifests([manifests]))) == 64 * 1024


def test_a_directory_is_refused(manifests: Path) -> None:
    folder = manifests / "secrets"
    assert refused(folder, SecretPolicy.for_manifests([manifests])) == (
        f"{FIELD}: cannot read secret file {folder}: it is a directory, not a regular file"
    )


def test_a_missing_file_inside_is_still_named_as_missing(manifests: Path) -> None:
    missing = manifests / "secrets" / "nope"
    with pytest.raises(SecretError) as caught:
        read(missing, SecretPolicy.for_manifests([manifests]))
    assert not isinstance(caught.value, SecretRefused)
    assert str(caught.value) == f"secret file {missing} does not exist"


# TLS files: the client certificate and key are confined like secrets; a CA bundle is public.


def test_a_client_key_outside_is_refused(manifests: Path, tmp_path: Path) -> None:
    key = tmp_path / "client.key"
    key.write_text("-----BEGIN PRIVATE KEY-----\n")
    policy = SecretPolicy.for_manifests([manifests])
    with pytest.raises(SecretRefused) as caught:
        check_tls_file(key, policy, "spec.tls.clientKey", confined=True)
    assert str(caught.value).startswith(f"spec.tls.clientKey: file {key} is outside")
    check_tls_file(key, SecretPolicy.for_manifests([manifests], [tmp_path]), "x", confined=True)


@posix_only
@pytest.mark.timeout(5)
def test_a_ca_file_may_be_anywhere_but_must_be_a_small_regular_file(
    manifests: Path, tmp_path: Path
) -> None:
    policy = SecretPolicy.for_manifests([manifests])
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    check_tls_file(ca, policy, "spec.tls.caFile", confined=False)
    check_tls_file(tmp_path / "missing.pem", policy, "spec.tls.caFile", confined=False)
    fifo = tmp_path / "ca-pipe"
    os.mkfifo(fifo)
    with pytest.raises(SecretRefused) as caught:
        check_tls_file(fifo, policy, "spec.tls.caFile", confined=False)
    assert str(caught.value) == (
        f"spec.tls.caFile: cannot use {fifo}: it is a FIFO (named pipe), not a regular file"
    )
