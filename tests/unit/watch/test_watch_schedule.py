"""The schedule on its own: debounce, merging of triggers, jitter and per-instance backoff."""

from __future__ import annotations

import random

import pytest

from reconciler.watch import Schedule, Timing, Trigger
from reconciler.watch.schedule import Backoffs


def schedule(**timing: float) -> Schedule:
    return Schedule(Timing(**timing), random.Random(1))


def test_nothing_is_due_until_something_happens():
    s = schedule()
    assert s.due(0.0) is None
    assert s.next_time() is None


def test_a_change_is_due_once_the_files_were_quiet_for_the_debounce():
    s = schedule(debounce=0.3)
    s.changed(10.0)
    s.changed(10.2)
    assert s.due(10.49) is None
    assert s.next_time() == pytest.approx(10.5)
    due = s.due(10.5)
    assert due is not None and due.triggers == {Trigger.CHANGE}


def test_pending_changes_go_with_any_reconcile_that_runs_anyway():
    s = schedule(debounce=0.3)
    s.changed(10.0)
    s.request(Trigger.MANUAL)
    due = s.due(10.01)
    assert due is not None
    assert due.triggers == {Trigger.MANUAL, Trigger.CHANGE}
    s.take(due, 10.01)
    assert s.due(20.0) is None, "taken triggers are consumed"


def test_the_resync_comes_after_the_interval_less_at_most_the_jitter():
    for seed in range(20):
        s = Schedule(Timing(interval=100, jitter=0.1), random.Random(seed))
        s.finished(0.0, full=True)
        next_time = s.next_time()
        assert next_time is not None and 90.0 <= next_time <= 100.0
        due = s.due(next_time)
        assert due is not None and due.triggers == {Trigger.INTERVAL} and due.full


def test_a_retry_only_reconcile_does_not_restart_the_resync_timer():
    s = schedule(interval=10, jitter=0)
    s.finished(0.0, full=True)
    s.backoffs.failed("b", 0.0)
    due = s.due(1.0)
    assert due is not None and not due.full and due.retries == {"b"}
    s.take(due, 1.0)
    s.finished(1.5, full=False)
    assert s.next_time() == pytest.approx(10.0)


def test_backoff_doubles_per_failure_and_is_capped():
    backoffs = Backoffs(base=1.0, factor=2.0, cap=10.0)
    delays = [backoffs.failed("b", 0.0) for _ in range(6)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert backoffs.waiting(5.0) == {"b"}
    assert backoffs.due(10.0) == {"b"}
    assert backoffs.recovered("b") is True
    assert backoffs.failed("b", 0.0) == 1.0, "a recovered instance starts over"


def test_backoffs_are_per_instance_and_forgotten_with_the_instance():
    backoffs = Backoffs(base=1.0, factor=2.0, cap=60.0)
    backoffs.failed("a", 0.0)
    backoffs.failed("a", 0.0)
    backoffs.failed("b", 0.0)
    assert backoffs.waiting(1.5) == {"a"}
    assert backoffs.due(1.5) == {"b"}
    backoffs.keep({"b"})
    assert backoffs.waiting(0.0) == {"b"}


def test_changing_the_interval_changes_the_backoff_cap():
    s = schedule(interval=300)
    s.set_interval(5.0)
    assert [s.backoffs.failed("b", 0.0) for _ in range(4)] == [1.0, 2.0, 4.0, 5.0]
