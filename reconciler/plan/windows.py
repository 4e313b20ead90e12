"""Sync windows applied to a plan: each action they hold back is marked with a `Hold`.

Held actions stay in the plan (it still shows the drift, and `--detailed-exitcode` still
reports it); `Plan.without_held()` is what is carried out. The decision belongs to the moment
of carrying out, so marking a plan replaces whatever holds it had (a saved plan's included).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from reconciler.desired import DesiredFleet
from reconciler.plan.document import Action, Hold, Plan


def hold_by_windows(made: Plan, desired: DesiredFleet, now: datetime) -> Plan:
    """`made` with every action marked as the Fleet's sync windows decide at `now`."""
    if not desired.sync_windows and not made.held:
        return made
    decided: dict[tuple[str, str], Hold | None] = {}
    instances = []
    for ip in made.instances:
        declared = desired.instance(ip.instance)
        labels = dict(declared.labels) if declared is not None else {}
        actions = []
        for action in ip.actions:
            key = (ip.instance, action.kind.value)
            if key not in decided:
                decided[key] = _hold(desired, labels, action, now)
            actions.append(replace(action, held=decided[key]))
        instances.append(replace(ip, actions=tuple(actions)))
    return replace(made, instances=tuple(instances))


def release_plan(made: Plan) -> Plan:
    """`made` with no action held (`--ignore-sync-windows`)."""
    if not made.held:
        return made
    instances = tuple(
        replace(ip, actions=tuple(replace(a, held=None) for a in ip.actions))
        for ip in made.instances
    )
    return replace(made, instances=instances)


def next_release(made: Plan) -> datetime | None:
    """The earliest time a held action of `made` may go ahead (None: none within the look-ahead)."""
    times = [a.held.until for a in made.held if a.held is not None and a.held.until is not None]
    return min(times, default=None)


def _hold(
    desired: DesiredFleet, labels: dict[str, str], action: Action, now: datetime
) -> Hold | None:
    # the calendar (croniter, zoneinfo) is loaded only for a Fleet that declares windows
    from reconciler.syncwindows import hold

    found = hold(desired.sync_windows, labels, action.kind.value, now)
    if found is None:
        return None
    window = found.window
    return Hold(window.name, window.kind, found.until, window.time_zone)
