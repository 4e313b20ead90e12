"""Admission of a chat to an instance: the balancer's choice, and a bounded wait when all are full.

When every candidate whose circuit admits a request is at its `maxConcurrent`, a chat waits for
one of them to finish (woken by that request's end), at most `wait_limit` seconds; then it gives
up with the instances named as at capacity. It never waits for an open circuit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.chat.balance import Balancer, Full, Pick, Unavailable, limit
from reconciler.chat.selection import PassedOver
from reconciler.desired import DesiredInstance


@dataclass(frozen=True, slots=True)
class Lease:
    """A request admitted to `pick.instance`; `Admission.release` it when the request ends."""

    pick: Pick

    @property
    def instance(self) -> DesiredInstance:
        """The instance the request goes to."""
        return self.pick.instance


class Admission:
    """The `Balancer` of a fleet with the waiting room in front of it."""

    def __init__(self, balancer: Balancer, *, wait_limit: float = 0.0) -> None:
        self.balancer = balancer
        self.wait_limit = wait_limit
        self.waiting = 0
        self._freed = asyncio.Event()

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
        while True:
            choice = self.balancer.choose(candidates, latency, tried=skip)
            if isinstance(choice, Pick):
                self.balancer.started(choice)
                return Lease(choice)
            if isinstance(choice, Unavailable):
                return [_open(instance, reason) for instance, reason in choice.open]
            assert isinstance(choice, Full)
            if not await self._wait(deadline - loop.time()):
                return self._at_capacity(candidates, skip)

    def release(self, lease: Lease) -> None:
        """The leased request ended: free its slot and wake the waiting chats."""
        self.balancer.finished(lease.instance.name, trial=lease.pick.trial)
        self._freed.set()
        self._freed = asyncio.Event()

    async def _wait(self, seconds: float) -> bool:
        if seconds <= 0:
            return False
        freed = self._freed
        self.waiting += 1
        try:
            async with asyncio.timeout(seconds):
                await freed.wait()
        except TimeoutError:
            return False
        finally:
            self.waiting -= 1
        return True

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
