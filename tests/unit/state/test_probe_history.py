"""The probe and chat history in the state database: writes, bounded pruning, upgrade, failures."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.state import ChatOutcome, ChatRecord, FigureFeed, ProbeRecord, StateDir
from reconciler.state.database import open_database
from reconciler.state.probes import PRUNE_MIN, prune

DAY_MS = 86_400_000


def probe(at_ms: int, name: str = "gpu-1", *, up: bool = True, ms: float = 12.0) -> ProbeRecord:
    if up:
        return ProbeRecord(at_ms, name, "Healthy", True, ms, "0.12.6")
    return ProbeRecord(at_ms, name, "Unreachable", False, None, None, "ConnectionRefused", "down")


def rows(state: StateDir, table: str) -> list[tuple[object, ...]]:
    db = sqlite3.connect(state.db_path)
    try:
        return db.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
    finally:
        db.close()


def test_a_round_of_probes_is_written_and_read_back_newest_last(tmp_path: Path) -> None:
    with StateDir(tmp_path) as state:
        state.record_probes([probe(1000, "a"), probe(1000, "b", up=False)])
        state.record_probes([probe(2000, "a", ms=30.5)])
        found, total = state.probe_history(0)
        assert total == 3
        assert [(p.at_ms, p.instance, p.up) for p in found] == [
            (1000, "a", True),
            (1000, "b", False),
            (2000, "a", True),
        ]
        assert found[1].reason == "ConnectionRefused"
        only_a, count = state.probe_history(1500, instance="a")
        assert count == 1 and only_a[0].latency_ms == 30.5
        newest, count = state.probe_history(0, limit=1)
        assert count == 3 and [p.at_ms for p in newest] == [2000]


def test_chats_are_written_and_read_back(tmp_path: Path) -> None:
    with StateDir(tmp_path) as state:
        state.record_chats(
            [
                ChatRecord(5, "gpu-a", "llama3.2:3b", ChatOutcome.FAILED, reason="unreachable"),
                ChatRecord(5, "gpu-b", "llama3.2:3b", ChatOutcome.OK, 120.0, 48.5, 1),
            ]
        )
        found, total = state.chat_history(0)
    assert total == 2
    assert [(c.instance, c.outcome, c.failovers) for c in found] == [
        ("gpu-a", "failed", 0),
        ("gpu-b", "ok", 1),
    ]


def test_old_probes_are_pruned_as_new_ones_are_written(tmp_path: Path) -> None:
    with StateDir(tmp_path, retention=86400.0) as state:
        state.record_probes([probe(t) for t in range(0, 50)])
        state.record_probes([probe(2 * DAY_MS)])  # everything before day 1 has expired
        kept = rows(state, "probe_history")
    assert [r[1] for r in kept] == [2 * DAY_MS]


def test_a_write_prunes_a_bounded_number_of_rows(tmp_path: Path) -> None:
    """A large backlog goes a few hundred rows per write, never all at once."""
    with StateDir(tmp_path, retention=86400.0) as state:
        backlog = 3 * PRUNE_MIN
        state.record_probes([probe(t) for t in range(backlog)])
        state.record_probes([probe(2 * DAY_MS)])
        assert len(rows(state, "probe_history")) == backlog + 1 - PRUNE_MIN
        state.record_probes([probe(2 * DAY_MS + 1)])
        state.record_probes([probe(2 * DAY_MS + 2)])
        state.record_probes([probe(2 * DAY_MS + 3)])
        assert [r[1] for r in rows(state, "probe_history")] == [2 * DAY_MS + i for i in range(4)]


def test_pruning_only_looks_at_the_oldest_rows(tmp_path: Path) -> None:
    """Rows beyond the first `at_most` by id are never examined, whatever their age."""
    db = open_database(tmp_path / "state.db", 1.0)
    try:
        with db:
            insert = (
                "INSERT INTO probe_history (at_ms, instance, health, up)"
                " VALUES (?, 'a', 'Healthy', 1)"
            )
            db.executemany(insert, [(t,) for t in (100, 200, 5, 6, 7)])
            assert prune(db, "probe_history", 50, 2) == 0  # the two oldest ids are recent
            assert prune(db, "probe_history", 50, 5) == 3
    finally:
        db.close()


def test_recent_rows_are_kept(tmp_path: Path) -> None:
    with StateDir(tmp_path) as state:  # 30 days by default
        state.record_probes([probe(0)])
        state.record_probes([probe(29 * DAY_MS)])
        assert len(rows(state, "probe_history")) == 2
        state.record_chats([ChatRecord(0, "a", "m", ChatOutcome.OK)])
        state.record_chats([ChatRecord(31 * DAY_MS, "a", "m", ChatOutcome.OK)])
        assert [r[1] for r in rows(state, "chat_history")] == [31 * DAY_MS]


def test_a_version_1_database_gains_the_tables_and_keeps_its_apply_history(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    old = sqlite3.connect(path)
    old.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema_version', '1');
        CREATE TABLE show_cache (digest TEXT PRIMARY KEY, data TEXT NOT NULL,
            stored_at TEXT NOT NULL);
        CREATE TABLE apply_history (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT NOT NULL, instance TEXT NOT NULL,
            kind TEXT NOT NULL, model TEXT NOT NULL, outcome TEXT NOT NULL, error TEXT,
            attempts INTEGER NOT NULL, seconds REAL NOT NULL);
        INSERT INTO apply_history VALUES (1, 'r1', '2026-01-01T00:00:00Z',
            '2026-01-01T00:00:05Z', 'gpu-1', 'pull', 'llama3.2:3b', 'done', NULL, 1, 5.0);
        PRAGMA user_version = 1;
        """
    )
    old.close()
    with StateDir(tmp_path) as state:
        state.record_probes([probe(1)])
        assert [r.model for r in state.apply_history_since("2026-01-01T00:00:00Z")] == [
            "llama3.2:3b"
        ]
        assert len(rows(state, "probe_history")) == 1


def test_an_unwritable_directory_skips_the_history_and_says_so_once(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    said: list[str] = []
    with StateDir(blocker / "state", warn=said.append) as state:
        state.record_probes([probe(1)])
        state.record_chats([ChatRecord(1, "a", "m", ChatOutcome.OK)])
        state.record_probes([probe(2)])
        assert not state.records_history
        assert state.figures(FigureFeed(), datetime.now(UTC)) is None
    assert len(said) == 1 and "not writable" in said[0]


def test_nothing_to_record_opens_nothing(tmp_path: Path) -> None:
    with StateDir(tmp_path / "state") as state:
        state.record_probes([])
        state.record_chats([])
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("table", ["probe_history", "chat_history"])
def test_history_tables_have_an_index_on_instance_and_time(tmp_path: Path, table: str) -> None:
    db = open_database(tmp_path / "state.db", 1.0)
    try:
        indexes = db.execute(f"PRAGMA index_list({table})").fetchall()
        columns = {
            row[1]: [c[2] for c in db.execute(f"PRAGMA index_info({row[1]})").fetchall()]
            for row in indexes
        }
    finally:
        db.close()
    assert ["instance", "at_ms"] in columns.values()
