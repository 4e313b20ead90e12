"""`orc watch`: parse the flags into `WatchSettings` and hand over to `reconciler.watch`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reconciler.cli.options import (
    Duration,
    parallelism_option,
    parse_selector,
    retention,
    secret_policy,
    secrets_dir_option,
    state_dir_option,
    window_option,
)
from reconciler.cli.paths import paths_argument
from reconciler.watch import DEFAULT_LISTEN, TOKEN_ENV, Mode, WatchSettings, run_watch

DEFAULT_ADDRESS = f"{DEFAULT_LISTEN[0]}:{DEFAULT_LISTEN[1]}"

EPILOG = f"""\b
Triggers:
  start-up, a change to a *.yaml/*.yml file under PATH (debounced), every --interval (minus a
  random jitter of up to 10%), SIGHUP, and POST /reconcile. A trigger during a reconcile queues
  exactly one more. An unreachable instance is retried with its own exponential backoff (capped
  at the interval) and left out of the other reconciles meanwhile.

\b
HTTP endpoints (only with --listen; default address {DEFAULT_ADDRESS}):
  GET  /healthz    200 while the loop runs and a reconcile ended (or an apply made progress)
                   within 3 intervals, else 503
  GET  /status     the `orc status --format json` document (with the history's figures over
                   --window: uptime, latency p50/p95 and series, lastError, chat), plus
                   conditions (Ready, Reconciling, Stalled), lastReconcile and manifests
                   (valid, diagnostics, git revision)
  GET  /metrics    Prometheus: orc_instance_up, orc_instance_latency_seconds,
                   orc_models_desired/present/missing, orc_drift_detected, orc_reconciles_total,
                   orc_reconcile_duration_seconds, orc_last_reconcile_timestamp_seconds,
                   orc_manifests_valid
  POST /reconcile  reconcile now; when ${TOKEN_ENV} is set, only with
                   'Authorization: Bearer <that token>' (401 otherwise); set but empty: refused
  --listen :PORT binds every network interface (a warning is logged); a client gets 10 s to send
  a whole request, and at most 64 connections are open at once.

\b
Half-saved files and pruneDelay:
  A manifest is read once it held still for --settle. In apply mode, deletions caused by a
  manifest change wait the Fleet's spec.pruneDelay (default 30s; 0: none) and are made only if
  the plan made when they are due still has them; /status lists them under pendingDeletions.

\b
Examples:
  orc watch manifests/ --listen
  orc watch manifests/ --mode plan --interval 1m --status-file /run/orc/status.json
  orc watch fleet.yaml --listen 0.0.0.0:9464 --log-format json
  orc watch manifests/ --selector shard=eu --listen 0.0.0.0:9464   # one shard of the fleet

\b
Exit codes:
  0    stopped cleanly by SIGTERM or SIGINT (a reconcile in flight is cancelled cleanly)
  1    could not start: bad flag, missing PATH, address in use, ORC_WEBHOOK_TOKEN set but empty
"""


def parse_listen(value: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every interface) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise click.BadParameter(
            f"{value!r} is not HOST:PORT (e.g. {DEFAULT_ADDRESS} or [::1]:9464)",
            param_hint="--listen",
        )
    host = host.removeprefix("[").removesuffix("]") or "0.0.0.0"
    return host, int(port)


@click.command("watch", epilog=EPILOG)
@paths_argument
@click.option(
    "--mode",
    type=click.Choice([m.value for m in Mode]),
    default=Mode.APPLY.value,
    show_default=True,
    help="apply: heal drift (no confirmation); plan: only report it.",
)
@click.option(
    "--interval",
    type=Duration(),
    default=None,
    help="Resync interval, to catch drift made by hand (e.g. 30s, 5m). "
    "Default: the Fleet manifest's spec.interval (5m).",
)
@click.option(
    "--debounce",
    type=Duration(),
    default="300ms",
    show_default=True,
    help="Wait until the manifest files were quiet this long before reconciling.",
)
@click.option(
    "--settle",
    type=Duration(allow_zero=True),
    default="1s",
    show_default=True,
    help="Read a manifest file only once its size, time and inode held still this long "
    "(a file saved in two steps is not read half-written; 0: read at once).",
)
@click.option(
    "--listen",
    metavar="HOST:PORT",
    is_flag=False,
    flag_value=DEFAULT_ADDRESS,
    default=None,
    help=f"Serve /healthz, /status, /metrics and /reconcile (alone, after PATH: "
    f"{DEFAULT_ADDRESS}; port 0: any free port, logged at start; :PORT: every interface, "
    "with a warning).",
)
@click.option(
    "--status-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Rewrite this file with the /status JSON after every reconcile (atomically).",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines on stderr: text, or one JSON object per line (ts, level, event, ...).",
)
@click.option(
    "--selector",
    "selectors",
    multiple=True,
    metavar="KEY=VALUE",
    help="Own only the instances carrying this label (repeatable; all must match): a shard of "
    "the fleet, for several watchers over one manifests repository. Refused when it matches "
    "no instance; /status lists the instances owned.",
)
@window_option
@parallelism_option
@secrets_dir_option
@state_dir_option
def watch_command(
    paths: tuple[Path, ...],
    mode: str,
    interval: float | None,
    debounce: float,
    settle: float,
    listen: str | None,
    status_file: Path | None,
    log_format: str,
    selectors: tuple[str, ...],
    window: float,
    parallelism: int | None,
    secrets_dirs: tuple[Path, ...],
    state_dir: Path | None,
) -> int:
    """Keep the servers matching the manifests, continuously.

    Reconciles once at start, then whenever a manifest under PATH changes and every interval.
    A change that makes the manifests invalid is logged with its diagnostics (file:line) and
    shown in the status; the last valid manifests stay in force and nothing is applied from the
    broken ones. Safety guards hold as in `orc apply`: a refused plan is reported, never carried
    out. While a manual `orc apply` holds the state lock, apply is skipped and reported.
    SIGHUP reconciles now; SIGTERM or SIGINT stops (within 10 s) and exits 0.
    """
    settings = WatchSettings(
        paths=paths,
        mode=Mode(mode),
        interval=interval,
        debounce=debounce,
        settle=settle,
        listen=parse_listen(listen) if listen is not None else None,
        status_file=status_file,
        log_format=log_format,
        state_dir=state_dir,
        parallelism=parallelism,
        webhook_token=os.environ.get(TOKEN_ENV),
        secrets=secret_policy(paths, secrets_dirs),
        selector=parse_selector(selectors),
        retention=retention(),
        window=window,
    )
    return run_watch(settings)
