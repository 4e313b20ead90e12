"""Which candidate takes the next chat: load balancing within a priority tier, circuit breaking.

Pure bookkeeping with an injected clock, no I/O. `Balancer` counts the requests this process has
outstanding on each instance, keeps a moving average of their time to first token, and keeps one
`Circuit` per instance. `choose` looks at the best priority tier first, at its instances whose
circuit admits a request and that are below their `maxConcurrent`. Only when every instance of a
tier is full or open does the next tier get the request. Within the tier, by policy:

- `adaptive` (the `Fleet`'s default) learns each instance's window and pace (chat/pacing.py).
  Among the instances below their window, the least expected completion time wins:
  (outstanding + 1) x seconds per reply / (window x `weight`), then the lower moving average of
  the time to first token, then the lower probe latency. When every one is at its window, the
  request is held (`Hold`) for the first place to free in this tier, never sent to a lower one.
- `balanced`: the fewest outstanding requests for its `weight` wins, then the lower time to
  first token, then the lower probe latency; nothing is held.
- `first`: always the instance with the lowest probe latency (kept for comparison).

A circuit opens after `threshold` consecutive failures (a refused connection opens it at once:
the next request would be refused too), stays open for a cool-down that doubles at each failed
trial, then lets exactly one trial request through (half-open); that request's success closes it.
While it is open, only the trial decides: requests sent before it opened may still answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import groupby
from typing import Literal

from reconciler.chat.pacing import Pace
from reconciler.desired import DesiredInstance

DEFAULT_MAX_CONCURRENT = 256
"""Requests one `Fleet` sends to an instance at once when its `maxConcurrent` is not set."""

Policy = Literal["adaptive", "balanced", "first"]
"""`adaptive`: learn each instance's speed, hold what none has room for; `balanced`: spread each
tier's load by weight alone; `first`: always the best instance (kept for comparison)."""


class CircuitState(StrEnum):
    """Whether an instance gets requests: all (closed), none (open), one trial (half-open)."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When circuits open and for how long; times are seconds of the balancer's clock."""

    threshold: int = 3
    cool_down: float = 1.0
    max_cool_down: float = 60.0
    backoff: float = 2.0

    def __post_init__(self) -> None:
        if self.threshold < 1:
            raise ValueError(f"threshold must be at least 1, got {self.threshold}")
        if not 0 < self.cool_down <= self.max_cool_down:
            raise ValueError("cool_down must be positive and at most max_cool_down")
        if self.backoff < 1:
            raise ValueError(f"backoff must be at least 1, got {self.backoff}")


@dataclass(slots=True)
class Circuit:
    """The breaker of one instance."""

    policy: CircuitPolicy
    failures: int = 0
    opened_at: float | None = None
    cool_down: float = 0.0
    trial: bool = False
    last_failure: str = ""

    def state(self, now: float) -> CircuitState:
        """Closed, open (cooling down, or a trial in flight) or half-open (a trial may go)."""
        if self.opened_at is None:
            return CircuitState.CLOSED
        if self.trial or now < self.opened_at + self.cool_down:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def retry_in(self, now: float) -> float:
        """Seconds until the next trial may go (0 when closed or half-open)."""
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cool_down - now)

    def succeeded(self) -> None:
        """A request got an answer: close."""
        self.failures, self.opened_at, self.trial, self.cool_down = 0, None, False, 0.0

    def failed(self, now: float, reason: str, *, at_once: bool) -> None:
        """A request failed: count it, and open (again, with backoff) when it is time."""
        self.failures += 1
        self.last_failure = reason
        was_trial, self.trial = self.trial, False
        if self.opened_at is not None and was_trial:
            grown = self.cool_down * self.policy.backoff
            self.opened_at, self.cool_down = now, min(grown, self.policy.max_cool_down)
        elif self.opened_at is None and (at_once or self.failures >= self.policy.threshold):
            self.opened_at, self.cool_down = now, self.policy.cool_down

    def describe(self, now: float) -> str:
        """`circuit open after 3 failures (last: busy (HTTP 503)); next trial in 0.8s`."""
        state = self.state(now)
        last = f" (last: {self.last_failure})" if self.last_failure else ""
        plural = "s" if self.failures != 1 else ""
        if state is CircuitState.OPEN and self.trial:
            return f"circuit half-open after {self.failures} failure{plural}{last}; trial in flight"
        return (
            f"circuit open after {self.failures} failure{plural}{last}; "
            f"next trial in {self.retry_in(now):.1f}s"
        )


