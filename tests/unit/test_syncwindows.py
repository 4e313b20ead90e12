"""Sync windows on a fixed clock: open and closed, deny over allow, selectors, DST, releases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from reconciler.desired import SyncWindow
from reconciler.syncwindows import (
    hold,
    next_start,
    open_span,
    release,
    schedule_problem,
    time_zone_problem,
)

BERLIN = ZoneInfo("Europe/Berlin")
# Monday to Friday, 09:00 to 18:00 Berlin time
BUSINESS = SyncWindow("business-hours", "deny", "0 9 * * 1-5", 9 * 3600, "Europe/Berlin")
NIGHTS = SyncWindow("nights", "allow", "0 22 * * *", 8 * 3600, "Europe/Berlin")


def berlin(*args: int) -> datetime:
    return datetime(*args, tzinfo=BERLIN)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        (berlin(2024, 6, 3, 8, 59, 59), False),  # Monday, a second before it opens
        (berlin(2024, 6, 3, 9, 0), True),  # the start belongs to the window
        (berlin(2024, 6, 3, 17, 59, 59), True),
        (berlin(2024, 6, 3, 18, 0), False),  # the end does not
        (berlin(2024, 6, 8, 12, 0), False),  # Saturday
    ],
)
def test_a_window_is_open_from_its_start_for_its_duration(at: datetime, is_open: bool) -> None:
    assert (open_span(BUSINESS, at.astimezone(UTC)) is not None) is is_open


def test_the_open_span_is_shown_in_the_windows_time_zone() -> None:
    span = open_span(BUSINESS, datetime(2024, 6, 3, 12, 0, tzinfo=UTC))
    assert span is not None
    assert (span.start, span.end) == (berlin(2024, 6, 3, 9, 0), berlin(2024, 6, 3, 18, 0))
    assert span.end is not None and span.end.tzinfo == BERLIN


def test_next_start_skips_the_weekend() -> None:
    friday_evening = berlin(2024, 6, 7, 18, 30).astimezone(UTC)
    assert next_start(BUSINESS, friday_evening) == berlin(2024, 6, 10, 9, 0)


def test_a_deny_window_holds_until_it_closes() -> None:
    found = hold([BUSINESS], {}, "pull", berlin(2024, 6, 3, 10, 0).astimezone(UTC))
    assert found is not None
    assert (found.window.name, found.until) == ("business-hours", berlin(2024, 6, 3, 18, 0))
    assert hold([BUSINESS], {}, "pull", berlin(2024, 6, 3, 18, 0).astimezone(UTC)) is None


def test_outside_every_allow_window_actions_wait_for_the_next_opening() -> None:
    found = hold([NIGHTS], {}, "delete", berlin(2024, 6, 3, 12, 0).astimezone(UTC))
    assert found is not None
    assert (found.window.name, found.until) == ("nights", berlin(2024, 6, 3, 22, 0))
    assert hold([NIGHTS], {}, "delete", berlin(2024, 6, 4, 5, 59).astimezone(UTC)) is None


def test_deny_wins_over_an_open_allow_window() -> None:
    all_day = SyncWindow("all-day", "allow", "0 0 * * *", 24 * 3600, "Europe/Berlin")
    found = hold([all_day, BUSINESS], {}, "pull", berlin(2024, 6, 3, 10, 0).astimezone(UTC))
    assert found is not None and found.window.name == "business-hours"


def test_a_release_must_satisfy_every_window_at_once() -> None:
    # Held by the deny window until 18:00, then outside the allow window until 22:00.
    found = hold([NIGHTS, BUSINESS], {}, "pull", berlin(2024, 6, 3, 10, 0).astimezone(UTC))
    assert found is not None and found.until == berlin(2024, 6, 3, 22, 0)


def test_a_window_rules_only_over_its_actions_and_instances() -> None:
    gpu_pulls = SyncWindow(
        "gpu-pulls",
        "deny",
        "0 9 * * 1-5",
        9 * 3600,
        "Europe/Berlin",
        actions=("pull",),
        match_labels={"tier": "gpu"},
    )
    noon = berlin(2024, 6, 3, 12, 0).astimezone(UTC)
    assert hold([gpu_pulls], {"tier": "gpu"}, "pull", noon) is not None
    assert hold([gpu_pulls], {"tier": "gpu"}, "delete", noon) is None
    assert hold([gpu_pulls], {"tier": "cpu"}, "pull", noon) is None
    assert hold([gpu_pulls], {}, "pull", noon) is None


def test_openings_that_overlap_make_one_period() -> None:
    hourly_90m = SyncWindow("overlap", "deny", "0 * * * *", 90 * 60)
    span = open_span(hourly_90m, datetime(2024, 6, 3, 12, 10, tzinfo=UTC))
    assert span is not None and span.end is None  # it never closes: reported as such
    found = hold([hourly_90m], {}, "pull", datetime(2024, 6, 3, 12, 10, tzinfo=UTC))
    assert found is not None and found.until is None


def test_a_window_that_reopens_as_it_closes_is_one_period() -> None:
    # 09:00 for 1h, 10:00 for 1h: no gap between them.
    two = SyncWindow("two", "deny", "0 9,10 * * *", 3600)
    span = open_span(two, datetime(2024, 6, 3, 9, 30, tzinfo=UTC))
    assert span is not None and span.end == datetime(2024, 6, 3, 11, 0, tzinfo=UTC)


# ------------------------------------------------------------------ daylight saving time


def test_wall_clock_start_follows_dst_elapsed_duration_does_not() -> None:
    # Berlin moves to summer time on 2024-03-31: 09:00 is 08:00 UTC before, 07:00 UTC after.
    before = open_span(BUSINESS, datetime(2024, 3, 29, 8, 0, tzinfo=UTC))
    after = open_span(BUSINESS, datetime(2024, 4, 1, 7, 0, tzinfo=UTC))
    assert before is not None and after is not None
    assert before.start.astimezone(UTC) == datetime(2024, 3, 29, 8, 0, tzinfo=UTC)
    assert after.start.astimezone(UTC) == datetime(2024, 4, 1, 7, 0, tzinfo=UTC)
    assert open_span(BUSINESS, datetime(2024, 4, 1, 6, 59, tzinfo=UTC)) is None


def test_a_window_across_the_spring_change_lasts_its_elapsed_duration() -> None:
    # 01:00 CET plus 3 hours is 05:00 CEST: the skipped hour counts as no time.
    night = SyncWindow("night", "deny", "0 1 * * *", 3 * 3600, "Europe/Berlin")
    span = open_span(night, berlin(2024, 3, 31, 4, 30).astimezone(UTC))
    assert span is not None
    assert (span.start, span.end) == (berlin(2024, 3, 31, 1, 0), berlin(2024, 3, 31, 5, 0))


def test_a_start_in_the_skipped_hour_happens_an_hour_later() -> None:
    skipped = SyncWindow("skipped", "deny", "30 2 * * *", 1800, "Europe/Berlin")
    # 02:30 does not exist on 2024-03-31; the window opens at 03:30 CEST (01:30 UTC).
    opening = next_start(skipped, datetime(2024, 3, 30, 23, 0, tzinfo=UTC))
    assert opening is not None
    assert opening.astimezone(UTC) == datetime(2024, 3, 31, 1, 30, tzinfo=UTC)
    assert open_span(skipped, datetime(2024, 3, 31, 1, 45, tzinfo=UTC)) is not None


def test_a_start_in_the_repeated_hour_happens_once_the_first_time() -> None:
    repeated = SyncWindow("repeated", "deny", "30 2 * * *", 1800, "Europe/Berlin")
    # 02:30 happens twice on 2024-10-27: at 00:30 UTC (summer time) and 01:30 UTC (winter).
    first = datetime(2024, 10, 27, 0, 30, tzinfo=UTC)
    assert next_start(repeated, first - timedelta(minutes=1)) == first.astimezone(BERLIN)
    assert open_span(repeated, datetime(2024, 10, 27, 0, 45, tzinfo=UTC)) is not None
    assert open_span(repeated, datetime(2024, 10, 27, 1, 45, tzinfo=UTC)) is None
    second_day = next_start(repeated, first)
    assert second_day is not None
    assert second_day.astimezone(UTC) == datetime(2024, 10, 28, 1, 30, tzinfo=UTC)


def test_release_is_none_without_windows_that_hold() -> None:
    assert release([], datetime(2024, 6, 3, tzinfo=UTC)) is None


# ------------------------------------------------------------------ checks for validate


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("0 9 * * 1-5", None),
        ("@daily", None),
        ("*/15 22-23 * * *", None),
        ("0 9 * * 1-5 2024", "a cron schedule has 5 fields"),
        ("0 9 * *", "a cron schedule has 5 fields"),
        ("61 9 * * *", "invalid cron schedule"),
        ("0 9 * * mon-fry", "invalid cron schedule"),
        ("0 0 30 2 *", "never fires"),
        ("@sometimes", "unknown cron descriptor"),
    ],
)
def test_schedule_problems(schedule: str, problem: str | None) -> None:
    found = schedule_problem(schedule)
    assert (found is None) if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("zone", "ok"),
    [("Europe/Berlin", True), ("UTC", True), ("Europe/Atlantis", False), ("../etc", False)],
)
def test_time_zone_problems(zone: str, ok: bool) -> None:
    assert (time_zone_problem(zone) is None) is ok
