"""Figures from the fleet's history: uptime, latency percentiles and series, errors, chats.

`FigureBook` folds probe and chat rows into per-instance buckets of 1/60 of the window (the
points of the latency series) and keeps running totals, so adding a round of probes costs as
many steps as it has rows, and the window moves by dropping whole buckets. The window is
therefore counted in 60 steps: it covers the current bucket and the 59 before it.

Latency percentiles come from a histogram with bins 2% apart, so a p50 or p95 is within 1% of the
exact value; this keeps the totals small and mergeable whatever the number of probes.
`FigureFeed` reads only the rows written since its last update (any writer's), which is what
`orc watch` does after every reconcile; `orc status` makes a fresh one.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from reconciler.state.probes import from_ms, to_ms

SERIES_POINTS = 60
DEFAULT_WINDOW = 86400.0  # seconds: the figures cover the last 24 hours unless told otherwise
_RATIO = 1.02  # histogram bins are 2% apart
_FLOOR_MS = 0.1  # latencies below this share the first bin
_LOG_RATIO = math.log(_RATIO)


@dataclass(frozen=True, slots=True)
class LastError:
    """The most recent failed probe of an instance within the window."""

    reason: str
    message: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChatFigures:
    """Chats an instance took part in within the window."""

    requests: int  # attempts on the instance (answered, failed or refused)
    success_rate: float | None  # answered / (answered + failed); None when there were none
    mean_ttft_ms: float | None  # mean time to first token of the answered ones


@dataclass(frozen=True, slots=True)
class InstanceFigures:
    """One instance's figures over the window."""

    probes: int = 0
    uptime: float | None = None  # fraction of probes that reached the server; None: no probes
    p50_ms: float | None = None
    p95_ms: float | None = None
    series: tuple[tuple[datetime, float], ...] = ()  # (bucket start, mean latency in ms)
    last_error: LastError | None = None
    chat: ChatFigures | None = None


NO_FIGURES = InstanceFigures()


@dataclass(frozen=True, slots=True)
class FleetFigures:
    """Every instance's figures over one window ending at `until`."""

    window: float  # seconds
    since: datetime
    until: datetime
    instances: Mapping[str, InstanceFigures] = field(default_factory=dict)

    def of(self, instance: str) -> InstanceFigures:
        """The instance's figures (empty ones when the history has nothing about it)."""
        return self.instances.get(instance, NO_FIGURES)


@dataclass(slots=True)
class _Bucket:
    probes: int = 0
    up: int = 0
    latency_n: int = 0
    latency_sum: float = 0.0
    histogram: dict[int, int] = field(default_factory=dict)
    chat_ok: int = 0
    chat_failed: int = 0
    chat_refused: int = 0
    ttft_n: int = 0
    ttft_sum: float = 0.0

    def add(self, other: _Bucket, sign: int = 1) -> None:
        self.probes += sign * other.probes
        self.up += sign * other.up
        self.latency_n += sign * other.latency_n
        self.latency_sum += sign * other.latency_sum
        for key, count in other.histogram.items():
            left = self.histogram.get(key, 0) + sign * count
            if left:
                self.histogram[key] = left
            else:
                self.histogram.pop(key, None)
        self.chat_ok += sign * other.chat_ok
        self.chat_failed += sign * other.chat_failed
        self.chat_refused += sign * other.chat_refused
        self.ttft_n += sign * other.ttft_n
        self.ttft_sum += sign * other.ttft_sum


@dataclass(slots=True)
class _Instance:
    buckets: dict[int, _Bucket] = field(default_factory=dict)
    total: _Bucket = field(default_factory=_Bucket)
    error: tuple[int, str, str] | None = None  # at_ms, reason, message


