"""The plan: a pure diff of desired against observed state, and the Plan document it yields.

`plan()` does no I/O (docs/architecture.md, Layers); `Plan.to_dict()`/`Plan.from_dict()` are
the saved form `orc plan --out` writes and `orc apply plan.json` reads.
"""

from __future__ import annotations

from reconciler.plan.diff import is_embedding
from reconciler.plan.document import (
    FORMAT_VERSION,
    Action,
    ActionKind,
    Blocked,
    Hold,
    InstancePlan,
    Plan,
    PlanFormatError,
    Refusal,
    Skipped,
)
from reconciler.plan.planner import guards, observed_for, plan, select
from reconciler.plan.residency import LoadLimit
from reconciler.plan.windows import hold_by_windows, next_release, release_plan

__all__ = [
    "FORMAT_VERSION",
    "Action",
    "ActionKind",
    "Blocked",
    "Hold",
    "InstancePlan",
    "LoadLimit",
    "Plan",
    "PlanFormatError",
    "Refusal",
    "Skipped",
    "guards",
    "hold_by_windows",
    "is_embedding",
    "next_release",
    "observed_for",
    "plan",
    "release_plan",
    "select",
]
