"""Sync windows: when a Fleet lets `orc` carry out which actions (the model of Argo CD's).

A window opens at every time its cron `schedule` names, read on the wall clock of its
`timeZone`, and stays open for `duration` (elapsed time, so a window that spans a DST change
lasts exactly as long as written). Of the windows that cover an action on an instance, any open
`deny` window holds the action back, and so does having `allow` windows none of which is open;
with neither kind the action goes ahead. Deny wins over allow.

Daylight saving time: a start that falls in the hour a DST change skips happens that much later
on the wall clock (02:30 becomes 03:30), and a start in the hour that repeats happens once, the
first time round (Python's `fold=0`, as PEP 495 defines it).

The look-ahead is bounded: a window still open a year on, or after 5000 openings in a row
(`* * * * *` with `duration: 1m` never closes), is reported as having no end (None).

Pure functions of the time passed in; croniter (iteration) and zoneinfo (time zones) do the
calendar work, here and nowhere else. croniter is imported on first use, so that loading and
planning a fleet without sync windows never pays for it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from reconciler.desired import SyncWindow

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# Wall time and UTC differ by at most a day; offsets change by at most a few hours at once.
_MARGIN = timedelta(hours=3)
_MAX_STEPS = 5000  # fires looked at in one search; a window chained longer never closes
_HORIZON = timedelta(days=400)  # a window still open this far ahead is reported as never closing
_MAX_HOPS = 64  # deny ends and allow openings tried when looking for a release


def schedule_problem(schedule: str) -> str | None:
    """Why `schedule` is not a usable 5-field cron expression (None: it is)."""
    from croniter import CroniterError, croniter

    text = schedule.strip()
    if text.startswith("@"):
        if text not in DESCRIPTORS:
            return f"unknown cron descriptor {text!r}: use one of {', '.join(DESCRIPTORS)}"
    elif len(text.split()) != 5:
        return (
            f"a cron schedule has 5 fields (minute hour day-of-month month day-of-week), "
            f"found {len(text.split())}"
        )
    if not croniter.is_valid(text):
        return f"invalid cron schedule {schedule!r}"
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterError:
        return f"the cron schedule {schedule!r} never fires"
    return None


def time_zone_problem(name: str) -> str | None:
    """Why `name` is not a known IANA time zone (None: it is)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or UTC"
    return None


@dataclass(frozen=True, slots=True)
class Span:
    """One period a window is open: from `start` until `end` (None: not within the look-ahead)."""

    window: SyncWindow
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Hold:
    """Why an action waits: the window that holds it, and when it may go ahead (None: not
    within the look-ahead). `until` is in the window's time zone."""

    window: SyncWindow
    until: datetime | None


def open_span(window: SyncWindow, at: datetime) -> Span | None:
    """The period of `window` that is open at `at` (start inclusive, end exclusive), if any."""
    start = _latest_start(window, at)
    if start is None or start + timedelta(seconds=window.duration) <= at:
        return None
    return Span(window, _local(window, start), _close(window, start))


def next_start(window: SyncWindow, after: datetime) -> datetime | None:
    """The first time `window` opens strictly after `after`, in its time zone."""
    found: datetime | None = None
    local_after = _naive(window, after)
    for step, naive in enumerate(_fires(window, local_after - _MARGIN, forward=True)):
        if step >= _MAX_STEPS or (found is not None and naive > local_after + _MARGIN):
            break
        instant = _instant(window, naive)
        if instant > after and (found is None or instant < found):
            found = instant
    return None if found is None else _local(window, found)


def hold(
    windows: Sequence[SyncWindow], labels: Mapping[str, str], action: str, at: datetime
) -> Hold | None:
    """Whether the windows hold back `action` on an instance with `labels` at `at`, and until
    when; None when it may be carried out now."""
    ruling = tuple(w for w in windows if w.covers(labels, action))
    denied = [w for w in ruling if w.kind == "deny" and open_span(w, at) is not None]
    allows = [w for w in ruling if w.kind == "allow"]
    if not denied and not _closed(allows, at):
        return None
    until = release(ruling, at)
    if denied:
        return Hold(denied[0], until)
    return Hold(_first_to_open(allows, at), until)


