"""What `orc watch` knows about the fleet, and the status document it serves from it.

The loop writes here (the last valid desired state, the latest observation of each instance,
the manifests' validity, how the last reconcile ended, the recent reconciles); `/status`,
`/healthz`, `/metrics`, the dashboard and the status file read from here. The document is rebuilt
when a reconcile starts and when it ends, so every reader sees the same consistent snapshot in
between. The figures from the history (uptime, latency, last error, chats) are brought up to date
when the status is rebuilt, that is once per reconcile, reading only the rows written since the
last time; the recent applied actions come from the state directory's history, read at those
moments too (a busy or unwritable state directory keeps the previous list).
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler.desired import DesiredFleet
from reconciler.errors import StateError
from reconciler.manifest import Diagnostic
from reconciler.observed import ObservedFleet, ObservedInstance
from reconciler.report import Status, build_status
from reconciler.state import FleetFigures
from reconciler.watch.conditions import Conditions, Facts
from reconciler.watch.heldback import HeldBack
from reconciler.watch.prunedelay import PendingDeletion
from reconciler.watch.results import Result

HEALTHY_INTERVALS = 3  # /healthz fails when no reconcile finished for this many intervals
# The history's figures over the window ending at a moment (None: no history to read).
FiguresSource = Callable[[datetime], FleetFigures | None]
RECENT_RECONCILES = 20  # summaries kept for `recentReconciles`
History = Callable[[], Sequence[Mapping[str, Any]]]  # the recent applied actions, newest last


@dataclass(frozen=True, slots=True)
class ManifestState:
    """Whether the manifests on disk are valid, their diagnostics and git revision."""

    valid: bool | None = None  # None: not read yet
    diagnostics: tuple[Diagnostic, ...] = ()
    revision: str | None = None

    def to_dict(self, paths: Sequence[Path]) -> dict[str, Any]:
        """The `manifests` part of the status document."""
        return {
            "valid": self.valid,
            "paths": [str(p) for p in paths],
            "revision": self.revision,
            "diagnostics": [_diagnostic_dict(d) for d in self.diagnostics],
        }


@dataclass(frozen=True, slots=True)
class CycleSummary:
    """How one reconcile went."""

    number: int
    trigger: str
    result: Result
    message: str
    started_at: datetime
    finished_at: datetime
    duration: float

    def to_dict(self) -> dict[str, Any]:
        """The `lastReconcile` part of the status document."""
        return {
            "number": self.number,
            "trigger": self.trigger,
            "result": str(self.result),
            "message": self.message,
            "startedAt": self.started_at.isoformat(),
            "time": self.finished_at.isoformat(),
            "durationSeconds": round(self.duration, 3),
        }


@dataclass
class WatchRecord:
    """The daemon's knowledge, and the snapshot (`document`, `status`) built from it."""

    paths: tuple[Path, ...]
    mode: str
    interval: float
    started: float  # monotonic
    created_at: datetime
    desired: DesiredFleet | None = None
    observed: dict[str, ObservedInstance] = field(default_factory=dict)
    manifests: ManifestState = field(default_factory=ManifestState)
    last: CycleSummary | None = None
    running: str | None = None
    alive: bool = False
    last_progress: float | None = None  # monotonic: a reconcile ended or reported progress
    pending_deletions: tuple[PendingDeletion, ...] = ()  # held by the Fleet's pruneDelay
    selector: dict[str, str] = field(default_factory=dict)  # `--selector`: the shard owned
    notifications: list[dict[str, Any]] = field(default_factory=list)  # per receiver
    figures: FiguresSource | None = None  # the history's figures; None: the status has none
    held_back: HeldBack = field(default_factory=HeldBack)  # by the Fleet's sync windows
    history: History | None = None
    recent: deque[CycleSummary] = field(default_factory=lambda: deque(maxlen=RECENT_RECONCILES))
    applies: tuple[Mapping[str, Any], ...] = ()

    def __post_init__(self) -> None:
        self.conditions = Conditions(self.created_at)
        self.status: Status = self._status(self.created_at)
        self.document: dict[str, Any] = {}
        self.refresh(self.created_at)

    def absorb(self, observed: ObservedFleet) -> dict[str, ObservedInstance]:
        """Merge a (possibly partial) observation; returns the previous state of those instances."""
        before = {name: self.observed[name] for name in observed.instances if name in self.observed}
        self.observed.update(observed.instances)
        return before

    def keep_declared(self) -> None:
        """Forget observations of instances the manifests no longer declare."""
        names = {i.name for i in self.desired.instances} if self.desired else set()
        self.observed = {n: o for n, o in self.observed.items() if n in names}

    def finished(self, summary: CycleSummary) -> None:
        """A reconcile ended: it is the last one and the newest of the recent ones."""
        self.last, self.running = summary, None
        self.recent.append(summary)

    def healthy(self, now: float) -> bool:
        """/healthz: the loop runs and a reconcile finished (or progressed) lately."""
        since = self.last_progress if self.last_progress is not None else self.started
        return self.alive and now - since <= HEALTHY_INTERVALS * self.interval

    def refresh(self, now: datetime, *, rebuild: bool = True) -> None:
        """Rebuild the conditions and the document (and, with `rebuild`, the status)."""
        if rebuild:
            self.status = self._status(now)
            self._read_history()
        self.conditions.update(
            Facts(
                running=self.running,
                manifests_valid=self.manifests.valid,
                diagnostics=self.manifests.diagnostics,
                result=self.last.result if self.last else None,
                message=self.last.message if self.last else "",
                status=self.status,
            ),
            now,
        )
        document = self.status.to_dict(models=True)
        document["mode"] = self.mode
        document["conditions"] = self.conditions.to_list()
        document["lastReconcile"] = self.last.to_dict() if self.last else None
        document["manifests"] = self.manifests.to_dict(self.paths)
        document["pendingDeletions"] = [p.to_dict() for p in self.pending_deletions]
        document["owned"] = {
            "selector": dict(self.selector),
            "instances": sorted(i.name for i in self.desired.instances) if self.desired else [],
        }
        document["notifications"] = self.notifications
        if self.desired is not None and self.desired.sync_windows:
            document["syncWindows"] = self.held_back.to_dict()
        document["recentReconciles"] = [s.to_dict() for s in self.recent]
        document["recentApplies"] = [dict(a) for a in self.applies]
        self.document = document

    def notified(self, receivers: list[dict[str, Any]]) -> None:
        """A notification was delivered or failed: the receivers' tallies, shown at once."""
        self.notifications = receivers
        self.document = {**self.document, "notifications": receivers}

    def _read_history(self) -> None:
        if self.history is not None:
            with contextlib.suppress(StateError):  # busy or unwritable: the last list stays
                self.applies = tuple(self.history())

    def _status(self, now: datetime) -> Status:
        desired = self.desired or DesiredFleet()
        figures = self.figures(now) if self.figures is not None else None
        return build_status(desired, ObservedFleet(dict(self.observed)), now, figures)


def _diagnostic_dict(d: Diagnostic) -> dict[str, Any]:
    return {
        "severity": str(d.severity),
        "file": d.file,
        "line": d.line,
        "column": d.column,
        "field": d.field_path,
        "message": d.message,
        "text": str(d),
    }
