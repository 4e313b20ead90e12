"""Two processes recording history into one state directory at once: no error, no lost rows."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from reconciler.state import ChatOutcome, ChatRecord, ProbeRecord, StateDir

ROUNDS, INSTANCES = 60, 50


def _write(folder: str, writer: str, start: Any) -> None:
    start.wait(10)
    with StateDir(folder) as state:
        for n in range(ROUNDS):
            at = 1_000_000 + n
            state.record_probes(
                [ProbeRecord(at, f"{writer}-{i}", "Healthy", True, 1.0) for i in range(INSTANCES)]
            )
            state.record_chats([ChatRecord(at, f"{writer}-0", "m", ChatOutcome.OK, 5.0)])


def test_two_processes_write_at_once_without_errors_or_lost_rows(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    writers = [
        context.Process(target=_write, args=(str(tmp_path), name, start)) for name in ("a", "b")
    ]
    for process in writers:
        process.start()
    start.set()
    for process in writers:
        process.join(60)
    assert [p.exitcode for p in writers] == [0, 0]
    db = sqlite3.connect(tmp_path / "state.db")
    try:
        probes = db.execute(
            "SELECT substr(instance, 1, 1), count(*) FROM probe_history GROUP BY 1"
        ).fetchall()
        chats = db.execute("SELECT count(*) FROM chat_history").fetchone()
    finally:
        db.close()
    assert sorted(probes) == [("a", ROUNDS * INSTANCES), ("b", ROUNDS * INSTANCES)]
    assert chats == (2 * ROUNDS,)
