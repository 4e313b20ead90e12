"""Telling people: notifications of drift, failure, recovery, applies, refusals, broken edits.

Pure parts first: `events` (a reconcile's facts → events, by comparing with the previous one),
`routing` (receivers' event kinds, instance selectors and cool-downs; one message per receiver
per reconcile), `formats` (generic JSON, Slack, Teams, Alertmanager). Then `delivery`, which
sends in background tasks with bounded queues, deadlines and retries through
`reconciler.ollama.webhook`, and `notifier`, which joins them for `orc watch` and
`orc apply --notify`.
"""

from __future__ import annotations

from reconciler.notify.delivery import (
    Delivery,
    DeliveryPolicy,
    Dispatcher,
    Message,
    ReceiverStats,
    Sender,
    describe_target,
)
from reconciler.notify.events import (
    Condition,
    EventDetector,
    EventKind,
    InstanceFacts,
    NotificationEvent,
    ReconcileFacts,
    Refused,
    facts_from,
)
from reconciler.notify.formats import render
from reconciler.notify.notifier import Notifier
from reconciler.notify.routing import Batch, CoolDown, route

__all__ = [
    "Batch",
    "Condition",
    "CoolDown",
    "Delivery",
    "DeliveryPolicy",
    "Dispatcher",
    "EventDetector",
    "EventKind",
    "InstanceFacts",
    "Message",
    "NotificationEvent",
    "Notifier",
    "ReceiverStats",
    "ReconcileFacts",
    "Refused",
    "Sender",
    "describe_target",
    "facts_from",
    "render",
    "route",
]
