"""The `orc` group, its global flags, and the one handler that maps errors to exit codes.

Commands live one per module and are imported only when invoked, so `orc --help` stays fast.
Click's usage errors exit 1, not 2: exit 2 means "changes" to CI scripts.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from reconciler._version import __version__
from reconciler.cli.collector import collect_less_while_starting, collect_normally
from reconciler.errors import ExitCode, ReconcilerError

# command name -> "module:attribute" (kept in the order `orc --help` shows them)
COMMANDS: dict[str, str] = {
    "validate": "reconciler.cli.validate:validate",
    "plan": "reconciler.cli.plan:plan_command",
    "apply": "reconciler.cli.apply:apply_command",
    "status": "reconciler.cli.status:status_command",
    "history": "reconciler.cli.history:history_command",
    "watch": "reconciler.cli.watch:watch_command",
    "demo": "reconciler.cli.demo:demo_command",
    "schema": "reconciler.cli.schema:schema",
    "chat-test": "reconciler.cli.chat_test:chat_test",
    "sim": "reconciler.cli.sim:sim",
    "completion": "reconciler.cli.completion:completion",
    "import": "reconciler.cli.importing:import_command",
}

KEEPS_RUNNING = frozenset({"watch", "sim", "demo"})
"""Commands that run until stopped: the collector's thresholds are Python's for them
(`reconciler/cli/collector.py`)."""

# command name -> the first paragraph of its help, which `orc --help` shortens to one line; kept
# here so that `orc --help` imports no command (tests/e2e/cli/test_cli_help.py keeps them equal)
SUMMARIES: dict[str, str] = {
    "validate": "Check manifests: YAML syntax, the JSON Schema, and the semantic rules.",
    "plan": "Show what `orc apply` would change to make the servers match the manifests.",
    "apply": "Make the servers match the manifests: pull, create, load and delete models.",
    "status": "Report the fleet: health, version, latency, models present/declared and sync.",
    "history": "Show what happened to the fleet: applied actions, probes and chats, oldest first.",
    "watch": "Keep the servers matching the manifests, continuously.",
    "demo": "Try orc without a GPU: a simulated fleet, then validate, plan, apply, status, chat.",
    "schema": "Print the manifest JSON Schema (draft 2020-12), generated from the models.",
    "chat-test": (
        "Chat with a model on the best available instance, or smoke-test the whole fleet."
    ),
    "sim": "Run simulated Ollama servers on this machine until Ctrl-C.",
    "completion": "Print the shell completion script for bash, zsh or fish.",
    "import": "Probe running Ollama servers and write manifests that declare what they have.",
}

# What each exit code means (design of the codes: docs/architecture.md, Errors and exit codes).
EXIT_CODE_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (with --detailed-exitcode: no changes / no drift)",
    ExitCode.ERROR: "error: invalid manifests, bad usage, refused (stale plan, lock held, guard)",
    ExitCode.CHANGES: "only with --detailed-exitcode: success, and there are changes or drift",
    ExitCode.PARTIAL: "apply finished partly: some actions failed, the rest were done",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C); in-flight work was stopped cleanly",
}


def exit_codes_help(*codes: ExitCode, **meanings: str) -> str:
    """The `Exit codes:` epilog of a command that can return `codes`.

    `meanings` overrides a code's line by its name (`OK="the manifests are valid"`).
    """
    lines = ["\b", "Exit codes:"]
    for code in codes or tuple(EXIT_CODE_MEANINGS):
        meaning = meanings.get(code.name, EXIT_CODE_MEANINGS[code])
        lines.append(f"  {int(code):<4} {meaning}")
    return "\n".join(lines) + "\n"


EXIT_CODES_HELP = exit_codes_help()


class GlobalOptions:
    """Flags of the `orc` group that every command sees through `click.Context.obj`.

    A plain class, not a dataclass: `orc --help` then loads neither `dataclasses` nor `inspect`.
    """

    def __init__(self, traceback: bool = False, color: bool | None = None) -> None:
        self.traceback = traceback
        self.color = color


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        if cmd_name in KEEPS_RUNNING:
            collect_normally()
        module_name, attribute = target.split(":")
        command = getattr(importlib.import_module(module_name), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of `orc --help`, from `SUMMARIES`: no command module is imported."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=SUMMARIES[name]).get_short_help_str(limit))
            for name in COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "--version", prog_name="orc", message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show the full traceback of an error.")
@click.option(
    "--no-color", is_flag=True, help="Never colour the output (NO_COLOR is honoured as well)."
)
@click.pass_context
def cli(ctx: click.Context, traceback: bool, no_color: bool) -> None:
    """orc: keep a fleet of Ollama servers matching declarative manifests.

    Manifests are YAML files (apiVersion ollama-reconciler/v1) describing Ollama instances and the
    models each should have. Typical flow: `orc validate`, `orc plan`, `orc apply`.
    """
    options = ctx.ensure_object(GlobalOptions)
    options.traceback = options.traceback or traceback
    if no_color or os.environ.get("NO_COLOR"):
        options.color = False


# Flags of the group that may also be written after the subcommand (`orc plan x --no-color`).
GLOBAL_FLAGS = ("--no-color", "--traceback")
# A subcommand's flag that may also be written before it (`orc --state-dir D plan x`).
STATE_DIR_FLAG = "--state-dir"


def place_global_flags(args: Sequence[str]) -> list[str]:
    """The arguments with global flags where click expects them, wherever the user wrote them.

    `--no-color` and `--traceback` after the subcommand move before it; `--state-dir DIR` before
    the subcommand moves after it. Nothing after `--` moves.
    """
    before: list[str] = []
    rest = list(args)
    moved_after: list[str] = []
    while rest and rest[0].startswith("-") and rest[0] != "--":
        token = rest.pop(0)
        if token == STATE_DIR_FLAG and rest:
            moved_after += [token, rest.pop(0)]
        elif token.startswith(STATE_DIR_FLAG + "="):
            moved_after.append(token)
        else:
            before.append(token)
    if not rest:
        return before + moved_after
    command, tail = rest[0], rest[1:]
    end = tail.index("--") if "--" in tail else len(tail)
    hoisted = [t for t in tail[:end] if t in GLOBAL_FLAGS]
    kept = [t for t in tail[:end] if t not in GLOBAL_FLAGS] + tail[end:]
    return before + hoisted + [command] + moved_after + kept


def main(argv: Sequence[str] | None = None) -> int:
    """Run `orc` and return its exit code (the console script exits with it)."""
    args = place_global_flags(sys.argv[1:] if argv is None else argv)
    options = GlobalOptions(traceback="--traceback" in args)
    try:
        result: Any = cli.main(args=args, prog_name="orc", standalone_mode=False, obj=options)
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except click.ClickException as exc:
        exc.show()
        return int(ExitCode.ERROR)
    except ReconcilerError as exc:
        return _report(exc, options, int(exc.exit_code))
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        return int(ExitCode.INTERRUPTED)
    except Exception as exc:
        return _report(exc, options, int(ExitCode.ERROR), unexpected=True)
    return int(result) if isinstance(result, int) else 0


def _report(exc: BaseException, options: GlobalOptions, code: int, unexpected: bool = False) -> int:
    if options.traceback:
        import traceback  # here: only --traceback needs it

        traceback.print_exception(exc)
    if unexpected:
        message = f"unexpected {type(exc).__name__}: {exc}"
        hint = "" if options.traceback else " (run again with --traceback and report it)"
        click.echo(f"Error: {message}{hint}", err=True)
    else:
        click.echo(f"Error: {exc}", err=True)
    return code


def run() -> None:
    """Console-script entry point."""
    collect_less_while_starting()
    sys.exit(main())
