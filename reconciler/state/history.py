"""The apply history: one row per action of every apply run, as it ended.

It is the one thing in the state directory that cannot be fetched again, which is why a busy
or damaged database is never rebuilt over it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import astuple, dataclass

_COLUMNS = (
    "run_id, started_at, finished_at, instance, kind, model, outcome, error, attempts, seconds"
)


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One action of one apply run, as it ended."""

    run_id: str
    started_at: str
    finished_at: str
    instance: str
    kind: str
    model: str
    outcome: str  # done | failed | skipped | cancelled
    error: str | None
    attempts: int
    seconds: float


def record_history(db: sqlite3.Connection, records: Iterable[HistoryRecord]) -> None:
    """Append records, in one transaction."""
    rows = [astuple(r) for r in records]
    if rows:
        with db:
            sql = f"INSERT INTO apply_history ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)"
            db.executemany(sql, rows)


def read_history(db: sqlite3.Connection, limit: int) -> list[HistoryRecord]:
    """The most recent `limit` records, newest last."""
    sql = f"SELECT {_COLUMNS} FROM apply_history ORDER BY id DESC LIMIT ?"
    rows = db.execute(sql, [limit]).fetchall()
    return [HistoryRecord(*row) for row in reversed(rows)]


def read_since(db: sqlite3.Connection, since: str, instance: str | None) -> list[HistoryRecord]:
    """The records of actions that finished at `since` or later, oldest first."""
    sql = f"SELECT {_COLUMNS} FROM apply_history WHERE finished_at >= ?"
    args = [since]
    if instance is not None:
        sql += " AND instance = ?"
        args.append(instance)
    rows = db.execute(sql + " ORDER BY id", args).fetchall()
    return [HistoryRecord(*row) for row in rows]
