"""`orc watch`: the continuous reconcile, with status and metrics over HTTP.

`WatchLoop` is the loop itself, with every outside dependency injected; `run_watch` assembles the
real daemon around it (file watcher, state lock, HTTP endpoints, status file, signals).
"""

from __future__ import annotations

from reconciler.watch.cycle import Cycle, FleetReconciler, Mode
from reconciler.watch.daemon import DEFAULT_LISTEN, WatchSettings, run_watch
from reconciler.watch.http import TOKEN_ENV, ListenError, make_app
from reconciler.watch.loop import WatchLoop, WatchOptions
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.record import CycleSummary, ManifestState, WatchRecord
from reconciler.watch.results import Result
from reconciler.watch.schedule import Due, Schedule, Timing, Trigger
from reconciler.watch.sources import ManifestFilter, manifest_changes

__all__ = [
    "DEFAULT_LISTEN",
    "TOKEN_ENV",
    "Cycle",
    "CycleSummary",
    "Due",
    "FleetReconciler",
    "ListenError",
    "ManifestFilter",
    "ManifestState",
    "Mode",
    "Result",
    "Schedule",
    "Timing",
    "Trigger",
    "WatchLoop",
    "WatchMetrics",
    "WatchOptions",
    "WatchRecord",
    "WatchSettings",
    "make_app",
    "manifest_changes",
    "run_watch",
]