class FigureBook:
    """Running figures of every instance over a moving window of `window` seconds."""

    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        if window <= 0:
            raise ValueError("the window must be longer than zero")
        self.window = window
        self._width_ms = max(int(window * 1000 / SERIES_POINTS), 1)
        self._instances: dict[str, _Instance] = {}
        self._floor = -(2**62)  # buckets at or below this index have left the window
        self._starts: dict[int, datetime] = {}  # bucket index → its start, made once

    def add_probe(
        self,
        at_ms: int,
        instance: str,
        up: bool,
        latency_ms: float | None,
        *,
        reason: str | None = None,
        message: str | None = None,
    ) -> None:
        """Count one probe."""
        found = self._counters(at_ms, instance)
        if found is None:
            return
        state, bucket = found
        for target in (bucket, state.total):
            target.probes += 1
            if up:
                target.up += 1
            if up and latency_ms is not None:
                key = _bin(latency_ms)
                target.latency_n += 1
                target.latency_sum += latency_ms
                target.histogram[key] = target.histogram.get(key, 0) + 1
        if not up and (state.error is None or at_ms >= state.error[0]):
            state.error = (at_ms, reason or "Unknown", message or "")

    def _counters(self, at_ms: int, instance: str) -> tuple[_Instance, _Bucket] | None:
        """The instance's running totals and the bucket of `at_ms`; None when it is before the
        window (already pruned)."""
        index = at_ms // self._width_ms
        if index <= self._floor:
            return None
        state = self._instances.get(instance)
        if state is None:
            state = self._instances[instance] = _Instance()
        bucket = state.buckets.get(index)
        if bucket is None:
            bucket = state.buckets[index] = _Bucket()
        return state, bucket

    def add_chat(self, at_ms: int, instance: str, outcome: str, ttft_ms: float | None) -> None:
        """Count one chat attempt (outcome `ok`, `failed` or `refused`)."""
        found = self._counters(at_ms, instance) if instance else None
        if found is None:
            return
        state, bucket = found
        for target in (bucket, state.total):
            if outcome == "ok":
                target.chat_ok += 1
                if ttft_ms is not None:
                    target.ttft_n += 1
                    target.ttft_sum += ttft_ms
            elif outcome == "refused":
                target.chat_refused += 1
            else:
                target.chat_failed += 1

    def advance(self, now_ms: int) -> None:
        """Drop the buckets that have left the window ending at `now_ms`."""
        floor = now_ms // self._width_ms - SERIES_POINTS
        if floor <= self._floor:
            return
        self._floor = floor
        self._starts = {i: moment for i, moment in self._starts.items() if i > floor}
        for name in list(self._instances):
            state = self._instances[name]
            for index in [i for i in state.buckets if i <= floor]:
                state.total.add(state.buckets.pop(index), -1)
            if not state.buckets:
                del self._instances[name]

    def since_ms(self, now_ms: int) -> int:
        """The start of the oldest bucket of the window ending at `now_ms`."""
        return (now_ms // self._width_ms - SERIES_POINTS + 1) * self._width_ms

    def figures(self, now: datetime) -> FleetFigures:
        """The figures of every instance over the window ending at `now`."""
        now_ms = to_ms(now)
        self.advance(now_ms)
        since = self.since_ms(now_ms)
        found = {name: self._figures(state, since) for name, state in self._instances.items()}
        return FleetFigures(self.window, from_ms(since), now, found)

    def _figures(self, state: _Instance, since_ms: int) -> InstanceFigures:
        total = state.total
        series = tuple(
            (self._start(index), round(b.latency_sum / b.latency_n, 1))
            for index, b in sorted(state.buckets.items())
            if b.latency_n
        )
        error = None
        if state.error is not None and state.error[0] >= since_ms:
            at_ms, reason, message = state.error
            error = LastError(reason, message, from_ms(at_ms))
        p50, p95 = _percentiles(total.histogram, total.latency_n, (0.50, 0.95))
        return InstanceFigures(
            probes=total.probes,
            uptime=round(total.up / total.probes, 4) if total.probes else None,
            p50_ms=p50,
            p95_ms=p95,
            series=series,
            last_error=error,
            chat=_chat(total),
        )

    def _start(self, index: int) -> datetime:
        moment = self._starts.get(index)
        if moment is None:
            moment = self._starts[index] = from_ms(index * self._width_ms)
        return moment


class FigureFeed:
    """A `FigureBook` kept current from the database: each update reads only the new rows."""

    def __init__(self, window: float = DEFAULT_WINDOW) -> None:
        self.book = FigureBook(window)
        self._probe_id = 0
        self._chat_id = 0

    def update(self, db: sqlite3.Connection, now: datetime) -> FleetFigures:
        """Fold in the rows written since the last update (by any process); the figures."""
        now_ms = to_ms(now)
        self.book.advance(now_ms)
        since = self.book.since_ms(now_ms)
        probes = db.execute(
            "SELECT id, at_ms, instance, up, latency_ms, reason, message FROM probe_history"
            " WHERE id > ? AND at_ms >= ? ORDER BY id",
            (self._probe_id, since),
        )
        add_probe = self.book.add_probe
        for row_id, at_ms, instance, up, latency, reason, message in probes:
            add_probe(at_ms, instance, bool(up), latency, reason=reason, message=message)
            self._probe_id = row_id
        chats = db.execute(
            "SELECT id, at_ms, instance, outcome, ttft_ms FROM chat_history"
            " WHERE id > ? AND at_ms >= ? ORDER BY id",
            (self._chat_id, since),
        )
        for row_id, at_ms, instance, outcome, ttft in chats:
            self.book.add_chat(at_ms, instance, outcome, ttft)
            self._chat_id = row_id
        return self.book.figures(now)


def _bin(ms: float) -> int:
    if ms < _FLOOR_MS:
        return 0
    return round(math.log(ms / _FLOOR_MS) / _LOG_RATIO) + 1


def _value(key: int) -> float:
    return 0.0 if key == 0 else _FLOOR_MS * _RATIO ** (key - 1)


def _percentiles(
    histogram: Mapping[int, int], count: int, qs: tuple[float, float]
) -> tuple[float | None, float | None]:
    """The nearest-rank percentiles `qs` (ascending) of the histogram, rounded to 0.1 ms."""
    if count <= 0 or not histogram:
        return None, None
    ranks = [max(math.ceil(q * count), 1) for q in qs]
    found: list[float] = []
    seen = 0
    for key in sorted(histogram):
        seen += histogram[key]
        while len(found) < len(ranks) and seen >= ranks[len(found)]:
            found.append(round(_value(key), 1))
    last = round(_value(max(histogram)), 1)
    found += [last] * (len(ranks) - len(found))
    return found[0], found[1]


def _chat(total: _Bucket) -> ChatFigures | None:
    requests = total.chat_ok + total.chat_failed + total.chat_refused
    if not requests:
        return None
    judged = total.chat_ok + total.chat_failed
    return ChatFigures(
        requests=requests,
        success_rate=round(total.chat_ok / judged, 4) if judged else None,
        mean_ttft_ms=round(total.ttft_sum / total.ttft_n, 1) if total.ttft_n else None,
    )
