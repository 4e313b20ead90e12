"""`WatchLoop`: reconcile at start, on manifest changes, on request and every interval.

Never two reconciles at once: the loop runs them itself, one after the other, and a trigger that
arrives meanwhile is kept for exactly one more. Everything that touches time or the outside world
is injected (the change source, clock, sleep, random jitter, the reconciler, the manifest loader,
the lock, a stop event), so tests drive the loop with a script and a fake clock (kopf and
watchfiles do the same). Setting the stop event cancels a reconcile in flight: the executor stops
its requests cleanly and the loop returns.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.manifest import load_fleet
from reconciler.notify import Delivery, Dispatcher, Notifier
from reconciler.watch.cycle import ApplyLocks, Cycle, FleetReconciler, Mode
from reconciler.watch.fleetcache import Loader
from reconciler.watch.logs import EventLog
from reconciler.watch.manifests import ManifestReader, Revision
from reconciler.watch.prunedelay import PruneDelay
from reconciler.watch.record import CycleSummary, FiguresSource, History, WatchRecord
from reconciler.watch.revision import git_revision
from reconciler.watch.schedule import Due, Schedule, Timing, Trigger
from reconciler.watch.sources import ChangeSource

Listener = Callable[[WatchRecord], None]
STOP_GRACE = 5.0  # seconds a cancelled reconcile gets to wind down


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class WatchOptions:
    """What to watch and how: the manifest paths, the mode and the timings."""

    paths: tuple[Path, ...]
    mode: Mode = Mode.APPLY
    timing: Timing = field(default_factory=Timing)
    interval_from_manifests: bool = False  # follow the Fleet's spec.interval
    selector: Mapping[str, str] = field(default_factory=dict)  # the shard this watcher owns


class WatchLoop:
    """The continuous reconcile; `run()` returns once `stop` is set."""

    def __init__(
        self,
        options: WatchOptions,
        reconciler: FleetReconciler,
        *,
        changes: ChangeSource,
        stop: asyncio.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        wall: Callable[[], datetime] = _utcnow,
        loader: Loader = load_fleet,
        revision: Revision = git_revision,
        lock: ApplyLocks | None = None,
        listeners: Sequence[Listener] = (),
        dispatcher: Dispatcher | None = None,
        figures: FiguresSource | None = None,
        history: History | None = None,
    ) -> None:
        self.options = options
        self.dispatcher: Dispatcher | None = None
        self.stop = stop if stop is not None else asyncio.Event()
        self.clock, self.sleep = clock, sleep
        self.schedule = Schedule(options.timing, rng or random.Random())
        self.record = WatchRecord(
            options.paths,
            str(options.mode),
            options.timing.interval,
            clock(),
            wall(),
            selector=dict(options.selector),
            figures=figures,
            history=history,
        )
        self.log = EventLog()
        self.cycle = Cycle(
            mode=options.mode,
            reconciler=reconciler,
            manifests=ManifestReader(
                options.paths,
                loader,
                revision,
                self.log,
                options.timing.settle,
                sleep,
                selector=options.selector,
            ),
            record=self.record,
            backoffs=self.schedule.backoffs,
            clock=clock,
            wall=wall,
            lock=lock,
            log=self.log,
            deletions=PruneDelay(self.log),
            notifier=self._notifier(dispatcher, clock, wall),
        )
        self.listeners = list(listeners)
        self._changes = changes
        self._wake = asyncio.Event()

    def _notifier(
        self,
        dispatcher: Dispatcher | None,
        clock: Callable[[], float],
        wall: Callable[[], datetime],
    ) -> Notifier | None:
        """The notifier over `dispatcher`, whose deliveries also go to the log and the record."""
        if dispatcher is None:
            return None
        self.dispatcher, outer = dispatcher, dispatcher.on_delivery

        def delivered(delivery: Delivery) -> None:
            self._delivered(delivery)
            outer(delivery)

        dispatcher.on_delivery = delivered
        return Notifier(dispatcher, clock, wall)

    def _delivered(self, delivery: Delivery) -> None:
        fields = {"receiver": delivery.receiver, "target": delivery.target}
        if delivery.ok:
            self.log.info("notify.sent", **fields, attempts=delivery.attempts)
        else:
            self.log.warning(
                "notify.failed", **fields, attempts=delivery.attempts, error=delivery.error
            )
        stats = self.dispatcher.stats.values() if self.dispatcher else ()
        self.record.notified([s.to_dict() for s in stats])

    def request(self, trigger: Trigger = Trigger.MANUAL) -> None:
        """Reconcile as soon as possible (SIGHUP, POST /reconcile)."""
        self.schedule.request(trigger)
        self._wake.set()

    async def run(self) -> None:
        """Reconcile until the stop event is set."""
        self.record.alive = True
        self.schedule.request(Trigger.STARTUP)
        consumer = asyncio.create_task(self._consume(), name="orc-watch-changes")
        try:
            while not self.stop.is_set():
                self._wake.clear()
                now = self.clock()
                due = self.schedule.due(now)
                if due is None:
                    await self._wait(self.schedule.next_time(), now)
                    continue
                self.schedule.take(due, now)
                if await self._reconcile(due) is None:
                    break
                self.schedule.deletions_due(self.cycle.deletions.next_due(after=now))
                self.schedule.window_due(self.cycle.window_due())
                self._follow_interval()
                self.schedule.finished(self.clock(), full=due.full)
                self._notify()
        finally:
            self.record.alive = False
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
            if self.dispatcher is not None:  # what is queued gets a moment, then stops
                await self.dispatcher.drain(STOP_GRACE)
                await self.dispatcher.close()

    async def _reconcile(self, due: Due) -> CycleSummary | None:
        """Run one reconcile; None when the stop event cancelled it."""
        task = asyncio.create_task(self.cycle.run(due), name="orc-watch-reconcile")
        stopper = asyncio.create_task(self.stop.wait())
        try:
            await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopper.cancel()
        if task.done():
            return task.result()
        self.log.info("reconcile.cancelling", message="stopping: cancelling requests in flight")
        task.cancel()
        await asyncio.wait({task}, timeout=STOP_GRACE)
        self._notify()
        return None

    async def _wait(self, until: float | None, now: float) -> None:
        """Until something may be due: a trigger, a change, the stop event, or `until`."""
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self.stop.wait()),
            asyncio.ensure_future(self._wake.wait()),
        ]
        if until is not None:
            waiters.append(asyncio.ensure_future(self.sleep(max(0.0, until - now))))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _consume(self) -> None:
        try:
            async for paths in self._changes:
                if paths:
                    self.log.info("manifests.changed", files=sorted(paths)[:20])
                    self.schedule.changed(self.clock())
                    self._wake.set()
        except Exception as exc:  # the interval still catches drift; say what broke
            self.log.error("watch.changes_failed", error=f"{type(exc).__name__}: {exc}")
            return
        if not self.stop.is_set():
            self.log.warning("watch.changes_ended", message="file changes are no longer watched")

    def _follow_interval(self) -> None:
        desired = self.record.desired
        if self.options.interval_from_manifests and desired is not None:
            self.schedule.set_interval(desired.interval)
            self.record.interval = desired.interval

    def _notify(self) -> None:
        for listener in self.listeners:
            try:
                listener(self.record)
            except Exception as exc:  # a full disk must not stop the loop
                self.log.error("watch.listener_failed", error=f"{type(exc).__name__}: {exc}")
