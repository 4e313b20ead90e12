"""`orc completion bash|zsh|fish`: print the shell completion script for `orc`.

Click generates the scripts; completion then asks `orc` itself (with `_ORC_COMPLETE` set) for
commands, flags and choices, so they never go out of date.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_ORC_COMPLETE"

EPILOG = """\b
Install:
  bash  echo 'eval "$(orc completion bash)"' >> ~/.bashrc
  zsh   echo 'eval "$(orc completion zsh)"' >> ~/.zshrc
  fish  orc completion fish > ~/.config/fish/completions/orc.fish

\b
Exit codes:
  0    the script was printed
  1    bad usage (unknown shell)
"""


@click.command("completion", epilog=EPILOG)
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> int:
    """Print the shell completion script for bash, zsh or fish."""
    root = ctx.find_root().command
    completer = get_completion_class(shell)
    assert completer is not None  # every name in SHELLS is one click knows
    click.echo(completer(root, {}, "orc", COMPLETE_VAR).source())
    return 0
