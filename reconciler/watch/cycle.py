"""One reconcile of `orc watch`: read the manifests, then the reconcile pipeline, then report.

Invalid manifests never reach the planner: the last valid desired state stays in force and the
diagnostics go to the log and the status. A plan refused by a guard is reported, never applied.
In apply mode a plan with changes is carried out under the state lock (deletions a manifest
change caused first wait the Fleet's pruneDelay, see prunedelay.py); when a manual `orc apply`
holds it, this cycle's apply is skipped and reported. Instances waiting out a backoff are left out
of the cycle, so an unreachable server never holds up the others. Actions the Fleet's sync
windows hold back are planned, reported (status, logs) and not made; the loop reconciles again
when the next window opens. Planning, guards, windows, the lock and the apply are
`reconciler.reconcile.run_reconcile`'s, as for `orc apply`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from reconciler.apply import (
    ActionFinished,
    ActionRetry,
    ApplyResult,
    Event,
    Outcome,
)
from reconciler.desired import DesiredFleet
from reconciler.errors import ExitCode, ReconcilerError
from reconciler.notify import Notifier
from reconciler.observed import ObservedFleet
from reconciler.plan import Plan
from reconciler.reconcile import (
    Ending,
    LockScope,
    ReconcileHooks,
    ReconcileOutcome,
    ReconcileRequest,
    ReconcileSteps,
    outcome_facts,
    run_reconcile,
)
from reconciler.watch.heldback import HeldBack
from reconciler.watch.logs import EventLog
from reconciler.watch.manifests import ManifestReader
from reconciler.watch.prunedelay import PruneDelay
from reconciler.watch.record import CycleSummary, WatchRecord
from reconciler.watch.results import Result
from reconciler.watch.schedule import Backoffs, Due


class Mode(StrEnum):
    """`apply` heals drift; `plan` only reports it."""

    APPLY = "apply"
    PLAN = "plan"


__all__ = ["ApplyLocks", "Cycle", "FleetReconciler", "Mode"]

FleetReconciler = ReconcileSteps  # what the loop needs of a Reconciler (tests pass a fake)
# The locks an apply of this plan needs (the state directory's, the servers' it changes).
ApplyLocks = Callable[[Plan, DesiredFleet], AbstractContextManager[object]]
_RESULTS = {ExitCode.OK: Result.APPLIED, ExitCode.PARTIAL: Result.PARTIAL}


@dataclass
class Cycle:
    """Runs reconciles one at a time for the loop, writing what it learns into the record."""

    mode: Mode
    reconciler: FleetReconciler
    manifests: ManifestReader
    record: WatchRecord
    backoffs: Backoffs
    clock: Callable[[], float]
    wall: Callable[[], datetime]
    lock: ApplyLocks | None = None
    log: EventLog = field(default_factory=EventLog)
    deletions: PruneDelay = field(default_factory=PruneDelay)
    notifier: Notifier | None = None  # tells the Fleet's receivers after each reconcile
    count: int = 0
    _window_due: float | None = None

    async def run(self, due: Due) -> CycleSummary:
        """One reconcile for `due`; every failure ends as the summary's result, never raised."""
        self.count += 1
        started, started_at, trigger = self.clock(), self.wall(), due.describe()
        self.record.running = trigger
        self.record.refresh(started_at, rebuild=False)
        self.log.info("reconcile.started", number=self.count, trigger=trigger)
        try:
            result, message = await self._reconcile(due)
        except asyncio.CancelledError:
            self._finish(Result.INTERRUPTED, "stopped", trigger, started, started_at)
            raise
        except ReconcilerError as exc:
            result, message = Result.ERROR, str(exc)
        except Exception as exc:  # the daemon must stay up; the cause is reported
            result, message = Result.ERROR, f"unexpected {type(exc).__name__}: {exc}"
        return self._finish(result, message, trigger, started, started_at)

    def _finish(
        self, result: Result, message: str, trigger: str, started: float, started_at: datetime
    ) -> CycleSummary:
        duration = self.clock() - started
        summary = CycleSummary(
            self.count, trigger, result, message, started_at, self.wall(), duration
        )
        self.record.finished(summary)
        self.record.last_progress = self.clock()
        self.record.refresh(summary.finished_at)
        log = self.log.info if result in _GOOD else self.log.warning
        log(
            "reconcile.finished",
            number=self.count,
            result=str(result),
            duration=round(duration, 3),
            message=message,
        )
        return summary

    async def _reconcile(self, due: Due) -> tuple[Result, str]:
        desired = await self.manifests.read(due, self.record, self.backoffs)
        if desired is None:
            return Result.INVALID, "no valid manifests have been read yet"
        targets = self._targets(desired, due)
        if targets is None:
            return Result.BLOCKED, "every instance is waiting out its backoff"
        request = ReconcileRequest(
            desired, targets, apply=self.mode is Mode.APPLY, lock_scope=LockScope.APPLY
        )
        hooks = ReconcileHooks(
            apply_lock=self._apply_lock(desired),
            hold_back=(lambda made: self._hold_deletions(made, desired))
            if self.mode is Mode.APPLY
            else None,
            on_observed=self._absorb,
            on_apply=self._apply_started,
            on_event=self._on_event,
            on_applied=self._apply_finished,
            on_outcome=self._notify,
            wall=self.wall,
        )
        outcome = await run_reconcile(self.reconciler, request, hooks)
        held = self._held_back(outcome.plan)
        result, message = self._result(outcome)
        return result, held.note(self.deletions.note(message))

    def _held_back(self, made: Plan) -> HeldBack:
        """Record and log what the sync windows hold back; a reconcile is due when one opens."""
        held = HeldBack.of(made)
        self.record.held_back = held
        held.log(self.log)
        self._window_due = held.due(self.clock(), self.wall()) if self.mode is Mode.APPLY else None
        return held

    def window_due(self) -> float | None:
        """When the next sync window opens for held actions (monotonic), if any."""
        return self._window_due

    def _notify(self, outcome: ReconcileOutcome) -> None:
        """Queue the notifications of this reconcile (never waits for their delivery)."""
        if self.notifier is None:
            return
        manifests = self.record.manifests
        invalid = [] if manifests.valid is not False else manifests.diagnostics
        errors = tuple(str(d) for d in invalid if d.is_error)
        try:
            self.notifier.reconciled(outcome.request.desired, outcome_facts(outcome, errors))
        except Exception as exc:  # telling people must never break the reconcile
            self.log.error("notify.failed", error=f"{type(exc).__name__}: {exc}")

    def _apply_lock(
        self, desired: DesiredFleet
    ) -> Callable[[Plan], AbstractContextManager[object]] | None:
        """The locks of an apply of `desired`'s plan, taken right before it starts."""
        lock = self.lock
        return None if lock is None else (lambda made: lock(made, desired))

    def _hold_deletions(self, made: Plan, desired: DesiredFleet) -> Plan:
        """The plan less the deletions a manifest change caused, which wait (prunedelay.py)."""
        held = self.deletions.hold(made, desired, self.clock(), self.wall())
        self.record.pending_deletions = self.deletions.pending
        return held

    def _targets(self, desired: DesiredFleet, due: Due) -> tuple[str, ...] | None:
        """The instances to reconcile: () for all, None for none."""
        names = [i.name for i in desired.instances]
        if due.full:
            waiting = self.backoffs.waiting(self.clock())
            chosen = [n for n in names if n not in waiting]
        else:
            chosen = [n for n in names if n in due.retries]
        if len(chosen) == len(names):
            return ()
        return tuple(chosen) or None

    def _absorb(self, observed: ObservedFleet) -> None:
        now = self.clock()
        before = self.record.absorb(observed)
        for name, seen in sorted(observed.instances.items()):
            old = before.get(name)
            if old is None or old.health is not seen.health:
                log = self.log.info if seen.health.usable else self.log.warning
                log(
                    "instance.health",
                    instance=name,
                    health=str(seen.health),
                    previous=str(old.health) if old else None,
                    reason=seen.reason or None,
                    message=seen.message or None,
                )
            if seen.inventory_known:
                self.backoffs.recovered(name)
            else:
                delay = self.backoffs.failed(name, now)
                self.log.info("instance.backoff", instance=name, retry_in=round(delay, 3))

    def _result(self, outcome: ReconcileOutcome) -> tuple[Result, str]:
        made = outcome.plan
        if outcome.ending is Ending.REFUSED:
            for refusal in made.refusals:
                self.log.warning(
                    "plan.refused",
                    guard=refusal.guard,
                    instance=refusal.instance,
                    message=refusal.message,
                )
            return Result.REFUSED, "; ".join(r.message for r in made.refusals)
        if outcome.ending is Ending.BLOCKED:
            names = ", ".join(p.instance for p in made.blocked)
            return Result.BLOCKED, f"no changes; could not be planned: {names}"
        if outcome.ending is Ending.DRIFT:
            drifted = [p.instance for p in made.instances if p.actions]
            self.log.info("plan.drift", summary=made.summary(), instances=drifted)
            return Result.DRIFT, made.summary()
        if outcome.ending is Ending.HELD:
            return Result.HELD, made.summary()
        if outcome.ending is Ending.LOCKED:
            self.log.warning("apply.skipped", reason="locked", message=str(outcome.error))
            return Result.LOCKED, f"apply skipped: {outcome.error}"
        result = outcome.result
        if result is None:
            return Result.SYNCED, made.summary()
        if result.interrupted or outcome.verified is None:
            raise asyncio.CancelledError
        return _RESULTS.get(result.exit_code, Result.FAILED), result.summary()

    def _apply_started(self, made: Plan) -> None:
        self.log.info("apply.started", actions=len(made.actions), summary=made.summary())

    def _apply_finished(self, result: ApplyResult | None) -> None:
        if result is not None and not result.interrupted:
            self.log.info("apply.finished", summary=result.summary())

    def _on_event(self, event: Event) -> None:
        self.record.last_progress = self.clock()
        if isinstance(event, ActionRetry):
            a = event.action
            self.log.info(
                "action.retry",
                instance=a.instance,
                kind=str(a.kind),
                model=a.model.display,
                attempt=event.attempt,
                delay=round(event.delay, 3),
                error=event.error,
            )
        elif isinstance(event, ActionFinished):
            r = event.result
            a = r.action
            fields = {"instance": a.instance, "kind": str(a.kind), "model": a.model.display}
            if r.outcome is Outcome.DONE:
                self.log.info("action.done", **fields, seconds=round(r.seconds, 3))
            else:
                self.log.warning(f"action.{r.outcome}", **fields, error=r.error)


_GOOD = {Result.SYNCED, Result.APPLIED, Result.DRIFT, Result.HELD}
