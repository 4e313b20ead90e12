"""`run_reconcile` with sync windows: held actions are shown, never carried out, and decide the
ending and exit code; `sync_windows=False` carries them out; a saved plan is judged anew."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.desired import DesiredFleet, DesiredInstance, SyncWindow
from reconciler.errors import ExitCode, RefusedError
from reconciler.names import parse
from reconciler.plan import Action, ActionKind, Hold, InstancePlan, Plan, release_plan
from reconciler.reconcile import Ending, ReconcileHooks, ReconcileRequest, run_reconcile
from tests.support.reconcile_steps import Steps

NO_DELETES = SyncWindow("business-hours", "deny", "0 9 * * 1-5", 9 * 3600, actions=("delete",))
DESIRED = DesiredFleet(instances=(DesiredInstance("a", "http://a"),), sync_windows=(NO_DELETES,))
PULL = Action("a", ActionKind.PULL, parse("llama3.2:3b"), "declared, not installed")
DELETE = Action("a", ActionKind.DELETE, parse("old:7b"), "state: absent")
BOTH = Plan(instances=(InstancePlan("a", "http://a", True, actions=(PULL, DELETE)),))
ONLY_DELETE = Plan(instances=(InstancePlan("a", "http://a", True, actions=(DELETE,)),))
OPEN = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # Monday noon UTC: the deny window is open
CLOSED = datetime(2024, 6, 3, 19, 0, tzinfo=UTC)


def _hooks(at: datetime, shown: list[Plan] | None = None) -> ReconcileHooks:
    plans = shown if shown is not None else []
    return ReconcileHooks(wall=lambda: at, on_plan=plans.append)


async def test_held_actions_are_shown_but_not_carried_out_and_exit_3() -> None:
    steps, shown = Steps(BOTH), []

    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED), _hooks(OPEN, shown))

    assert outcome.ending is Ending.APPLIED
    assert [a.id for a in steps.applied[0].actions] == [PULL.id]
    assert [a.id for a in shown[0].held] == [DELETE.id]
    assert shown[0].held[0].held == Hold(
        "business-hours", "deny", datetime(2024, 6, 3, 18, 0, tzinfo=UTC), "UTC"
    )
    assert outcome.exit_code == ExitCode.PARTIAL


async def test_when_every_change_is_held_nothing_runs_and_the_error_says_why() -> None:
    steps = Steps(ONLY_DELETE)

    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED), _hooks(OPEN))

    assert outcome.ending is Ending.HELD and steps.applied == []
    assert isinstance(outcome.error, RefusedError)
    assert str(outcome.error) == (
        "every change is held back by a sync window: a/delete/old:7b held by sync window "
        '"business-hours" until 2024-06-03 18:00 UTC (wait for the window, or pass '
        "--ignore-sync-windows to carry them out now)"
    )
    assert outcome.exit_code == ExitCode.ERROR


async def test_outside_the_window_everything_is_carried_out() -> None:
    steps = Steps(BOTH)

    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED), _hooks(CLOSED))

    assert [a.id for a in steps.applied[0].actions] == [PULL.id, DELETE.id]
    assert outcome.exit_code == ExitCode.OK


async def test_ignoring_the_windows_carries_out_the_held_actions() -> None:
    steps = Steps(BOTH)
    request = ReconcileRequest(DESIRED, sync_windows=False)

    outcome = await run_reconcile(steps, request, _hooks(OPEN))

    assert [a.id for a in steps.applied[0].actions] == [PULL.id, DELETE.id]
    assert (outcome.plan.held, outcome.exit_code) == ((), ExitCode.OK)


async def test_planning_only_marks_held_actions_and_still_reports_changes() -> None:
    request = ReconcileRequest(DESIRED, apply=False, detailed_exitcode=True)

    outcome = await run_reconcile(Steps(ONLY_DELETE), request, _hooks(OPEN))

    assert outcome.ending is Ending.DRIFT
    assert [a.id for a in outcome.plan.held] == [DELETE.id]
    assert outcome.exit_code == ExitCode.CHANGES


async def test_a_saved_plan_is_judged_when_carried_out_not_when_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The freshness checks have tests of their own; here the saved plan passes them.
    monkeypatch.setattr("reconciler.reconcile.check_fresh", lambda *_: None)
    monkeypatch.setattr("reconciler.reconcile.check_saved_actions", lambda *_: None)
    held_then = replace(DELETE, held=Hold("business-hours", "deny", None, "UTC"))
    saved = Plan(instances=(InstancePlan("a", "http://a", True, actions=(PULL, held_then)),))
    steps = Steps(Plan())

    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED, saved=saved), _hooks(CLOSED))

    assert outcome.plan.held == ()
    assert [a.id for a in steps.applied[0].actions] == [PULL.id, DELETE.id]

    again = Steps(Plan())
    request = ReconcileRequest(DESIRED, saved=release_plan(saved))
    await run_reconcile(again, request, _hooks(OPEN))
    assert [a.id for a in again.applied[0].actions] == [PULL.id]
