"""`run_watch`: assemble the real daemon (files, sockets, signals) around `WatchLoop`.

The loop gets the real file watcher, the state directory's lock and history, and a `Reconciler`;
the HTTP endpoints (only with `--listen`: the dashboard and its Test chat too) and the status file
read the loop's record. SIGTERM and SIGINT
stop the loop (a reconcile in flight is cancelled cleanly) and the daemon exits 0; SIGHUP asks
for a reconcile now.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TextIO

from reconciler.chat import Fleet
from reconciler.desired import DesiredFleet
from reconciler.errors import StateError, UsageError
from reconciler.manifest import load_fleet
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.notify import Dispatcher
from reconciler.plan import Plan
from reconciler.reconcile import Reconciler, lock_servers
from reconciler.report.activity import RECENT_APPLIES, history_entries
from reconciler.state import (
    DEFAULT_RETENTION,
    DEFAULT_WINDOW,
    FigureFeed,
    FleetFigures,
    StateDir,
    state_dir_path,
)
from reconciler.watch.cycle import Mode
from reconciler.watch.http import (
    TOKEN_ENV,
    HttpServer,
    all_interfaces,
    chat_access,
    make_app,
    webhook_token,
)
from reconciler.watch.logs import EventLog, configure_logging
from reconciler.watch.loop import Listener, WatchLoop, WatchOptions
from reconciler.watch.manifests import owned, unowned
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.record import WatchRecord
from reconciler.watch.schedule import Timing, Trigger
from reconciler.watch.sources import manifest_changes
from reconciler.watch.statusfile import write_atomically
from reconciler.watch.testchat import TestChats

DEFAULT_LISTEN = ("127.0.0.1", 9464)


@dataclass(frozen=True)
class WatchSettings:
    """What the flags of `orc watch` asked for. `interval` None: the Fleet's spec.interval."""

    paths: tuple[Path, ...]
    mode: Mode = Mode.APPLY
    interval: float | None = None
    debounce: float = 0.3
    settle: float = 1.0
    listen: tuple[str, int] | None = None
    status_file: Path | None = None
    log_format: str = "text"
    state_dir: Path | None = None
    parallelism: int | None = None
    webhook_token: str | None = field(default=None, repr=False)
    secrets: SecretPolicy | None = None  # None: secret files inside `paths`, any variable
    selector: Mapping[str, str] = field(default_factory=dict)  # the shard owned (--selector)
    retention: float = DEFAULT_RETENTION  # seconds probes and chats stay in the history
    window: float = DEFAULT_WINDOW  # seconds the figures of /status cover


