"""Which receiver hears which event: its `events`, its `instances` selector, its cool-down.

Pure, with the clock passed in. A receiver hears an event of a kind it asked for, of an
instance its selector matches (fleet-wide events, which name no instance, always match). The
same kind of event about the same instance (or the fleet) is told to a receiver at most once per
`repeatInterval`, so a flapping server does not flood a channel. The events of one reconcile
that a receiver hears go to it together, as one message.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from reconciler.desired import Receiver
from reconciler.notify.events import NotificationEvent


@dataclass(frozen=True, slots=True)
class Batch:
    """The events of one reconcile for one receiver: one message."""

    receiver: Receiver
    events: tuple[NotificationEvent, ...]


@dataclass
class CoolDown:
    """When each (receiver, kind, instance) was last told; `None` instance: the fleet."""

    last: dict[tuple[str, str, str | None], float] = field(default_factory=dict)

    def allows(self, receiver: Receiver, event: NotificationEvent, now: float) -> bool:
        """Whether the receiver may hear this event now (not told within repeatInterval)."""
        told = self.last.get((receiver.name, str(event.kind), event.instance))
        return told is None or now - told >= receiver.repeat_interval

    def told(self, receiver: Receiver, event: NotificationEvent, now: float) -> None:
        """Remember that the receiver was told this event now."""
        self.last[(receiver.name, str(event.kind), event.instance)] = now


def route(
    receivers: Sequence[Receiver],
    events: Sequence[NotificationEvent],
    labels: Mapping[str, Mapping[str, str]],
    cooldown: CoolDown,
    now: float,
) -> list[Batch]:
    """One batch per receiver that hears at least one event; remembers what was told."""
    batches: list[Batch] = []
    for receiver in receivers:
        heard = [
            event
            for event in events
            if str(event.kind) in receiver.events
            and (event.instance is None or receiver.matches(labels.get(event.instance, {})))
            and cooldown.allows(receiver, event, now)
        ]
        for event in heard:
            cooldown.told(receiver, event, now)
        if heard:
            batches.append(Batch(receiver, tuple(heard)))
    return batches
