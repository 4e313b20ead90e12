"""Every command documents itself: complete --help with examples or flags, and its exit codes."""

from __future__ import annotations

import re
import subprocess
import sys

import click
import pytest

from reconciler.cli.main import COMMANDS, SUMMARIES, cli, main


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


EXIT_CODES_BY_COMMAND = {
    "validate": {0, 1},
    "plan": {0, 1, 2, 130},
    "apply": {0, 1, 3, 130},
    "status": {0, 1, 2, 130},
    "watch": {0, 1},
    "demo": {0, 1, 130},
    "schema": {0, 1},
    "chat-test": {0, 1, 130},
    "sim": {0, 1},
    "completion": {0, 1},
    "import": {0, 1, 130},
    "history": {0, 1},
}


def _listed_exit_codes(help_text: str) -> set[int]:
    section = help_text.split("Exit codes:", 1)[1]
    return {int(m) for m in re.findall(r"^\s+(\d+)\s{2,}", section, re.MULTILINE)}


@pytest.mark.parametrize("command", sorted(EXIT_CODES_BY_COMMAND))
def test_each_command_lists_only_the_exit_codes_it_can_return(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--help"]) == 0
    assert _listed_exit_codes(capsys.readouterr().out) == EXIT_CODES_BY_COMMAND[command]


def test_every_command_is_in_the_exit_code_table() -> None:
    assert set(COMMANDS) == set(EXIT_CODES_BY_COMMAND)


class _Listed(click.Group):
    """A plain group of the real commands, listed in `orc --help`'s order."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)


@pytest.mark.parametrize("width", [60, 80, 100])
def test_the_listed_summaries_are_the_commands_own(width: int) -> None:
    # `orc --help` lists SUMMARIES so as not to import every command: they must not drift
    assert list(SUMMARIES) == list(COMMANDS)
    real = {name: cli.get_command(click.Context(cli), name) for name in COMMANDS}
    for name, command in real.items():
        assert command is not None and command.help is not None, name
        assert not (command.short_help or command.hidden or command.deprecated), name
        assert command.help.split("\n\n")[0] == SUMMARIES[name], name
    ctx = click.Context(cli, terminal_width=width, max_content_width=width)
    ours, clicks = ctx.make_formatter(), ctx.make_formatter()
    cli.format_commands(ctx, ours)
    _Listed(commands=real).format_commands(ctx, clicks)
    assert ours.getvalue() == clicks.getvalue()
    assert "  plan " in ours.getvalue()


def test_the_group_help_imports_no_command_and_no_heavy_library() -> None:
    script = (
        "import sys\nfrom reconciler.cli.main import main\nmain(['--help'])\n"
        "print('LOADED', ' '.join(sorted(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True
    )
    loaded = set(done.stdout.split("LOADED ", 1)[1].split())
    assert done.returncode == 0, done.stderr
    commands = {target.split(":")[0] for target in COMMANDS.values()}
    assert "reconciler.cli.main" in loaded
    assert not loaded & commands
    assert not loaded & {"pydantic", "httpx", "yaml", "rich", "jsonschema", "reconciler.manifest"}