@dataclass(slots=True)
class Load:
    """What this process knows of one instance's load."""

    outstanding: int = 0
    served: int = 0
    ttft: float | None = None  # moving average of the time to first token, seconds


@dataclass(frozen=True, slots=True)
class InstanceLoad:
    """A snapshot of one instance for status: load, latency average and circuit."""

    instance: str
    outstanding: int
    served: int
    limit: int
    time_to_first_token: float | None
    circuit: CircuitState
    failures: int
    retry_in: float
    last_failure: str
    window: int | None = None  # chats kept in flight there (`adaptive`); more are held
    seconds_per_reply: float | None = None  # moving average of whole replies (`adaptive`)


@dataclass(frozen=True, slots=True)
class Pick:
    """The instance that takes the request; `trial` when it is its circuit's half-open trial."""

    instance: DesiredInstance
    trial: bool = False
    open: tuple[tuple[DesiredInstance, str], ...] = ()  # better ones skipped: circuit open


@dataclass(frozen=True, slots=True)
class Full:
    """Every admissible candidate is at its `maxConcurrent`: wait for one to finish."""


@dataclass(frozen=True, slots=True)
class Hold:
    """The best tier has room, but every instance of it is at its learned window (`adaptive`):
    hold the request until one of them frees a place."""


@dataclass(frozen=True, slots=True)
class Unavailable:
    """No candidate left: `open` lists those skipped because their circuit is open, with why."""

    open: tuple[tuple[DesiredInstance, str], ...] = ()


Choice = Pick | Hold | Full | Unavailable