def run_watch(settings: WatchSettings, stream: TextIO | None = None) -> int:
    """Run the daemon until SIGTERM or SIGINT; 0 after a clean stop."""
    missing = [p for p in settings.paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    if settings.status_file is not None and not settings.status_file.parent.is_dir():
        raise UsageError(f"--status-file: no such directory: {settings.status_file.parent}")
    if settings.listen is not None:
        webhook_token(settings.webhook_token)  # set but blank: refused before anything starts
    if settings.selector:
        check_selector(settings.paths, settings.selector)
    configure_logging(settings.log_format, stream or sys.stderr)
    return asyncio.run(_serve(settings))


async def _serve(settings: WatchSettings) -> int:
    stop = asyncio.Event()
    log = EventLog()

    def warn(message: str) -> None:
        log.warning("state.degraded", message=message)

    path = state_dir_path(settings.state_dir)
    with StateDir(path, warn=warn, retention=settings.retention) as state:
        metrics = WatchMetrics()
        watch = WatchLoop(
            _options(settings),
            Reconciler(state=state, parallelism=settings.parallelism, secrets=_secrets(settings)),
            changes=manifest_changes(settings.paths, stop),
            stop=stop,
            lock=lambda made, desired: _apply_locks(state, made, desired),
            listeners=_listeners(settings, metrics),
            dispatcher=Dispatcher(secrets=_secrets(settings), on_delivery=metrics.notified),
            figures=_figures(state, settings.window, log),
            history=lambda: history_entries(state.history(RECENT_APPLIES)),
        )
        http = await _start_http(settings, watch, metrics, log, state=state)
        restore = _handle_signals(stop, watch, log)
        log.info(
            "watch.started",
            paths=[str(p) for p in settings.paths],
            mode=str(settings.mode),
            interval=settings.interval if settings.interval else "from manifests",
            debounce=settings.debounce,
            settle=settings.settle,
        )
        try:
            await watch.run()
        finally:
            restore()
            if http is not None:
                await http.stop()
    log.info("watch.stopped")
    return 0


def _figures(
    state: StateDir, window: float, log: EventLog
) -> Callable[[datetime], FleetFigures | None]:
    """The history's figures for /status, read incrementally; a failure to read them is logged
    and leaves the figures out of that one status, never stopping the daemon."""
    feed = FigureFeed(window)

    def figures(now: datetime) -> FleetFigures | None:
        try:
            return state.figures(feed, now)
        except StateError as exc:
            log.warning("history.unreadable", message=str(exc))
            return None

    return figures


def _secrets(settings: WatchSettings) -> SecretPolicy:
    return settings.secrets or SecretPolicy.for_manifests(settings.paths)


@contextlib.contextmanager
def _apply_locks(state: StateDir, made: Plan, desired: DesiredFleet) -> Iterator[None]:
    """The state directory's lock, then the locks of the servers the plan changes; a manual
    apply holding either makes this cycle skip its apply."""
    with state.lock(0.0, command="orc watch"), lock_servers(made, desired, 0.0, "orc watch"):
        yield


def _options(settings: WatchSettings) -> WatchOptions:
    timing = Timing(
        interval=settings.interval or 300.0, debounce=settings.debounce, settle=settings.settle
    )
    return WatchOptions(
        settings.paths,
        settings.mode,
        timing,
        interval_from_manifests=settings.interval is None,
        selector=dict(settings.selector),
    )


def check_selector(paths: Sequence[Path], selector: Mapping[str, str]) -> None:
    """Refuse to start a watcher whose `--selector` owns no instance of valid manifests.

    Invalid manifests are not refused here: the daemon reports them and waits for a fix, as it
    does without a selector.
    """
    loaded = load_fleet(list(paths))
    if loaded.fleet is not None and not owned(loaded.fleet, selector).instances:
        problem = unowned(selector)
        raise UsageError(problem.message, hint=problem.hint)


def _listeners(settings: WatchSettings, metrics: WatchMetrics) -> list[Listener]:
    listeners: list[Listener] = [metrics.reconciled]
    target = settings.status_file
    if target is not None:

        def write_status(record: WatchRecord) -> None:
            write_atomically(target, record.document)

        listeners.append(write_status)
    return listeners


async def _start_http(
    settings: WatchSettings,
    watch: WatchLoop,
    metrics: WatchMetrics,
    log: EventLog,
    state: StateDir | None = None,
) -> HttpServer | None:
    """Serve the endpoints (with `--listen`); the Test chat's probes use `state`'s show cache."""
    if settings.listen is None:
        return None

    def reconcile_now() -> None:
        log.info("http.reconcile", message="reconcile requested")
        watch.request(Trigger.MANUAL)

    def fleet(desired: DesiredFleet) -> Fleet:
        return Fleet(desired, secrets=_secrets(settings), state=state)

    token = webhook_token(settings.webhook_token)
    access = chat_access(settings.listen[0], token)
    chats = TestChats(lambda: watch.record.desired, fleet, log=log)
    app = make_app(
        watch.record, metrics, reconcile_now, time.monotonic, token, chats=chats, access=access
    )
    http = HttpServer(app, *settings.listen)
    host, port = await http.start()
    shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = "bearer token" if token else "none"
    log.info(
        "http.listening",
        address=shown,
        url=f"http://{shown}/",
        reconcile_auth=auth,
        test_chat=str(access),
    )
    if all_interfaces(settings.listen[0]):
        log.warning(
            "http.all_interfaces",
            address=shown,
            reconcile_auth=auth,
            message="listening on every network interface: anyone who can reach this port "
            "reads /status and /metrics"
            + ("" if token else f" and can trigger POST /reconcile (no {TOKEN_ENV})")
            + "; use --listen 127.0.0.1:PORT to serve this host only",
        )
    return http


def _handle_signals(stop: asyncio.Event, watch: WatchLoop, log: EventLog) -> Callable[[], None]:
    """Install the handlers; returns the function that removes them."""
    loop = asyncio.get_running_loop()

    def stopping(name: str) -> None:
        if not stop.is_set():
            log.info("watch.stopping", signal=name)
        stop.set()

    def reconcile_now() -> None:
        log.info("watch.signal", signal="SIGHUP", message="reconcile requested")
        watch.request(Trigger.MANUAL)

    loop.add_signal_handler(signal.SIGTERM, stopping, "SIGTERM")
    loop.add_signal_handler(signal.SIGINT, stopping, "SIGINT")
    loop.add_signal_handler(signal.SIGHUP, reconcile_now)

    def restore() -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(signum)

    return restore
