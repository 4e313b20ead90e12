"""`Notifier`: from a reconcile's facts to messages on their way, without waiting for them.

It remembers the previous reconcile (`EventDetector`) and what each receiver was told when
(`CoolDown`), routes the events, renders one message per receiver and hands it to the
`Dispatcher`. `orc watch` keeps one for its whole life; `orc apply --notify` makes one per run,
so only the events one run can see (applied, failure, refused) are told there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.desired import DesiredFleet
from reconciler.notify.delivery import Dispatcher, Message
from reconciler.notify.events import EventDetector, NotificationEvent, ReconcileFacts
from reconciler.notify.formats import render
from reconciler.notify.routing import Batch, CoolDown, route


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Notifier:
    """Turns each reconcile into messages; see the module docstring. `clock` is monotonic."""

    dispatcher: Dispatcher
    clock: Callable[[], float]
    wall: Callable[[], datetime] = _utcnow
    source: str = "orc watch"
    detector: EventDetector = field(default_factory=EventDetector)
    cooldown: CoolDown = field(default_factory=CoolDown)

    def reconciled(self, desired: DesiredFleet, facts: ReconcileFacts) -> list[Batch]:
        """Name this reconcile's events and queue a message per receiver that hears some."""
        events = self.detector.detect(facts)
        self.detector.forget({i.name: i for i in desired.instances})
        return self.send(desired, events)

    def send(self, desired: DesiredFleet, events: Sequence[NotificationEvent]) -> list[Batch]:
        """Route these events to the fleet's receivers and queue their messages."""
        if not desired.notifications or not events:
            return []
        labels = {i.name: i.labels for i in desired.instances}
        batches = route(desired.notifications, events, labels, self.cooldown, self.clock())
        now = self.wall()
        for batch in batches:
            body = render(batch.receiver.format, desired.name, batch.events, now, self.source)
            self.dispatcher.submit(Message(batch.receiver, body, len(batch.events)))
        return batches
