"""The history's figures in the status: JSON keys, the figures table, `—` for an empty history."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.report import (
    build_status,
    render_status_json,
    render_status_markdown,
    render_status_table,
)
from reconciler.state import FigureBook, FleetFigures, to_ms

Golden = Callable[[str, str], None]
Validate = Callable[[str, Any], None]


def _figures(now: datetime) -> FleetFigures:
    """gpu-1: 3 of 4 probes up, a timeout 40 minutes ago, chats; the others: no history."""
    book = FigureBook(86400.0)
    for minutes, up, ms in ((50, True, 40.0), (40, False, None), (30, True, 50.0), (5, True, 60.0)):
        at = to_ms(now - timedelta(minutes=minutes))
        book.add_probe(at, "gpu-1", up, ms, reason="Timeout", message="no reply within 10s")
    book.add_chat(to_ms(now - timedelta(minutes=3)), "gpu-1", "ok", 320.0)
    book.add_chat(to_ms(now - timedelta(minutes=2)), "gpu-1", "failed", None)
    return book.figures(now)


def test_without_figures_the_document_has_no_history_keys(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    document = build_status(desired, observed, now).to_dict()
    assert "historyWindow" not in document
    assert not {"uptime", "latency", "lastError", "chat"} & set(document["instances"][0])


def test_figures_are_keys_of_each_instance_and_validate(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, validate: Validate
) -> None:
    document = json.loads(render_status_json(build_status(desired, observed, now, _figures(now))))
    validate("status.v1.schema.json", document)
    gpu = next(i for i in document["instances"] if i["name"] == "gpu-1")
    assert gpu["uptime"] == 0.75
    assert gpu["latency"]["p50Ms"] == pytest.approx(50.0, rel=0.01)
    assert gpu["latency"]["p95Ms"] == pytest.approx(60.0, rel=0.01)
    assert len(gpu["latency"]["series"]) == 3
    assert gpu["lastError"]["reason"] == "Timeout"
    assert gpu["lastError"]["at"] == (now - timedelta(minutes=40)).isoformat()
    assert gpu["chat"] == {"requests": 2, "successRate": 0.5, "meanTtftMs": 320.0}
    other = next(i for i in document["instances"] if i["name"] == "cloud-1")
    assert other["uptime"] is None and other["lastError"] is None and other["chat"] is None
    assert other["latency"] == {"p50Ms": None, "p95Ms": None, "series": []}
    assert document["historyWindow"]["seconds"] == 86400.0


def test_the_watch_document_with_figures_validates(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, validate: Validate
) -> None:
    document = build_status(desired, observed, now, _figures(now)).to_dict(models=True)
    document |= {
        "mode": "plan",
        "conditions": [],
        "lastReconcile": None,
        "manifests": {"valid": True, "paths": [], "revision": None, "diagnostics": []},
        "owned": {"selector": {}, "instances": []},
    }
    validate("watch-status.v1.schema.json", document)


def test_tables_show_the_figures_below_the_instances(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, golden: Golden
) -> None:
    status = build_status(desired, observed, now, _figures(now))
    golden("status-history.txt", render_status_table(status, width=140))
    golden("status-history.md", render_status_markdown(status))


def test_an_empty_history_shows_dashes(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, golden: Golden
) -> None:
    empty = FigureBook(3600.0).figures(now)
    text = render_status_table(build_status(desired, observed, now, empty), width=140)
    golden("status-history-empty.txt", text)
    rows = text.split("History of the last 1h (probes and chats):")[1].splitlines()[3:7]
    assert all(row.split()[1:] == ["—", "—", "—", "—"] for row in rows)


def test_the_figures_leave_the_instances_table_as_it_was(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    plain = render_status_table(build_status(desired, observed, now), width=140)
    rich = render_status_table(build_status(desired, observed, now, _figures(now)), width=140)
    table = plain.rsplit("\n", 2)[0]  # without the verdict line
    assert rich.startswith(table)
