"""Admission of a chat to an instance: the balancer's choice, and a bounded wait when all are full.

When every candidate whose circuit admits a request is at its `maxConcurrent`, a chat waits for
one of them to finish (woken by that request's end), at most `wait_limit` seconds; then it gives
up with the instances named as at capacity. It never waits for an open circuit.

A chat held because the best tier is at its learned windows (`Hold`, policy `adaptive`) waits
without that limit, as it would have waited in a server's queue: each release wakes the held chats
and the first to choose again takes the freed place (or another instance's, if one freed first).
Its wait is not part of any instance's `timeout`.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.chat.balance import Balancer, Full, Hold, Pick, Unavailable, limit
from reconciler.chat.selection import PassedOver
from reconciler.desired import DesiredInstance


@dataclass(frozen=True, slots=True)
class Lease:
    """A request admitted to `pick.instance`; `Admission.release` it when the request ends.

    `in_flight`: the requests this process had on the instance once it went out, it included."""

    pick: Pick
    in_flight: int = 1

    @property
    def instance(self) -> DesiredInstance:
        """The instance the request goes to."""
        return self.pick.instance


class Admission:
    """The `Balancer` of a fleet with the waiting room in front of it.

    Waiting chats queue in arrival order. A release wakes the first one only; if the freed place
    is of no use to it (another model's instance, one it already tried), it passes the wake on
    to the next, at most once around the queue. So a release costs one or a few wake-ups, not
    one per waiting chat, and the longest-waiting chat that can use a place gets it.
    """

    def __init__(self, balancer: Balancer, *, wait_limit: float = 0.0) -> None:
        self.balancer = balancer
        self.wait_limit = wait_limit
        self._tickets = itertools.count()
        self._waiting: dict[int, asyncio.Future[int]] = {}  # ticket -> wake (its hops left)

    @property
    def waiting(self) -> int:
        """Chats waiting for a place (held or at capacity)."""
        return len(self._waiting)

    async def admit(
        self,
        candidates: Sequence[DesiredInstance],
        latency: Mapping[str, float | None],
        tried: Iterable[str],
    ) -> Lease | list[PassedOver]:
        """A lease on the best instance now, or why none could be had (circuits open, full)."""
        skip = set(tried)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_limit
        ticket = next(self._tickets)
        hops = 0  # wake-ups this chat may still pass on when it cannot use the place it got
        try:
            while True:
                choice = self.balancer.choose(candidates, latency, tried=skip)
                if isinstance(choice, Pick):
                    hops = 0
                    return Lease(choice, self.balancer.started(choice))
                if isinstance(choice, Unavailable):
                    return [_open(instance, reason) for instance, reason in choice.open]
                self._pass_on(ticket, hops)
                if isinstance(choice, Hold):
                    hops = await self._wait(ticket, None) or 0  # no limit: never None
                    deadline = loop.time() + self.wait_limit  # the limit is for capacity alone
                    continue
                assert isinstance(choice, Full)
                woken = await self._wait(ticket, deadline - loop.time())
                if woken is None:
                    hops = 0
                    return self._at_capacity(candidates, skip)
                hops = woken
        finally:
            self._pass_on(ticket, hops)  # woken, but leaving without the place

    def release(self, lease: Lease) -> None:
        """The leased request ended: free its slot and wake the first waiting chat."""
        self.balancer.finished(lease.instance.name, trial=lease.pick.trial)
        self._wake(after=-1, hops=len(self._waiting))

    def widened(self, places: int) -> None:
        """An instance's window grew by `places` (see `Balancer.answered`): wake as many chats."""
        for _ in range(places):
            self._wake(after=-1, hops=len(self._waiting))

    def _pass_on(self, ticket: int, hops: int) -> None:
        if hops > 1:
            self._wake(after=ticket, hops=hops - 1)

    def _pass_on_unused(self, ticket: int, woken: asyncio.Future[int]) -> None:
        """Woken just as the wait ended (time ran out, or cancelled): pass the wake on."""
        if woken.done() and not woken.cancelled():
            self._pass_on(ticket, woken.result())

    def _wake(self, *, after: int, hops: int) -> None:
        """Wake the first waiting chat that came after ticket `after`."""
        later = [t for t in self._waiting if t > after and not self._waiting[t].done()]
        if later:
            self._waiting.pop(min(later)).set_result(hops)

    async def _wait(self, ticket: int, seconds: float | None) -> int | None:
        """Wait for a wake-up, at most `seconds` (None: no limit): the hops it carries, or None
        when time ran out."""
        if seconds is not None and seconds <= 0:
            return None
        woken: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting[ticket] = woken
        try:
            async with asyncio.timeout(seconds):
                return await woken
        except TimeoutError:
            self._pass_on_unused(ticket, woken)
            return None
        except asyncio.CancelledError:
            self._pass_on_unused(ticket, woken)
            raise
        finally:
            if self._waiting.get(ticket) is woken:
                del self._waiting[ticket]

    def _at_capacity(
        self, candidates: Sequence[DesiredInstance], tried: set[str]
    ) -> list[PassedOver]:
        now = self.balancer.clock()
        passed: list[PassedOver] = []
        for instance in candidates:
            if instance.name in tried:
                continue
            circuit = self.balancer.circuit(instance.name)
            if circuit.state(now) == "open":
                passed.append(_open(instance, circuit.describe(now)))
                continue
            cap = limit(instance)
            waited = f" for {self.wait_limit:g}s" if self.wait_limit else ""
            reason = f"at capacity: {cap} of {cap} requests in flight{waited} (maxConcurrent)"
            passed.append(PassedOver(instance.name, instance.priority, reason, "at capacity"))
        return passed


def _open(instance: DesiredInstance, reason: str) -> PassedOver:
    return PassedOver(instance.name, instance.priority, reason, "circuit open")
