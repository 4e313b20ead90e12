"""Actions a sync window holds back: marked in the plan, shown by every renderer, read back.

Without windows the documents are the golden files' (test_report_golden.py); here the golden
fleet meets a deny window for business hours on its GPU instance.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from reconciler.desired import DesiredFleet, SyncWindow
from reconciler.observed import ObservedFleet
from reconciler.plan import ActionKind, Plan, hold_by_windows, plan, release_plan
from reconciler.report import render_plan_json, render_plan_markdown, render_plan_text

BUSINESS = SyncWindow(
    "business-hours",
    "deny",
    "0 9 * * 1-5",
    9 * 3600,
    "Europe/Berlin",
    actions=("pull", "delete"),
    match_labels={"tier": "gpu"},
)
MONDAY_NOON = datetime(2024, 6, 3, 10, 0, tzinfo=UTC)  # 12:00 in Berlin


def _windowed(desired: DesiredFleet, observed: ObservedFleet, at: datetime) -> Plan:
    with_window = replace(desired, sync_windows=(BUSINESS,))
    return hold_by_windows(plan(with_window, observed, now=at), with_window, at)


def test_only_the_covered_actions_of_the_selected_instance_are_held(
    desired: DesiredFleet, observed: ObservedFleet
) -> None:
    made = _windowed(desired, observed, MONDAY_NOON)

    held = {(a.instance, a.kind) for a in made.held}
    assert held == {("gpu-1", ActionKind.PULL), ("gpu-1", ActionKind.DELETE)}
    carried = made.without_held()
    assert {a.kind for a in carried.actions} == {ActionKind.CREATE, ActionKind.LOAD}
    assert made.has_changes and made.counts == plan(desired, observed, now=MONDAY_NOON).counts


def test_outside_the_window_nothing_is_held(desired: DesiredFleet, observed: ObservedFleet) -> None:
    evening = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)  # 19:00 in Berlin
    assert _windowed(desired, observed, evening).held == ()


def test_text_shows_the_window_and_when_it_closes(
    desired: DesiredFleet, observed: ObservedFleet
) -> None:
    text = render_plan_text(_windowed(desired, observed, MONDAY_NOON))

    pulls = [line for line in text.splitlines() if line.strip().startswith("+ pull")]
    assert pulls
    for line in pulls:
        assert line.endswith('(held by sync window "business-hours" until 18:00 Europe/Berlin)')
    creates = [line for line in text.splitlines() if "create" in line and "~" in line]
    assert creates and not any("held" in line for line in creates)
    held = sum(1 for line in text.splitlines() if "held by sync window" in line)
    assert text.splitlines()[-1].endswith(f" {held} held back by sync windows.")


def test_a_window_closing_on_another_day_shows_the_date(
    desired: DesiredFleet, observed: ObservedFleet
) -> None:
    friday_night = replace(BUSINESS, name="weekend", schedule="0 18 * * 5", duration=63 * 3600)
    with_window = replace(desired, sync_windows=(friday_night,))
    at = datetime(2024, 6, 8, 10, 0, tzinfo=UTC)  # Saturday
    text = render_plan_text(hold_by_windows(plan(with_window, observed, now=at), with_window, at))
    assert 'held by sync window "weekend" until 2024-06-10 09:00 Europe/Berlin' in text


def test_markdown_counts_the_held_changes(desired: DesiredFleet, observed: ObservedFleet) -> None:
    made = _windowed(desired, observed, MONDAY_NOON)
    n = len([a for a in made.actions if a.instance == "gpu-1"])
    h = len(made.held)

    markdown = render_plan_markdown(made)

    assert f"{n} changes, {h} held by sync windows" in markdown
    assert '(held by sync window "business-hours" until 18:00 Europe/Berlin)' in markdown


def test_json_carries_the_hold_validates_and_reads_back(
    desired: DesiredFleet, observed: ObservedFleet, validate: Callable[[str, Any], None]
) -> None:
    made = _windowed(desired, observed, MONDAY_NOON)
    document = json.loads(render_plan_json(made))

    validate("plan.v1.schema.json", document)
    holds = [a["held"] for i in document["instances"] for a in i["actions"] if "held" in a]
    assert len(holds) == len(made.held)
    assert holds[0] == {
        "window": "business-hours",
        "kind": "deny",
        "until": "2024-06-03T18:00:00+02:00",
        "timeZone": "Europe/Berlin",
    }
    assert Plan.from_dict(document) == made


def test_deciding_again_replaces_the_old_holds(
    desired: DesiredFleet, observed: ObservedFleet
) -> None:
    made = _windowed(desired, observed, MONDAY_NOON)
    with_window = replace(desired, sync_windows=(BUSINESS,))
    evening = datetime(2024, 6, 3, 17, 0, tzinfo=UTC)

    assert hold_by_windows(made, with_window, evening).held == ()
    assert hold_by_windows(made, desired, MONDAY_NOON).held == ()  # the window was removed
    assert release_plan(made).held == ()
    assert release_plan(made).actions == plan(desired, observed, now=MONDAY_NOON).actions
