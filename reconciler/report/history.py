"""The document of `orc history`: applies, probes and chats over a span, newest last.

Built from the state directory's records (schemas/history.v1.schema.json); the table and
Markdown forms are in `history_text`. Messages come from the records, which never hold a secret.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.state import ChatRecord, HistoryRecord, ProbeRecord, from_ms

FORMAT_VERSION = "1"
KINDS = ("apply", "probe", "chat")


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One line of the history: when, which instance, what, how it ended, and the details."""

    kind: str  # apply | probe | chat
    at: datetime
    instance: str
    subject: str  # apply: `pull llama3.2:3b`; probe: the health; chat: the model
    outcome: str  # apply: done/failed/...; probe: up/down; chat: ok/failed/refused/unavailable
    detail: str  # one short human sentence
    data: dict[str, Any] = field(default_factory=dict)  # the kind's own JSON fields


@dataclass(frozen=True, slots=True)
class History:
    """The events shown (newest `limit` ones), and how many more there were."""

    since: datetime
    generated_at: datetime
    kinds: tuple[str, ...]
    instance: str | None
    events: tuple[HistoryEvent, ...]
    omitted: int = 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schemas/history.v1.schema.json)."""
        return {
            "format_version": FORMAT_VERSION,
            "kind": "History",
            "generated_at": self.generated_at.isoformat(),
            "since": self.since.isoformat(),
            "instance": self.instance,
            "kinds": list(self.kinds),
            "omitted": self.omitted,
            "events": [_event_dict(e) for e in self.events],
        }


def build_history(
    *,
    since: datetime,
    now: datetime,
    kinds: Sequence[str],
    instance: str | None,
    applies: Sequence[HistoryRecord] = (),
    probes: Sequence[ProbeRecord] = (),
    chats: Sequence[ChatRecord] = (),
    total: int | None = None,
    limit: int | None = None,
) -> History:
    """The newest `limit` events of all kinds, oldest first; `total` counts those not read."""
    events = [*map(apply_event, applies), *map(probe_event, probes), *map(chat_event, chats)]
    events.sort(key=lambda e: (e.at, KINDS.index(e.kind), e.instance))
    shown = events[-limit:] if limit is not None and limit < len(events) else events
    everything = max(total if total is not None else len(events), len(events))
    return History(since, now, tuple(kinds), instance, tuple(shown), everything - len(shown))


def apply_event(record: HistoryRecord) -> HistoryEvent:
    """An applied action, as it ended."""
    tries = f", {record.attempts} attempts" if record.attempts > 1 else ""
    detail = f"{record.seconds:g}s{tries}" + (f": {record.error}" if record.error else "")
    return HistoryEvent(
        "apply",
        datetime.fromisoformat(record.finished_at),
        record.instance,
        f"{record.kind} {record.model}",
        record.outcome,
        detail,
        {
            "action": record.kind,
            "model": record.model,
            "outcome": record.outcome,
            "error": record.error,
            "attempts": record.attempts,
            "seconds": record.seconds,
            "runId": record.run_id,
            "startedAt": datetime.fromisoformat(record.started_at).isoformat(),
        },
    )


def probe_event(record: ProbeRecord) -> HistoryEvent:
    """One probe: up with its latency and version, or down with the reason."""
    if record.up:
        latency = "-" if record.latency_ms is None else f"{record.latency_ms:.0f} ms"
        detail = f"{latency}, version {record.version or '-'}"
    else:
        detail = f"{record.reason or 'Unknown'}: {record.message or ''}".rstrip(": ")
    return HistoryEvent(
        "probe",
        from_ms(record.at_ms),
        record.instance,
        record.health,
        "up" if record.up else "down",
        detail,
        {
            "health": record.health,
            "up": record.up,
            "latencyMs": record.latency_ms,
            "version": record.version,
            "reason": record.reason,
            "message": record.message,
        },
    )


def chat_event(record: ChatRecord) -> HistoryEvent:
    """One instance's attempt at a chat."""
    parts = []
    if record.ttft_ms is not None:
        parts.append(f"first token {record.ttft_ms:.0f} ms")
    if record.tokens_per_second is not None:
        parts.append(f"{record.tokens_per_second:.1f} tokens/s")
    if record.failovers:
        parts.append(f"after {record.failovers} failover{'s' if record.failovers > 1 else ''}")
    if record.reason:
        parts.append(record.reason)
    return HistoryEvent(
        "chat",
        from_ms(record.at_ms),
        record.instance or "-",
        record.model,
        record.outcome,
        ", ".join(parts),
        {
            "model": record.model,
            "outcome": record.outcome,
            "ttftMs": record.ttft_ms,
            "tokensPerSecond": record.tokens_per_second,
            "failovers": record.failovers,
            "reason": record.reason,
        },
    )


def render_history_json(history: History) -> str:
    """The history as indented JSON text, ending with a newline."""
    return json.dumps(history.to_dict(), indent=2, ensure_ascii=False) + "\n"


def _event_dict(event: HistoryEvent) -> dict[str, Any]:
    return {
        "kind": event.kind,
        "at": event.at.isoformat(),
        "instance": event.instance if event.instance != "-" else None,
        **event.data,
    }
