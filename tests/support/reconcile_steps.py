"""A fake of the pipeline's `ReconcileSteps` for unit tests of `run_reconcile`: it plans what it
is told to, applies by recording, and never reaches a server."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.apply import ActionResult, ApplyResult, EventSink, Outcome
from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.plan import Plan


@dataclass
class Steps:
    """Plans `made` first and `verified` when re-planning after the apply; applies by recording.

    `cancel_verify` interrupts the re-plan as Ctrl-C would.
    """

    made: Plan
    verified: Plan = field(default_factory=Plan)
    cancel_verify: bool = False
    plans: list[tuple[str, ...]] = field(default_factory=list)
    applied: list[Plan] = field(default_factory=list)

    async def observe(self, desired: DesiredFleet) -> ObservedFleet:
        return ObservedFleet({})

    async def plan(
        self,
        desired: DesiredFleet,
        targets: Sequence[str] = (),
        selector: Mapping[str, str] | None = None,
    ) -> tuple[ObservedFleet, Plan]:
        self.plans.append(tuple(targets))
        if self.plans[1:] and self.cancel_verify:
            raise asyncio.CancelledError
        return ObservedFleet({}), self.made if len(self.plans) == 1 else self.verified

    async def apply(
        self,
        made: Plan,
        desired: DesiredFleet,
        *,
        parallelism: int | None = None,
        on_event: EventSink | None = None,
    ) -> ApplyResult:
        self.applied.append(made)
        return ApplyResult(tuple(ActionResult(a, Outcome.DONE, attempts=1) for a in made.actions))