def release(ruling: Sequence[SyncWindow], at: datetime) -> datetime | None:
    """The first time from `at` on at which these windows no longer hold an action back."""
    moment = at
    for _ in range(_MAX_HOPS):
        candidates: list[datetime] = []
        for window in ruling:
            span = open_span(window, moment)
            if window.kind == "deny" and span is not None:
                if span.end is None:
                    return None
                candidates.append(span.end)
        allows = [w for w in ruling if w.kind == "allow"]
        if _closed(allows, moment):
            candidates += [s for s in (next_start(w, moment) for w in allows) if s is not None]
        if not candidates:
            return None
        moment = min(candidates)
        if not _held(ruling, moment):
            return moment
    return None


def _held(ruling: Sequence[SyncWindow], at: datetime) -> bool:
    if any(w.kind == "deny" and open_span(w, at) is not None for w in ruling):
        return True
    return _closed([w for w in ruling if w.kind == "allow"], at)


def _closed(allows: Sequence[SyncWindow], at: datetime) -> bool:
    """Whether there are allow windows and none of them is open."""
    return bool(allows) and all(open_span(w, at) is None for w in allows)


def _first_to_open(allows: Sequence[SyncWindow], at: datetime) -> SyncWindow:
    def opening(window: SyncWindow) -> datetime:
        start = next_start(window, at)
        return start if start is not None else datetime.max.replace(tzinfo=UTC)

    return min(allows, key=opening)


def _latest_start(window: SyncWindow, at: datetime) -> datetime | None:
    """The latest opening at or before `at` (an instant), if the schedule ever fired."""
    found: datetime | None = None
    local_at = _naive(window, at)
    for step, naive in enumerate(_fires(window, local_at + _MARGIN, forward=False)):
        if step >= _MAX_STEPS or (found is not None and naive < local_at - _MARGIN):
            break
        instant = _instant(window, naive)
        if instant <= at and (found is None or instant > found):
            found = instant
    return found


def _close(window: SyncWindow, start: datetime) -> datetime | None:
    """When the period opened at `start` closes, later openings that overlap it included."""
    length = timedelta(seconds=window.duration)
    end = start + length
    for step, naive in enumerate(_fires(window, _naive(window, start), forward=True)):
        instant = _instant(window, naive)
        if step >= _MAX_STEPS or end - start > _HORIZON:
            return None
        if instant > end and naive > _naive(window, end) + _MARGIN:
            break
        if instant <= end:  # opens again before (or as) it closes: one period
            end = max(end, instant + length)
    return _local(window, end)


def _fires(window: SyncWindow, start: datetime, *, forward: bool) -> Iterator[datetime]:
    """Wall-clock times the schedule names, after (or before) the naive `start`."""
    from croniter import CroniterError, croniter

    try:
        it = croniter(window.schedule.strip(), start)
        while True:
            yield it.get_next(datetime) if forward else it.get_prev(datetime)
    except CroniterError:  # no further fire (a checked schedule always has one)
        return


def _zone(window: SyncWindow) -> ZoneInfo:
    return ZoneInfo(window.time_zone)


def _naive(window: SyncWindow, instant: datetime) -> datetime:
    """The wall-clock reading of `instant` in the window's time zone, without the zone."""
    return instant.astimezone(_zone(window)).replace(tzinfo=None)


def _instant(window: SyncWindow, naive: datetime) -> datetime:
    """The instant a wall-clock reading in the window's zone stands for (fold=0), in UTC."""
    return naive.replace(tzinfo=_zone(window)).astimezone(UTC)


def _local(window: SyncWindow, instant: datetime) -> datetime:
    return instant.astimezone(_zone(window))
