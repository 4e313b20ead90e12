"""A Fleet's `spec.syncWindows`: the checks a schema cannot make, and the resolved windows.

Cron schedules and time zones are checked by `reconciler.syncwindows` (croniter and zoneinfo
live there), imported only when a Fleet declares windows; names must be unique, since plans,
logs and status name windows by them.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler import desired
from reconciler.manifest.diagnostics import Diagnostic, FieldPath
from reconciler.manifest.document import YamlDocument
from reconciler.manifest.durations import parse_duration
from reconciler.manifest.models import SyncWindowSpec

PATH: FieldPath = ("spec", "syncWindows")


def window_name(window: SyncWindowSpec, index: int) -> str:
    """The window's own name, or `<kind>-<position>` (1-based), e.g. `deny-1`."""
    return window.name if window.name is not None else f"{window.kind}-{index + 1}"


def check_sync_windows(doc: YamlDocument, windows: Sequence[SyncWindowSpec]) -> list[Diagnostic]:
    """Each window's schedule, time zone and duration, and no name given twice."""
    if not windows:
        return []
    from reconciler.syncwindows import schedule_problem, time_zone_problem

    found: list[Diagnostic] = []
    first: dict[str, int] = {}
    for index, window in enumerate(windows):
        entry: FieldPath = (*PATH, index)
        problem = schedule_problem(window.schedule)
        if problem is not None:
            hint = "e.g. '0 9 * * 1-5' opens at 09:00 Monday to Friday"
            found.append(doc.error((*entry, "schedule"), problem, hint=hint))
        problem = time_zone_problem(window.timeZone)
        if problem is not None:
            found.append(doc.error((*entry, "timeZone"), problem))
        try:
            parse_duration(window.duration)
        except ValueError as exc:
            found.append(doc.error((*entry, "duration"), f"invalid duration: {exc}"))
        name = window_name(window, index)
        if name in first:
            line = doc.span((*PATH, first[name])).line
            where = (*entry, "name") if window.name is not None else entry
            message = f"sync window {name!r} is named twice (first at line {line})"
            found.append(doc.error(where, message))
        else:
            first[name] = index
    return found


def resolve_sync_windows(
    doc: YamlDocument, windows: Sequence[SyncWindowSpec]
) -> tuple[desired.SyncWindow, ...]:
    """The desired windows, durations in seconds (invalid values were reported already)."""
    resolved = []
    for index, window in enumerate(windows):
        try:
            seconds = parse_duration(window.duration)
        except ValueError:
            continue
        resolved.append(
            desired.SyncWindow(
                name=window_name(window, index),
                kind=window.kind,
                schedule=window.schedule.strip(),
                duration=seconds,
                time_zone=window.timeZone,
                actions=tuple(a for a in desired.SYNC_ACTIONS if a in window.actions),
                match_labels=dict(window.instances.matchLabels) if window.instances else {},
                location=doc.location((*PATH, index)),
            )
        )
    return tuple(resolved)
