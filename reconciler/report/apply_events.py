"""Apply progress and outcomes as text lines and as JSON events.

The JSON events are documented by schemas/apply-events.v1.schema.json.

Pure functions of the executor's events; the CLI decides where they go and how often.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.text import Text

from reconciler.apply import (
    ActionFinished,
    ActionProgress,
    ActionResult,
    ActionRetry,
    ActionStarted,
    ApplyResult,
    Event,
    Outcome,
)
from reconciler.plan import Action, Plan
from reconciler.report.style import to_text
from reconciler.report.units import size

EVENTS_FORMAT_VERSION = "1"

_SYMBOL = {"pull": "+", "create": "~", "load": "*", "delete": "-", "update": "^"}
_OUTCOME_STYLE = {
    Outcome.DONE: "green",
    Outcome.FAILED: "red",
    Outcome.SKIPPED: "yellow",
    Outcome.CANCELLED: "yellow",
}


def describe(action: Action) -> str:
    """`gpu-1: + pull llama3.2:3b`."""
    return f"{action.instance}: {_SYMBOL[action.kind.value]} {action.kind.value} {action.model}"


def result_line(result: ActionResult, *, color: bool = False) -> str:
    """One line for a finished action: `gpu-1: + pull llama3.2:3b ... done (12.3 s)`."""
    took = f" ({result.seconds:.1f} s)" if result.outcome is Outcome.DONE else ""
    detail = f": {result.error}" if result.error else ""
    line = Text.assemble(
        f"{describe(result.action)} ... ",
        (result.outcome.value, _OUTCOME_STYLE[result.outcome]),
        f"{took}{detail}",
    )
    return to_text(line, color=color, width=10_000).rstrip("\n")


def event_line(event: Event) -> str | None:
    """A plain line for an event (no terminal), or None for events that have none."""
    if isinstance(event, ActionStarted):
        return f"{describe(event.action)} ..."
    if isinstance(event, ActionRetry):
        return (
            f"{describe(event.action)}: attempt {event.attempt} failed ({event.error}); "
            f"retrying in {event.delay:.1f} s"
        )
    if isinstance(event, ActionFinished):
        return result_line(event.result)
    return None


def pull_line(event: ActionProgress) -> str:
    """A plain progress line for a pull: `gpu-1: + pull m: 1.2 GB / 4.7 GB (25%)`."""
    if event.total:
        pct = 100 * event.completed // event.total
        sizes = f"{size(event.completed)} / {size(event.total)} ({pct}%)"
        return f"{describe(event.action)}: {sizes}"
    return f"{describe(event.action)}: {event.status}"


def event_json(event: Event, now: datetime | None = None) -> dict[str, Any]:
    """The JSON object of one event."""
    stamp = (now or datetime.now(UTC)).isoformat()
    if isinstance(event, ActionFinished):
        return {"type": "action_finished", "time": stamp, **result_json(event.result)}
    base = {"time": stamp, **_action_json(event.action)}
    if isinstance(event, ActionStarted):
        return {"type": "action_started", **base}
    if isinstance(event, ActionRetry):
        return {
            "type": "action_retry",
            **base,
            "attempt": event.attempt,
            "delay": round(event.delay, 3),
            "error": event.error,
        }
    return {
        "type": "pull_progress",
        **base,
        "status": event.status,
        "completed": event.completed,
        "total": event.total,
    }


def result_json(result: ActionResult) -> dict[str, Any]:
    """An action's outcome as JSON fields."""
    return {
        **_action_json(result.action),
        "outcome": result.outcome.value,
        "error": result.error,
        "attempts": result.attempts,
        "seconds": round(result.seconds, 3),
    }


def plan_event(plan: Plan, now: datetime | None = None) -> dict[str, Any]:
    """The first event of a JSON apply: the plan being carried out."""
    stamp = (now or datetime.now(UTC)).isoformat()
    return {
        "type": "plan",
        "time": stamp,
        "format_version": EVENTS_FORMAT_VERSION,
        "plan": plan.to_dict(),
    }


def summary_event(
    result: ApplyResult, verified: Plan | None, now: datetime | None = None
) -> dict[str, Any]:
    """The last event of a JSON apply: counts, the exit code, and the re-observation."""
    stamp = (now or datetime.now(UTC)).isoformat()
    counts = {o.value: result.count(o) for o in Outcome}
    return {
        "type": "summary",
        "time": stamp,
        "message": result.summary(),
        "counts": counts,
        "interrupted": result.interrupted,
        "exit_code": int(result.exit_code),
        "in_sync": None if verified is None else not verified.has_changes,
        "remaining": [] if verified is None else [a.id for a in verified.actions],
    }


def verify_line(verified: Plan) -> str:
    """What the re-observation after apply found."""
    if not verified.has_changes and not verified.blocked:
        return "Verified: the instances touched now match the manifests."
    remaining = len(verified.actions)
    blocked = len(verified.blocked)
    parts = []
    if remaining:
        parts.append(f"{remaining} change{'s' if remaining != 1 else ''} still to make")
    if blocked:
        parts.append(f"{blocked} instance{'s' if blocked != 1 else ''} could not be checked")
    return f"Not yet in sync: {', '.join(parts)}. Run `orc plan` to see them."


def _action_json(action: Action) -> dict[str, Any]:
    return {"instance": action.instance, "kind": action.kind.value, "model": action.model.display}
