"""The Activity section of the HTML dashboard: recent reconciles, applied actions, held deletions.

Reconciles come from the daemon (`recentReconciles`, else `lastReconcile`), applied actions from
the state directory's history (`recentApplies`), newest first; values through html_values.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler.report.html_sections import badge, cells_of, table
from reconciler.report.html_values import DASH, ago, items, moment, number, seconds, shown, stamp


def activity(doc: Mapping[str, Any]) -> str:
    """Recent reconciles of the daemon and recent applies from the state history, newest first."""
    now = moment(doc.get("generated_at"))
    reconciles = items(doc.get("recentReconciles")) or items([doc.get("lastReconcile")])
    rec_rows = [_reconcile_row(r, now) for r in reversed(reconciles)]
    applies = [_apply_row(a, now) for a in reversed(items(doc.get("recentApplies")))]
    pending = [_pending_row(p) for p in items(doc.get("pendingDeletions"))]
    parts = [
        "<h3>Reconciles</h3>",
        table(("When", "#", "Trigger", "Result", "Took", "Message"), rec_rows, "none recorded"),
        "<h3>Applied actions</h3>",
        table(
            ("When", "Instance", "Action", "Model", "Outcome", "Tries", "Took", "Error"),
            applies,
            "none recorded",
        ),
    ]
    if pending:
        parts += [
            "<h3>Deletions waiting for pruneDelay</h3>",
            table(("Instance", "Model", "Due"), pending, ""),
        ]
    return f'<section id="activity"><h2>Activity</h2>{"".join(parts)}</section>'


def _reconcile_row(rec: Mapping[str, Any], now: datetime | None) -> str:
    number_ = number(rec.get("number"))
    cells = [
        ago(rec.get("time"), now),
        DASH if number_ is None else f"{number_:.0f}",
        shown(rec.get("trigger")),
        badge(rec.get("result")),
        seconds(rec.get("durationSeconds")),
        shown(rec.get("message")),
    ]
    return f"<tr>{cells_of(cells, wide=5)}</tr>"


def _apply_row(entry: Mapping[str, Any], now: datetime | None) -> str:
    attempts = number(entry.get("attempts"))
    cells = [
        ago(entry.get("finishedAt"), now),
        shown(entry.get("instance")),
        shown(entry.get("kind")),
        f"<code>{shown(entry.get('model'))}</code>",
        badge(entry.get("outcome")),
        DASH if attempts is None else f"{attempts:.0f}",
        seconds(entry.get("seconds")),
        shown(entry.get("error")),
    ]
    return f"<tr>{cells_of(cells, wide=7)}</tr>"


def _pending_row(entry: Mapping[str, Any]) -> str:
    model = f"<code>{shown(entry.get('model'))}</code>"
    cells = [shown(entry.get("instance")), model, stamp(entry.get("dueAt"))]
    return f"<tr>{cells_of(cells, wide=-1)}</tr>"
