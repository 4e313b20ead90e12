"""The conditions `orc watch` reports: Ready, Reconciling and Stalled, as Kubernetes does.

Each has a status (True/False), a CamelCase reason, a human message and the time its status last
changed. They are derived from what the loop knows after (or at the start of) each reconcile, so
that a dashboard or `kubectl wait`-style script can tell "fine", "busy" and "needs a human" apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.manifest import Diagnostic
from reconciler.report import Status
from reconciler.watch.results import Result

READY, RECONCILING, STALLED = "Ready", "Reconciling", "Stalled"


_STALLING = {
    Result.REFUSED: "GuardRefused",
    Result.LOCKED: "LockHeld",
    Result.FAILED: "ApplyFailed",
    Result.PARTIAL: "ApplyFailed",
    Result.ERROR: "ReconcileError",
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition as reported."""

    type: str
    status: bool
    reason: str
    message: str
    last_transition: datetime

    def to_dict(self) -> dict[str, Any]:
        """The JSON form, with Kubernetes' field names and "True"/"False" strings."""
        return {
            "type": self.type,
            "status": "True" if self.status else "False",
            "reason": self.reason,
            "message": self.message,
            "lastTransitionTime": self.last_transition.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Facts:
    """What the conditions are derived from."""

    running: str | None  # the triggers of the reconcile in progress
    manifests_valid: bool | None
    diagnostics: Sequence[Diagnostic]
    result: Result | None  # of the last finished reconcile
    message: str  # of the last finished reconcile
    status: Status


class Conditions:
    """The three conditions, keeping each one's last transition time."""

    def __init__(self, now: datetime) -> None:
        self._items = {
            READY: Condition(READY, False, "NotYetReconciled", "starting", now),
            RECONCILING: Condition(RECONCILING, False, "Idle", "", now),
            STALLED: Condition(STALLED, False, "AsExpected", "", now),
        }

    def update(self, facts: Facts, now: datetime) -> None:
        """Derive every condition from `facts`; transition times move only on a status change."""
        for kind, status, reason, message in (
            (READY, *_ready(facts)),
            (RECONCILING, *_reconciling(facts)),
            (STALLED, *_stalled(facts)),
        ):
            old = self._items[kind]
            since = old.last_transition if old.status == status else now
            self._items[kind] = Condition(kind, status, reason, message, since)

    def __getitem__(self, kind: str) -> Condition:
        return self._items[kind]

    def to_list(self) -> list[dict[str, Any]]:
        """The JSON form: a list in the order Ready, Reconciling, Stalled."""
        return [c.to_dict() for c in self._items.values()]


def _reconciling(facts: Facts) -> tuple[bool, str, str]:
    if facts.running is not None:
        return True, "Reconciling", f"reconciling ({facts.running})"
    return False, "Idle", "waiting for a manifest change or the next resync"


def _stalled(facts: Facts) -> tuple[bool, str, str]:
    if facts.manifests_valid is False:
        return True, "ManifestsInvalid", _invalid_message(facts.diagnostics)
    if facts.result in _STALLING:
        return True, _STALLING[facts.result], facts.message
    unreachable = _unreachable(facts.status)
    if unreachable:
        return True, "InstanceUnreachable", unreachable
    return False, "AsExpected", ""


def _ready(facts: Facts) -> tuple[bool, str, str]:
    if facts.result is None:
        return False, "NotYetReconciled", "the first reconcile has not finished"
    if facts.manifests_valid is False:
        return False, "ManifestsInvalid", _invalid_message(facts.diagnostics)
    if facts.result in _STALLING:
        return False, _STALLING[facts.result], facts.message
    status = facts.status
    unhealthy = [i for i in status.instances if i.enabled and not i.health.usable]
    if unhealthy:
        names = ", ".join(f"{i.name} ({i.health})" for i in unhealthy)
        return False, "InstanceUnhealthy", f"not healthy: {names}"
    drifted = [i.name for i in status.instances if i.enabled and i.changes]
    if drifted or status.drift:
        return False, "DriftDetected", f"out of sync: {', '.join(drifted) or 'unknown'}"
    return True, "Reconciled", "every enabled instance is healthy and matches the manifests"


def _invalid_message(diagnostics: Sequence[Diagnostic]) -> str:
    errors = [d for d in diagnostics if d.is_error]
    if not errors:
        return "the manifests are invalid"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{errors[0]}{more}; the last valid manifests stay in force"


def _unreachable(status: Status) -> str:
    failing = [i for i in status.instances if i.enabled and not i.health.usable]
    return "; ".join(f"{i.name}: {i.health} ({i.reason})" for i in failing)
