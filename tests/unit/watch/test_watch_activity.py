"""What the dashboard's Activity reads from the daemon: recent reconciles, recent applies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

from reconciler.errors import StateError
from reconciler.watch.record import RECENT_RECONCILES

LLAMA = "llama3.2:3b"
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "watch-status.v1.schema.json").read_text()
)
APPLIED = {
    "runId": "0a1b2c3d4e5f",
    "startedAt": "2025-06-01T12:00:00Z",
    "finishedAt": "2025-06-01T12:00:01Z",
    "instance": "a",
    "kind": "pull",
    "model": LLAMA,
    "outcome": "done",
    "error": None,
    "attempts": 1,
    "seconds": 0.5,
}


async def test_recent_reconciles_are_kept_newest_last_and_bounded(bench) -> None:
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    await b.clock.advance(10)
    document = b.record.document
    assert [r["trigger"] for r in document["recentReconciles"]] == ["startup", "interval"]
    assert document["recentReconciles"][-1] == document["lastReconcile"]
    for _ in range(RECENT_RECONCILES + 5):
        await b.clock.advance(10)
    recent = b.record.document["recentReconciles"]
    assert len(recent) == RECENT_RECONCILES
    assert recent[-1]["number"] == b.cycles
    assert [r["number"] for r in recent] == list(
        range(b.cycles - RECENT_RECONCILES + 1, b.cycles + 1)
    )
    jsonschema.Draft202012Validator(SCHEMA).validate(b.record.document)


async def test_recent_applies_come_from_the_history_and_survive_a_busy_state(bench) -> None:
    answers: list[Any] = [[APPLIED], StateError("state database busy")]

    def history() -> list[dict[str, Any]]:
        answer = answers.pop(0) if answers else []
        if isinstance(answer, Exception):
            raise answer
        return answer

    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.loop.record.history = history
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()  # the reconcile's start reads nothing new; its end reads [APPLIED]
    assert b.record.document["recentApplies"] == [APPLIED]
    jsonschema.Draft202012Validator(SCHEMA).validate(b.record.document)
    await b.clock.advance(10)  # this time the state database is busy: the list stays
    assert b.record.document["recentApplies"] == [APPLIED]
