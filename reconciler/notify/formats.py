"""The bodies of notifications: generic JSON, Slack, Microsoft Teams, Alertmanager. Pure.

- `generic`: orc's own document, described by `schemas/notification.v1.schema.json`.
- `slack`: an incoming-webhook message (`text` as the fallback, `blocks` to show).
- `teams`: a message with one Adaptive Card, as Teams workflow webhooks take it.
- `alertmanager`: a list of alerts for Alertmanager's `POST /api/v2/alerts`. Problems fire for
  a day unless resolved: a recovery resolves the instance's failure and drift alerts, valid
  manifests resolve the invalid-manifests alert; `applied` is an `info` alert of five minutes.

Bodies are made of the events only (instance names, messages, details), never of URLs or
secrets.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from reconciler.notify.events import EventKind, NotificationEvent

FORMAT_VERSION = "orc.notification/v1"
MAX_DETAILS = 20  # per event, in every format; the rest is counted
FIRING = timedelta(hours=24)
INFO = timedelta(minutes=5)

_TITLES = {
    EventKind.DRIFT: "Drift",
    EventKind.FAILURE: "Failure",
    EventKind.RECOVERY: "Recovery",
    EventKind.APPLIED: "Applied",
    EventKind.REFUSED: "Plan refused",
    EventKind.INVALID: "Invalid manifests",
}
_ICONS = {
    EventKind.DRIFT: ":warning:",
    EventKind.FAILURE: ":red_circle:",
    EventKind.RECOVERY: ":large_green_circle:",
    EventKind.APPLIED: ":white_check_mark:",
    EventKind.REFUSED: ":no_entry:",
    EventKind.INVALID: ":x:",
}
_BAD = (EventKind.FAILURE, EventKind.INVALID, EventKind.REFUSED)
_ALERTS = {
    EventKind.DRIFT: ("OrcDrift", "warning"),
    EventKind.FAILURE: ("OrcFailure", "critical"),
    EventKind.APPLIED: ("OrcApplied", "info"),
    EventKind.REFUSED: ("OrcPlanRefused", "warning"),
    EventKind.INVALID: ("OrcManifestsInvalid", "warning"),
}


def render(
    fmt: str, fleet: str, events: Sequence[NotificationEvent], now: datetime, source: str
) -> bytes:
    """The JSON body of one message in this format (`source`: `orc watch` or `orc apply`)."""
    body: Any
    if fmt == "slack":
        body = slack(fleet, events)
    elif fmt == "teams":
        body = teams(fleet, events)
    elif fmt == "alertmanager":
        body = alertmanager(fleet, events, now)
    else:
        body = generic(fleet, events, now, source)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def generic(
    fleet: str, events: Sequence[NotificationEvent], now: datetime, source: str
) -> dict[str, Any]:
    """orc's own format (schemas/notification.v1.schema.json)."""
    return {
        "version": FORMAT_VERSION,
        "fleet": fleet,
        "source": source,
        "time": _iso(now),
        "summary": summary(fleet, events),
        "events": [
            {
                "kind": str(e.kind),
                "instance": e.instance,
                "message": e.message,
                "details": list(_details(e)),
            }
            for e in events
        ],
    }


def summary(fleet: str, events: Sequence[NotificationEvent]) -> str:
    """One line: `fleet prod: 1 failure, 2 applied`."""
    counts: dict[EventKind, int] = {}
    for e in events:
        counts[e.kind] = counts.get(e.kind, 0) + 1
    parts = ", ".join(f"{n} {kind}" for kind, n in counts.items())
    return f"fleet {fleet}: {parts}"


def slack(fleet: str, events: Sequence[NotificationEvent]) -> dict[str, Any]:
    """A Slack incoming-webhook message."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"orc: fleet {fleet}"[:150]}}
    ]
    for e in events:
        lines = [f"{_ICONS[e.kind]} *{_TITLES[e.kind]}*: {_slack_escape(e.message)}"]
        lines += [f"• {_slack_escape(d)}" for d in _details(e)]
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    return {"text": _slack_escape(summary(fleet, events)), "blocks": blocks[:50]}


def teams(fleet: str, events: Sequence[NotificationEvent]) -> dict[str, Any]:
    """A Teams message carrying one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "size": "Medium", "weight": "Bolder", "text": f"orc: fleet {fleet}"}
    ]
    for e in events:
        body.append(
            {
                "type": "TextBlock",
                "wrap": True,
                "text": f"**{_TITLES[e.kind]}**: {e.message}",
                "color": "Attention" if e.kind in _BAD else "Default",
            }
        )
        body += [{"type": "TextBlock", "wrap": True, "text": f"- {d}"} for d in _details(e)]
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    return {
        "type": "message",
        "summary": summary(fleet, events),
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


def alertmanager(
    fleet: str, events: Sequence[NotificationEvent], now: datetime
) -> list[dict[str, Any]]:
    """Alerts for Alertmanager's API (see the module docstring for firing and resolving)."""
    alerts: list[dict[str, Any]] = []
    for e in events:
        if e.kind is EventKind.RECOVERY:
            kinds = (EventKind.FAILURE, EventKind.DRIFT) if e.instance else (EventKind.INVALID,)
            alerts += [_alert(fleet, kind, e, now, ends=now) for kind in kinds]
        else:
            lasts = INFO if e.kind is EventKind.APPLIED else FIRING
            alerts.append(_alert(fleet, e.kind, e, now, ends=now + lasts))
    return alerts


def _alert(
    fleet: str, kind: EventKind, event: NotificationEvent, now: datetime, ends: datetime
) -> dict[str, Any]:
    name, severity = _ALERTS[kind]
    labels = {"alertname": name, "fleet": fleet, "severity": severity}
    if event.instance is not None:
        labels["instance"] = event.instance
    annotations = {"summary": event.message}
    details = _details(event)
    if details:
        annotations["description"] = "\n".join(details)
    return {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _iso(now),
        "endsAt": _iso(ends),
    }


def _details(event: NotificationEvent) -> tuple[str, ...]:
    shown = event.details[:MAX_DETAILS]
    more = len(event.details) - len(shown)
    return (*shown, f"... and {more} more") if more else shown


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
