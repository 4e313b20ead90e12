"""`orc history`: what happened to the fleet: applied actions, probes and chats, newest last."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import Duration, use_color, write_output
from reconciler.errors import ExitCode
from reconciler.report.history import (
    KINDS,
    History,
    build_history,
    render_history_json,
)
from reconciler.report.history_text import render_history_markdown, render_history_table
from reconciler.state import (
    STATE_DIR_ENV,
    ChatRecord,
    HistoryRecord,
    ProbeRecord,
    StateDir,
    state_dir_path,
    to_ms,
)

FORMATS = ("table", "json", "markdown")
DEFAULT_LIMIT = 1000


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    OK="the history was printed (an empty one too)",
    ERROR="the state directory cannot be read, or bad usage",
)


@click.command("history", epilog=EPILOG_EXIT_CODES)
@click.option(
    "--since",
    type=Duration(days=True),
    default="24h",
    show_default=True,
    help="How far back to look (e.g. 30m, 6h, 7d).",
)
@click.option("--instance", metavar="NAME", default=None, help="Only this instance.")
@click.option(
    "--kind",
    "kinds",
    type=click.Choice(KINDS),
    multiple=True,
    help="Only these events: apply, probe or chat (repeatable). Default: all three.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--limit",
    type=click.IntRange(1, 1_000_000),
    default=DEFAULT_LIMIT,
    show_default=True,
    help="Show at most this many events, the newest ones; the rest are counted.",
)
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help=f"State directory to read. Default: ${STATE_DIR_ENV} or .orc",
)
def history_command(
    since: float,
    instance: str | None,
    kinds: tuple[str, ...],
    fmt: str,
    limit: int,
    state_dir: Path | None,
) -> int:
    """Show what happened to the fleet: applied actions, probes and chats, oldest first.

    Every `orc apply` (and `orc watch --mode apply`) records each action; every probe made by
    `orc plan`, `status`, `watch`, `chat-test` and the Python API (given a state directory) is
    recorded, with its health, latency, version and why it failed; every chat through
    `orc chat-test` or `Fleet(state_dir=...)` is recorded per instance tried, with the time to
    the first token, tokens/s and failovers. Probes and chats are kept for `--retention`
    (30 days by default) of the command that wrote them. Nothing is contacted: this only reads
    the state directory.

    \b
    Examples:
      orc history
      orc history --since 7d --kind apply
      orc history --instance gpu-1 --kind probe --since 1h --format json
    """
    chosen = tuple(k for k in KINDS if k in kinds) or KINDS
    now = datetime.now(UTC)
    start = now - timedelta(seconds=since)
    history = read_history(state_dir_path(state_dir), start, now, chosen, instance, limit)
    write_output(_render(history, fmt))
    return 0


def read_history(
    folder: Path,
    since: datetime,
    now: datetime,
    kinds: tuple[str, ...],
    instance: str | None,
    limit: int,
) -> History:
    """The history in `folder` (empty when it has none: nothing is created)."""
    empty = build_history(since=since, now=now, kinds=kinds, instance=instance)
    if not (folder / "state.db").is_file():
        return empty
    with StateDir(folder) as state:
        applies: list[HistoryRecord] = []
        if "apply" in kinds:
            applies = state.apply_history_since(since.strftime("%Y-%m-%dT%H:%M:%SZ"), instance)
        probes: list[ProbeRecord] = []
        chats: list[ChatRecord] = []
        total = len(applies)
        if "probe" in kinds:
            probes, count = state.probe_history(to_ms(since), instance, limit)
            total += count
        if "chat" in kinds:
            chats, count = state.chat_history(to_ms(since), instance, limit)
            total += count
    return build_history(
        since=since,
        now=now,
        kinds=kinds,
        instance=instance,
        applies=applies,
        probes=probes,
        chats=chats,
        total=total,
        limit=limit,
    )


def _render(history: History, fmt: str) -> str:
    if fmt == "json":
        return render_history_json(history)
    if fmt == "markdown":
        return render_history_markdown(history)
    width = shutil.get_terminal_size((120, 24)).columns
    return render_history_table(history, width=width, color=use_color())
