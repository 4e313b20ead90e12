"""The runner's secret rules as the CLI reads them: `--secrets-dir`, ORC_SECRETS_DIR and
ORC_SECRET_ENV, never the manifests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.cli.options import secret_policy
from reconciler.errors import UsageError


def real(path: Path) -> Path:
    return Path(os.path.realpath(path))


@pytest.fixture
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    manifests, vault, other = tmp_path / "m", tmp_path / "vault", tmp_path / "other"
    for folder in (manifests, vault, other):
        folder.mkdir()
    (manifests / "fleet.yaml").write_text("")
    monkeypatch.chdir(other)  # an empty ORC_SECRETS_DIR item must not mean "here"
    return manifests, vault, other


@pytest.mark.parametrize(
    ("value", "patterns"),
    [
        (None, None),
        ("", ()),
        (" , ", ()),
        ("OLLAMA_*", ("OLLAMA_*",)),
        (" OLLAMA_* , PROD_TOKEN ,", ("OLLAMA_*", "PROD_TOKEN")),
    ],
)
def test_orc_secret_env_unset_allows_all_and_empty_allows_none(
    folders: tuple[Path, Path, Path], value: str | None, patterns: tuple[str, ...] | None
) -> None:
    environ = {} if value is None else {"ORC_SECRET_ENV": value}
    assert secret_policy([folders[0]], environ=environ).env_patterns == patterns


def test_roots_are_the_paths_a_file_s_folder_the_flags_and_the_variable(
    folders: tuple[Path, Path, Path],
) -> None:
    manifests, vault, other = folders
    environ = {"ORC_SECRETS_DIR": os.pathsep.join(["", str(other), ""])}
    policy = secret_policy([manifests / "fleet.yaml"], [vault], environ)
    assert policy.roots == tuple(map(real, (manifests, vault, other)))
    assert secret_policy([manifests], environ={}).roots == (real(manifests),)


def test_a_missing_folder_is_a_usage_error_naming_where_it_came_from(
    folders: tuple[Path, Path, Path],
) -> None:
    manifests, _, other = folders
    with pytest.raises(UsageError, match=f"^--secrets-dir: no such directory: {other}/x$"):
        secret_policy([manifests], [other / "x"], {})
    with pytest.raises(UsageError, match=f"^ORC_SECRETS_DIR: no such directory: {other}/y$"):
        secret_policy([manifests], [], {"ORC_SECRETS_DIR": str(other / "y")})
    (other / "file").write_text("")
    with pytest.raises(UsageError, match="no such directory"):
        secret_policy([manifests], [other / "file"], {})
