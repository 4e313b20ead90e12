"""CLI habits users expect: global flags anywhere, default manifest paths, shell completion."""

from __future__ import annotations

import os
from pathlib import Path

import click
import pytest

from reconciler.cli.main import main, place_global_flags
from reconciler.cli.paths import manifest_paths


@pytest.mark.parametrize(
    ("written", "placed"),
    [
        (["plan", "m/", "--no-color"], ["--no-color", "plan", "m/"]),
        (["status", "--traceback", "m/"], ["--traceback", "status", "m/"]),
        (["--state-dir", "D", "plan", "m/"], ["plan", "--state-dir", "D", "m/"]),
        (["--state-dir=D", "apply", "m/"], ["apply", "--state-dir=D", "m/"]),
        (["--no-color", "plan", "m/"], ["--no-color", "plan", "m/"]),
        (["chat-test", "m/", "--", "--no-color"], ["chat-test", "m/", "--", "--no-color"]),
        (["--help"], ["--help"]),
        ([], []),
    ],
)
def test_global_flags_are_placed_where_click_expects_them(
    written: list[str], placed: list[str]
) -> None:
    assert place_global_flags(written) == placed


def test_no_color_after_the_subcommand_reaches_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tmp_path / "missing.yaml"), "--no-color", "--traceback"]) == 1
    assert "No such option" not in capsys.readouterr().err


def test_paths_given_win_over_the_environment() -> None:
    given = (Path("a.yaml"),)
    assert manifest_paths(given, {"ORC_MANIFESTS": "x"}) == given


def test_paths_come_from_orc_manifests(tmp_path: Path) -> None:
    env = {"ORC_MANIFESTS": f"{tmp_path / 'a'}{os.pathsep}{tmp_path / 'b'}"}
    assert manifest_paths((), env) == (tmp_path / "a", tmp_path / "b")


def test_paths_default_to_a_manifests_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(click.UsageError, match=r"ORC_MANIFESTS.*\./manifests"):
        manifest_paths((), {})
    (tmp_path / "manifests").mkdir()
    assert manifest_paths((), {}) == (Path("manifests"),)


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef orc"), ("fish", "complete --no-files")],
)
def test_completion_prints_a_script_per_shell(
    shell: str, marker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert marker in script
    assert "_ORC_COMPLETE" in script


def test_completion_refuses_an_unknown_shell(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "powershell"]) == 1
    assert "powershell" in capsys.readouterr().err


def test_completion_answers_with_commands_and_flags(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("_ORC_COMPLETE", "bash_complete")
    monkeypatch.setenv("COMP_WORDS", "orc plan --for")
    monkeypatch.setenv("COMP_CWORD", "2")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 0
    assert "plain,--format" in capsys.readouterr().out.splitlines()
