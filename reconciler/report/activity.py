"""Recent applied actions as entries of the status document (`recentApplies`), newest last.

`orc status --format html` and `orc watch` read them from the state directory's history; the
HTML page lists them under Activity.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from reconciler.state import HistoryRecord

RECENT_APPLIES = 20  # actions the page lists


def history_entries(records: Iterable[HistoryRecord]) -> list[dict[str, Any]]:
    """The history records as JSON objects, in the order given."""
    return [
        {
            "runId": r.run_id,
            "startedAt": r.started_at,
            "finishedAt": r.finished_at,
            "instance": r.instance,
            "kind": r.kind,
            "model": r.model,
            "outcome": r.outcome,
            "error": r.error,
            "attempts": r.attempts,
            "seconds": round(r.seconds, 3),
        }
        for r in records
    ]
