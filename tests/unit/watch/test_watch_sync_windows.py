"""`orc watch --mode apply` under a sync window, on a fake clock: the held pull is planned,
reported in /status, the log and the metrics, and made when the window closes."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from reconciler.watch import Mode
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.results import Result

LLAMA = "llama3.2:3b"
SCHEMA = Path(__file__).resolve().parents[3] / "schemas" / "watch-status.v1.schema.json"
# The bench's clock starts at 2025-06-01 12:00 UTC: this window has just opened.
FLEET = """\
apiVersion: ollama-reconciler/v1
kind: Fleet
spec:
  syncWindows:
    - name: lunch
      kind: deny
      schedule: "0 12 * * *"
      duration: 1h
      actions: [pull]
"""


@pytest.fixture(autouse=True)
def _capture(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.watch")


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict[str, Any]]:
    return [r.orc_fields for r in caplog.records if r.getMessage() == name]  # type: ignore[attr-defined]


async def test_a_held_pull_waits_for_the_window_to_close_then_is_made(
    bench: Any, caplog: pytest.LogCaptureFixture
) -> None:
    watch = bench({"a": []}, interval=86400.0, jitter=0.0)
    watch.write("fleet.yaml", FLEET)
    watch.write("a.yaml", watch.manifest("a", [LLAMA]))

    await watch.start()

    assert watch.record.last.result is Result.HELD
    assert watch.server("a").models == set()
    assert watch.reconciler.applied == []
    assert watch.record.last.message.endswith(
        "1 action held back by sync windows; next window opens at 2025-06-01T13:00:00+00:00."
    )
    document = watch.record.document
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text())).validate(document)
    assert document["syncWindows"] == {
        "held": [
            {
                "instance": "a",
                "action": "pull",
                "model": LLAMA,
                "window": "lunch",
                "until": "2025-06-01T13:00:00+00:00",
            }
        ],
        "nextOpening": "2025-06-01T13:00:00+00:00",
    }
    assert events(caplog, "syncwindow.held") == [
        {
            "window": "lunch",
            "actions": 1,
            "until": "2025-06-01T13:00:00+00:00",
            "message": "planned, not made: carried out once the window allows",
        }
    ]
    metrics = WatchMetrics()
    metrics.reconciled(watch.record)
    assert 'orc_sync_window_held_actions{window="lunch"} 1.0' in metrics.render().decode()

    await watch.clock.advance(3599)
    assert watch.server("a").models == set()

    await watch.clock.advance(1)

    assert watch.server("a").models == {LLAMA}
    assert watch.record.last.trigger == "sync-window"
    assert watch.record.last.result is Result.APPLIED
    assert watch.record.document["syncWindows"] == {"held": [], "nextOpening": None}


async def test_plan_mode_reports_held_actions_without_waking_for_them(bench: Any) -> None:
    watch = bench({"a": []}, interval=86400.0, jitter=0.0, mode=Mode.PLAN)
    watch.write("fleet.yaml", FLEET)
    watch.write("a.yaml", watch.manifest("a", [LLAMA]))

    await watch.start()
    await watch.clock.advance(3600)

    assert watch.cycles == 1
    assert watch.record.last.result is Result.DRIFT
    assert [h["window"] for h in watch.record.document["syncWindows"]["held"]] == ["lunch"]


async def test_without_windows_the_status_has_no_sync_window_part(bench: Any) -> None:
    watch = bench({"a": []}, interval=86400.0, jitter=0.0)
    watch.write("a.yaml", watch.manifest("a", [LLAMA]))

    await watch.start()

    assert watch.server("a").models == {LLAMA}
    assert "syncWindows" not in watch.record.document
