"""`run_reconcile`: where a run stops, what it locks, and the one decision of its exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.errors import ExitCode, RefusedError
from reconciler.names import parse
from reconciler.plan import Action, ActionKind, Blocked, InstancePlan, Plan, Refusal
from reconciler.reconcile import (
    Ending,
    LockScope,
    ReconcileHooks,
    ReconcileRequest,
    run_reconcile,
)
from tests.support.reconcile_steps import Steps

DESIRED = DesiredFleet(
    instances=(DesiredInstance("a", "http://a"), DesiredInstance("b", "http://b"))
)
PULL = Action(instance="a", kind=ActionKind.PULL, model=parse("llama3.2:3b"), reason="test")
CHANGES = Plan(instances=(InstancePlan("a", "http://a", True, actions=(PULL,)),))
SYNCED = Plan(instances=(InstancePlan("a", "http://a", True),))
BLOCKED_B = InstancePlan("b", "http://b", True, blocked=Blocked("b", "Unreachable", "refused"))
REFUSED = Plan(
    instances=CHANGES.instances, refusals=(Refusal(None, "maxDeletions", "too many deletions"),)
)


class Lock:
    """A state lock that records being held, or refuses like a held one."""

    def __init__(self, held_elsewhere: bool = False) -> None:
        self.held_elsewhere = held_elsewhere
        self.taken = 0

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if self.held_elsewhere:
            raise RefusedError("another apply is running")
        self.taken += 1
        yield


async def test_a_refused_plan_is_never_applied_nor_locked() -> None:
    steps, lock = Steps(REFUSED, SYNCED), Lock()
    request = ReconcileRequest(DESIRED, lock_scope=LockScope.APPLY)

    outcome = await run_reconcile(steps, request, ReconcileHooks(lock=lock.__call__))

    assert outcome.ending is Ending.REFUSED
    assert isinstance(outcome.error, RefusedError) and "too many deletions" in str(outcome.error)
    assert outcome.exit_code == ExitCode.ERROR
    assert (steps.applied, lock.taken) == ([], 0)


async def test_plan_only_refused_exits_1_without_an_error_to_show() -> None:
    outcome = await run_reconcile(Steps(REFUSED, SYNCED), ReconcileRequest(DESIRED, apply=False))
    assert (outcome.ending, outcome.error, outcome.exit_code) == (Ending.REFUSED, None, 1)


async def test_declining_changes_nothing() -> None:
    steps, lock = Steps(CHANGES, SYNCED), Lock()
    request = ReconcileRequest(DESIRED, lock_scope=LockScope.APPLY)
    asked: list[Plan] = []

    def confirm(made: Plan) -> bool:
        asked.append(made)
        return False

    hooks = ReconcileHooks(confirm=confirm, lock=lock.__call__)
    outcome = await run_reconcile(steps, request, hooks)

    assert (outcome.ending, outcome.exit_code, asked) == (Ending.DECLINED, 0, [CHANGES])
    assert (steps.applied, lock.taken) == ([], 0)


async def test_a_held_lock_skips_only_the_apply() -> None:
    steps = Steps(CHANGES, SYNCED)
    request = ReconcileRequest(DESIRED, lock_scope=LockScope.APPLY)

    outcome = await run_reconcile(steps, request, ReconcileHooks(lock=Lock(True).__call__))

    assert outcome.ending is Ending.LOCKED and outcome.plan == CHANGES
    assert outcome.exit_code == ExitCode.ERROR
    assert steps.applied == []


async def test_a_synced_run_does_not_need_the_apply_lock() -> None:
    request = ReconcileRequest(DESIRED, lock_scope=LockScope.APPLY)
    outcome = await run_reconcile(
        Steps(SYNCED, SYNCED), request, ReconcileHooks(lock=Lock(True).__call__)
    )
    assert (outcome.ending, outcome.exit_code) == (Ending.SYNCED, 0)


async def test_the_run_lock_is_taken_before_planning() -> None:
    steps = Steps(CHANGES, SYNCED)
    outcome = await run_reconcile(
        steps, ReconcileRequest(DESIRED), ReconcileHooks(lock=Lock(True).__call__)
    )
    assert outcome.ending is Ending.LOCKED and steps.plans == []


async def test_applied_then_verified_on_the_touched_instances() -> None:
    steps, lock = Steps(CHANGES, SYNCED), Lock()
    events: list[str] = []
    hooks = ReconcileHooks(
        lock=lock.__call__,
        on_apply=lambda made: events.append("apply"),
        on_applied=lambda result: events.append("applied"),
    )

    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED), hooks)

    assert outcome.ending is Ending.APPLIED and outcome.verified == SYNCED
    assert (steps.plans, lock.taken, events) == ([(), ("a",)], 1, ["apply", "applied"])
    assert outcome.exit_code == ExitCode.OK


async def test_blocked_instances_make_a_clean_apply_partial() -> None:
    made = Plan(instances=(*CHANGES.instances, BLOCKED_B))
    outcome = await run_reconcile(Steps(made, SYNCED), ReconcileRequest(DESIRED))
    assert outcome.exit_code == ExitCode.PARTIAL


async def test_nothing_to_do_because_blocked_is_an_error_when_applying() -> None:
    made = Plan(instances=(*SYNCED.instances, BLOCKED_B))
    outcome = await run_reconcile(Steps(made, SYNCED), ReconcileRequest(DESIRED))
    assert outcome.ending is Ending.BLOCKED
    assert isinstance(outcome.error, RefusedError) and outcome.exit_code == ExitCode.ERROR


async def test_ctrl_c_while_verifying_exits_130_after_the_apply() -> None:
    steps = Steps(CHANGES, SYNCED, cancel_verify=True)
    outcome = await run_reconcile(steps, ReconcileRequest(DESIRED))
    assert outcome.ending is Ending.APPLIED and outcome.result is not None
    assert outcome.verified is None
    assert outcome.exit_code == ExitCode.INTERRUPTED
    assert len(steps.applied) == 1


@pytest.mark.parametrize(
    ("made", "detailed", "code"),
    [(SYNCED, False, 0), (SYNCED, True, 0), (CHANGES, False, 0), (CHANGES, True, 2)],
)
async def test_plan_only_exit_codes(made: Plan, detailed: bool, code: int) -> None:
    request = ReconcileRequest(DESIRED, apply=False, detailed_exitcode=detailed)
    steps = Steps(made, SYNCED)
    outcome = await run_reconcile(steps, request)
    assert outcome.exit_code == code
    assert steps.applied == []


async def test_plan_only_with_every_instance_blocked_is_an_error() -> None:
    made = Plan(instances=(BLOCKED_B,))
    outcome = await run_reconcile(Steps(made, SYNCED), ReconcileRequest(DESIRED, apply=False))
    assert isinstance(outcome.error, RefusedError)
    assert "nothing could be planned" in str(outcome.error)
