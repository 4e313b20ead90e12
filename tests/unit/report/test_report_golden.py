"""Golden-file tests of every renderer on a realistic four-instance fleet.

The fleet (conftest.py): gpu-1 healthy with changes of every kind, dev-box unreachable,
workstation disabled, cloud-1 in sync. Regenerate with `pytest tests/unit/report --update-golden`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.plan import Plan, plan
from reconciler.report import (
    build_status,
    render_plan_json,
    render_plan_markdown,
    render_plan_text,
    render_status_json,
    render_status_markdown,
    render_status_table,
)

Golden = Callable[[str, str], None]
Validate = Callable[[str, Any], None]


@pytest.fixture
def fleet_plan(desired: DesiredFleet, observed: ObservedFleet, now: datetime) -> Plan:
    return plan(desired, observed, now=now)


def test_plan_text(fleet_plan: Plan, golden: Golden) -> None:
    golden("plan.txt", render_plan_text(fleet_plan))


def test_plan_markdown(fleet_plan: Plan, golden: Golden) -> None:
    golden("plan.md", render_plan_markdown(fleet_plan))


def test_plan_json_matches_golden_and_schema(
    fleet_plan: Plan, golden: Golden, validate: Validate
) -> None:
    text = render_plan_json(fleet_plan)
    golden("plan.json", text)
    validate("plan.v1.schema.json", json.loads(text))


def test_status_table(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, golden: Golden
) -> None:
    status = build_status(desired, observed, now)
    golden("status.txt", render_status_table(status, width=140))
    golden("status-narrow.txt", render_status_table(status, width=100))
    golden("status-models.txt", render_status_table(status, models=True, width=160))


def test_status_markdown(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, golden: Golden
) -> None:
    golden("status.md", render_status_markdown(build_status(desired, observed, now), models=True))


def test_status_json_matches_golden_and_schema(
    desired: DesiredFleet,
    observed: ObservedFleet,
    now: datetime,
    golden: Golden,
    validate: Validate,
) -> None:
    text = render_status_json(build_status(desired, observed, now))
    golden("status.json", text)
    validate("status.v1.schema.json", json.loads(text))
