"""`orc status`: what is out there now, per instance and (with --models) per model.

`--format html` writes the dashboard's page as one self-contained file (no script, nothing
loaded from elsewhere), with the recent applied actions from the state directory's history.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import (
    open_state,
    parallelism_option,
    parse_selector,
    run_async,
    secret_policy,
    secrets_dir_option,
    selection_options,
    state_dir_option,
    use_color,
    window_option,
    write_output,
)
from reconciler.cli.paths import paths_argument
from reconciler.errors import ExitCode, StateError
from reconciler.plan import select
from reconciler.reconcile import Reconciler, load_desired, status_exit_code
from reconciler.report import (
    Status,
    build_status,
    render_status_html,
    render_status_json,
    render_status_markdown,
    render_status_table,
)
from reconciler.report.activity import RECENT_APPLIES, history_entries
from reconciler.state import FigureFeed, StateDir

FORMATS = ("table", "json", "markdown", "html")


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.CHANGES,
    ExitCode.INTERRUPTED,
    OK="success (with --detailed-exitcode: every enabled instance healthy and in sync)",
    ERROR="error: invalid manifests, bad usage, or no enabled instance answered",
)


@click.command("status", epilog=EPILOG_EXIT_CODES)
@paths_argument
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--models", is_flag=True, help="Also list every model of every instance.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 unless every enabled instance is healthy and in sync (0 then).",
)
@window_option
@selection_options
@parallelism_option
@secrets_dir_option
@state_dir_option
def status_command(
    paths: tuple[Path, ...],
    fmt: str,
    models: bool,
    detailed_exitcode: bool,
    window: float,
    targets: tuple[str, ...],
    selectors: tuple[str, ...],
    parallelism: int | None,
    secrets_dirs: tuple[Path, ...],
    state_dir: Path | None,
) -> int:
    """Report the fleet: health, version, latency, models present/declared and sync.

    Columns: name, URL, enabled, priority, health, version, latency, models (present/declared),
    sync (Synced, OutOfSync, Unknown), checked at. `--models` adds one row per model per
    instance: size, quantisation, context length, capabilities, loaded until, declared or not.

    Every probe is kept in the state directory's history; from it, over `--window`, each
    instance also shows its uptime (the fraction of probes that reached it), latency p50/p95,
    last error and when, and the chats it served (success rate, mean time to first token).
    These columns (and the JSON keys uptime, latency, lastError, chat) are left out when the
    state directory cannot be written; a figure the history has nothing for shows as `—`.
    `--format html` writes the dashboard of `orc watch --listen` as one self-contained page
    (health, every model, the recent applied actions), for CI artifacts and e-mail.

    \b
    Examples:
      orc status manifests/
      orc status manifests/ --models --format markdown
      orc status manifests/ --format json --detailed-exitcode
      orc status manifests/ --window 7d
      orc status manifests/ --format html > fleet.html
    """
    desired = select(load_desired(list(paths)), targets, parse_selector(selectors))
    secrets = secret_policy(paths, secrets_dirs)
    with open_state(state_dir) as state:
        reconciler = Reconciler(state=state, parallelism=parallelism, secrets=secrets)
        observed = run_async(reconciler.observe(desired))
        now = datetime.now(UTC)
        figures = state.figures(FigureFeed(window), now)
        status = build_status(desired, observed, now, figures)
        text = _page(status, state) if fmt == "html" else _render(status, fmt, models)
    write_output(text)
    if not status.answered:
        click.echo("Error: no enabled instance answered (see the health column above)", err=True)
    return int(status_exit_code(status.ok, detailed=detailed_exitcode, answered=status.answered))


def _page(status: Status, state: StateDir) -> str:
    """The HTML page: every model (whatever --models says) and the recent applied actions."""
    document: dict[str, Any] = status.to_dict(models=True)
    try:
        document["recentApplies"] = history_entries(state.history(RECENT_APPLIES))
    except StateError:  # no readable history: the page says "none recorded"
        document["recentApplies"] = []
    return render_status_html(document)


def _render(status: Status, fmt: str, models: bool) -> str:
    if fmt == "json":
        return render_status_json(status, models=models)
    if fmt == "markdown":
        return render_status_markdown(status, models=models)
    width = shutil.get_terminal_size((120, 24)).columns
    return render_status_table(status, models=models, width=width, color=use_color())
