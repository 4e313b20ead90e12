"""When the watch loop reconciles next: triggers, debounce, the resync interval and backoffs.

Pure bookkeeping on a monotonic time passed in by the caller, so that every timing rule of
`orc watch` is tested without sleeping. Triggers that arrive while a reconcile runs stay pending
and are taken together by the next one (the "queue of one"); manifest changes are debounced (the
reconcile waits until the files have been quiet for `debounce`, or at most ten times that, unless
a reconcile is due anyway: then it reads the files at once and the changes go with it); the
resync interval is shortened by a random jitter so that many daemons do not probe in step; an
instance that cannot be reached waits out its own exponential backoff, capped at the interval.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from enum import StrEnum

MAX_DEBOUNCE_FACTOR = 10  # a stream of edits postpones a reconcile at most this many debounces


class Trigger(StrEnum):
    """Why a reconcile runs."""

    STARTUP = "startup"
    CHANGE = "manifest-change"
    INTERVAL = "interval"
    MANUAL = "manual"  # SIGHUP or POST /reconcile
    RETRY = "retry"  # an instance's backoff ended
    PRUNE_DELAY = "prune-delay"  # held deletions are due: plan again (see prunedelay.py)
    SYNC_WINDOW = "sync-window"  # a sync window opens for actions it held back


@dataclass(frozen=True, slots=True)
class Due:
    """What a reconcile is for: its triggers, and the backed-off instances whose retry came."""

    triggers: frozenset[Trigger]
    retries: frozenset[str] = frozenset()

    @property
    def full(self) -> bool:
        """Whether the whole fleet is reconciled (else only the instances in `retries`)."""
        return bool(self.triggers - {Trigger.RETRY})

    def describe(self) -> str:
        """`manifest-change,interval`: the triggers, in a stable order."""
        return ",".join(t.value for t in Trigger if t in self.triggers)


@dataclass(frozen=True, slots=True)
class Timing:
    """The durations the loop works with, in seconds; `jitter` is a fraction of the interval."""

    interval: float = 300.0
    debounce: float = 0.3
    settle: float = 1.0  # a manifest file is read once it held still this long (manifests.py)
    jitter: float = 0.1
    backoff_base: float = 1.0
    backoff_factor: float = 2.0


@dataclass(slots=True)
class _Backoff:
    failures: int
    retry_at: float


@dataclass
class Backoffs:
    """Per-instance exponential backoff: `base * factor**(failures - 1)`, at most `cap`."""

    base: float
    factor: float
    cap: float
    _entries: dict[str, _Backoff] = field(default_factory=dict)

    def failed(self, name: str, now: float) -> float:
        """Record one more failure of `name`; returns the delay before its next retry."""
        failures = self._entries[name].failures + 1 if name in self._entries else 1
        delay = min(self.base * self.factor ** (failures - 1), self.cap)
        self._entries[name] = _Backoff(failures, now + delay)
        return delay

    def recovered(self, name: str) -> bool:
        """Forget `name`'s backoff; whether it had one."""
        return self._entries.pop(name, None) is not None

    def waiting(self, now: float) -> frozenset[str]:
        """The instances whose retry time has not come yet (left out of reconciles)."""
        return frozenset(n for n, b in self._entries.items() if b.retry_at > now)

    def due(self, now: float) -> frozenset[str]:
        """The backed-off instances whose retry time has come."""
        return frozenset(n for n, b in self._entries.items() if b.retry_at <= now)

    def postpone(self, names: frozenset[str], now: float) -> None:
        """Hold retries being made now until the reconcile making them reports back."""
        for name in names:
            if name in self._entries:
                self._entries[name].retry_at = now + self.cap

    def next_time(self) -> float | None:
        """The earliest retry time, if any instance is backing off."""
        return min((b.retry_at for b in self._entries.values()), default=None)

    def keep(self, names: set[str]) -> None:
        """Forget the instances no longer declared."""
        for name in set(self._entries) - names:
            del self._entries[name]

    def clear(self) -> None:
        """Forget every backoff (the manifests changed: a fixed URL deserves a try at once)."""
        self._entries.clear()


class Schedule:
    """Pending triggers and timers; `due(now)` says whether a reconcile should start now."""

    def __init__(self, timing: Timing, rng: random.Random) -> None:
        self.timing = timing
        self.interval = timing.interval
        self._rng = rng
        self._requested: set[Trigger] = set()
        self._first_change: float | None = None
        self._last_change: float | None = None
        self._next_resync: float | None = None
        self._deletions_due: float | None = None
        self._window_due: float | None = None
        self.backoffs = Backoffs(timing.backoff_base, timing.backoff_factor, timing.interval)

    def set_interval(self, seconds: float) -> None:
        """Use another resync interval (and backoff cap) from the next reconcile on."""
        self.interval = self.backoffs.cap = seconds

    def deletions_due(self, when: float | None) -> None:
        """Reconcile at `when`, when held deletions are due (None: none are waiting)."""
        self._deletions_due = when

    def window_due(self, when: float | None) -> None:
        """Reconcile at `when`, when a sync window lets held actions go ahead (None: none)."""
        self._window_due = when

    def request(self, trigger: Trigger) -> None:
        """Ask for a reconcile as soon as possible (startup, SIGHUP, POST /reconcile)."""
        self._requested.add(trigger)

    def changed(self, now: float) -> None:
        """A manifest file changed at `now`: reconcile once the files are quiet."""
        if self._first_change is None:
            self._first_change = now
        self._last_change = now

    def due(self, now: float) -> Due | None:
        """The reconcile to start now, or None when nothing is due yet."""
        triggers = set(self._requested)
        if self._next_resync is not None and self._next_resync <= now:
            triggers.add(Trigger.INTERVAL)
        if self._deletions_due is not None and self._deletions_due <= now:
            triggers.add(Trigger.PRUNE_DELAY)
        if self._window_due is not None and self._window_due <= now:
            triggers.add(Trigger.SYNC_WINDOW)
        retries = self.backoffs.due(now)
        if retries:
            triggers.add(Trigger.RETRY)
        change_at = self._change_due()
        # a reconcile that runs anyway reads the files now: pending changes go with it
        if change_at is not None and (change_at <= now or triggers):
            triggers.add(Trigger.CHANGE)
        return Due(frozenset(triggers), retries) if triggers else None

    def next_time(self) -> float | None:
        """When something next becomes due (None: only a new trigger can make it so)."""
        if self._requested:
            return float("-inf")
        times = (
            self._change_due(),
            self._next_resync,
            self._deletions_due,
            self._window_due,
            self.backoffs.next_time(),
        )
        return min((t for t in times if t is not None), default=None)

    def take(self, due: Due, now: float) -> None:
        """A reconcile for `due` starts now: its triggers are consumed."""
        self._requested -= due.triggers
        if Trigger.CHANGE in due.triggers:
            self._first_change = self._last_change = None
        if due.full:
            self._next_resync = self._deletions_due = self._window_due = None
        self.backoffs.postpone(due.retries, now)

    def finished(self, now: float, *, full: bool) -> None:
        """A reconcile ended at `now`; after a full one the resync timer starts again."""
        if full or self._next_resync is None:
            jitter = self.timing.jitter * self._rng.random()
            self._next_resync = now + self.interval * (1.0 - jitter)

    def _change_due(self) -> float | None:
        if self._last_change is None or self._first_change is None:
            return None
        quiet = self._last_change + self.timing.debounce
        longest = self._first_change + self.timing.debounce * MAX_DEBOUNCE_FACTOR
        return min(quiet, longest)
