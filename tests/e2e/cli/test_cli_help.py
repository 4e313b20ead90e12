"""Every command documents itself: complete --help with examples or flags, and its exit codes."""

from __future__ import annotations

import pytest

from reconciler.cli.main import COMMANDS, main


def test_the_group_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert f"  {name} " in out
    assert "Exit codes:" in out


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_help_with_exit_codes(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Usage: orc {name}")
    assert "Exit codes:" in out
    assert "  0 " in out
    assert "  1 " in out


def test_usage_errors_exit_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--no-such-flag", "x"]) == 1
    assert main(["no-such-command"]) == 1
    assert "No such command" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"orc {__version__}"