@dataclass
class Balancer:
    """The load and circuits of every instance a `Fleet` chats with; see the module docstring."""

    clock: Callable[[], float]
    policy: Policy = "balanced"
    circuit_policy: CircuitPolicy = field(default_factory=CircuitPolicy)
    smoothing: float = 0.3  # weight of the newest sample in the moving averages
    loads: dict[str, Load] = field(default_factory=dict)
    circuits: dict[str, Circuit] = field(default_factory=dict)
    paces: dict[str, Pace] = field(default_factory=dict)

    def choose(
        self,
        candidates: Sequence[DesiredInstance],
        latency: Mapping[str, float | None],
        *,
        tried: Iterable[str] = (),
    ) -> Choice:
        """The instance for the next request among `candidates` (best priority first)."""
        now = self.clock()
        skip = set(tried)
        left = sorted((i for i in candidates if i.name not in skip), key=lambda i: i.priority)
        full = False
        opened: list[tuple[DesiredInstance, str]] = []
        for _, group in groupby(left, key=lambda i: i.priority):
            tier = list(group)
            ready: list[tuple[DesiredInstance, bool]] = []
            for instance in tier:
                state = self.circuit(instance.name).state(now)
                if state is CircuitState.OPEN:
                    opened.append((instance, self.circuit(instance.name).describe(now)))
                elif self.load(instance.name).outstanding >= limit(instance):
                    full = True
                else:
                    ready.append((instance, state is CircuitState.HALF_OPEN))
            if self.policy == "adaptive" and ready:
                roomy = [item for item in ready if self._has_room(item[0])]
                if not roomy:
                    return Hold()
                ready = roomy
            if ready:
                best, trial = min(ready, key=lambda item: self._rank(item[0], latency, tier))
                return Pick(best, trial, tuple(opened))
        return Full() if full else Unavailable(tuple(opened))

    def started(self, pick: Pick) -> int:
        """The picked request is going out; returns how many are in flight there, it included."""
        load = self.load(pick.instance.name)
        load.outstanding += 1
        if pick.trial:
            self.circuit(pick.instance.name).trial = True
        return load.outstanding

    def answered(
        self,
        name: str,
        seconds: float,
        *,
        trial: bool = False,
        in_flight: int | None = None,
    ) -> int:
        """The instance's first chunk arrived after `seconds`: learn its pace; close its circuit
        unless it is open and this was not its trial (a request from before it opened).
        `in_flight` is what `started` returned for the request: with it, learn the window.
        Returns the places the window gained (requests that may go now)."""
        circuit = self.circuit(name)
        if circuit.opened_at is None or (trial and circuit.trial):
            circuit.succeeded()
        load = self.load(name)
        load.ttft = seconds if load.ttft is None else _blend(load.ttft, seconds, self.smoothing)
        if in_flight is None:
            return 0
        pace = self.pace(name)
        before = pace.window
        pace.first_token(seconds, in_flight)
        return max(0, pace.window - before)

    def replied(
        self,
        name: str,
        seconds: float,
        *,
        generating: float | None = None,
        in_flight: int | None = None,
    ) -> None:
        """A whole reply of the instance took `seconds`, `generating` of them generation by the
        server's report; `in_flight` as for `answered`."""
        self.pace(name).replied(seconds, generating, in_flight, self.smoothing)

    def busy(self, name: str, in_flight: int) -> None:
        """The instance answered busy (429/503) to the `in_flight`-th request: narrow its window.
        (The failure counts towards its circuit too, through `failed`.)"""
        self.pace(name).busy(in_flight)

    def failed(self, name: str, reason: str, *, at_once: bool) -> None:
        """The request failed in a way that counts against the instance (see `counts_against`)."""
        self.circuit(name).failed(self.clock(), reason, at_once=at_once)

    def finished(self, name: str, *, trial: bool) -> None:
        """The request ended (any way): free its slot; an unjudged trial lets another one go."""
        load = self.load(name)
        load.outstanding = max(0, load.outstanding - 1)
        load.served += 1
        circuit = self.circuit(name)
        if trial and circuit.trial:
            circuit.trial = False

    def load(self, name: str) -> Load:
        """The load record of `name` (created empty)."""
        return self.loads.setdefault(name, Load())

    def pace(self, name: str) -> Pace:
        """The learned window and pace of `name` (created unmeasured)."""
        return self.paces.setdefault(name, Pace())

    def circuit(self, name: str) -> Circuit:
        """The circuit of `name` (created closed)."""
        found = self.circuits.get(name)
        if found is None:
            found = self.circuits[name] = Circuit(self.circuit_policy)
        return found

    def snapshot(self, instances: Iterable[DesiredInstance]) -> dict[str, InstanceLoad]:
        """The load and circuit of each of `instances`, for status reports."""
        now = self.clock()
        out: dict[str, InstanceLoad] = {}
        adaptive = self.policy == "adaptive"
        for instance in instances:
            load, circuit = self.load(instance.name), self.circuit(instance.name)
            pace = self.pace(instance.name)
            out[instance.name] = InstanceLoad(
                instance=instance.name,
                outstanding=load.outstanding,
                served=load.served,
                limit=limit(instance),
                time_to_first_token=load.ttft,
                circuit=circuit.state(now),
                failures=circuit.failures,
                retry_in=circuit.retry_in(now),
                last_failure=circuit.last_failure,
                window=min(pace.window, limit(instance)) if adaptive else None,
                seconds_per_reply=pace.reply if adaptive else None,
            )
        return out

    def _has_room(self, instance: DesiredInstance) -> bool:
        return self.load(instance.name).outstanding < self.pace(instance.name).window

    def _rank(
        self,
        instance: DesiredInstance,
        latency: Mapping[str, float | None],
        tier: Sequence[DesiredInstance],
    ) -> tuple[float, ...]:
        probed = latency.get(instance.name)
        probe = math.inf if probed is None else probed
        if self.policy == "first":
            return (probe, float(tier.index(instance)))
        load = self.load(instance.name)
        ttft = 0.0 if load.ttft is None else load.ttft  # unmeasured: try it to learn its pace
        if self.policy == "adaptive":
            pace = self.pace(instance.name)
            reply = pace.reply if pace.reply is not None else self._tier_reply(tier)
            expected = (load.outstanding + 1) * reply / (pace.window * instance.weight)
            return (expected, ttft, probe, float(tier.index(instance)))
        share = (load.outstanding + 1) / instance.weight
        return (share, ttft, probe, float(tier.index(instance)))

    def _tier_reply(self, tier: Sequence[DesiredInstance]) -> float:
        """For an instance not measured yet: the mean pace of its tier's measured ones (or 1)."""
        known = [p.reply for i in tier if (p := self.paces.get(i.name)) and p.reply is not None]
        return sum(known) / len(known) if known else 1.0


def limit(instance: DesiredInstance) -> int:
    """Requests a `Fleet` may have outstanding on `instance` at once."""
    return instance.max_concurrent or DEFAULT_MAX_CONCURRENT


def _blend(average: float, sample: float, smoothing: float) -> float:
    return (1 - smoothing) * average + smoothing * sample
