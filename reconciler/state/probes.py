"""The fleet's history beside the apply history: one row per probe and per chat attempt.

Rows are small and written in one transaction per probe round (or per chat), so recording costs
little even for a large fleet probed often. Times are UTC milliseconds since the epoch. Old rows
are pruned as new ones are written, a bounded number at a time and only from the oldest end of
the table (rows are appended in time order), so no write ever scans the whole table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

PRUNE_MIN = 200  # rows each write may prune at least, so a backlog shrinks even with few writes

_PROBE_COLUMNS = "at_ms, instance, health, up, latency_ms, version, reason, message"
_CHAT_COLUMNS = "at_ms, instance, model, outcome, ttft_ms, tokens_per_second, failovers, reason"


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """The UTC moment of milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class ProbeRecord:
    """One probe of one instance: when, how it went, and why it failed if it did."""

    at_ms: int
    instance: str
    health: str
    up: bool  # the probe reached the server and read its inventory
    latency_ms: float | None = None
    version: str | None = None
    reason: str | None = None  # CamelCase, e.g. ConnectionRefused; None when up
    message: str | None = None  # one sentence, never a secret; None when up


class ChatOutcome:
    """How one instance's attempt at a chat ended."""

    OK = "ok"  # it answered
    FAILED = "failed"  # it failed (unreachable, timed out, busy, 5xx, ...): the chat moved on
    REFUSED = "refused"  # it refused the request itself (e.g. 400): no instance would do better
    UNAVAILABLE = "unavailable"  # no instance could be tried at all (instance is "")


@dataclass(frozen=True, slots=True)
class ChatRecord:
    """One instance's attempt at a chat (a chat that failed over leaves one row per try)."""

    at_ms: int
    instance: str
    model: str
    outcome: str  # see ChatOutcome
    ttft_ms: float | None = None
    tokens_per_second: float | None = None
    failovers: int = 0  # instances the chat moved past before this one
    reason: str | None = None  # short label of the failure, e.g. "busy (HTTP 503)"


def record_probes(db: sqlite3.Connection, rows: Sequence[ProbeRecord], keep_ms: int) -> None:
    """Append one round of probes and prune old ones, in one transaction."""
    values = [_probe_row(r) for r in rows]
    _record(db, "probe_history", columns=_PROBE_COLUMNS, values=values, rows=rows, keep_ms=keep_ms)


def record_chats(db: sqlite3.Connection, rows: Sequence[ChatRecord], keep_ms: int) -> None:
    """Append the attempts of one chat and prune old ones, in one transaction."""
    values = [astuple(r) for r in rows]
    _record(db, "chat_history", columns=_CHAT_COLUMNS, values=values, rows=rows, keep_ms=keep_ms)


def _probe_row(r: ProbeRecord) -> tuple[object, ...]:
    return (r.at_ms, r.instance, r.health, int(r.up), r.latency_ms, r.version, r.reason, r.message)


def _record(
    db: sqlite3.Connection,
    table: str,
    *,
    columns: str,
    values: list[tuple[object, ...]],
    rows: Sequence[ProbeRecord] | Sequence[ChatRecord],
    keep_ms: int,
) -> None:
    if not values:
        return
    newest = max(r.at_ms for r in rows)
    marks = ",".join("?" * (columns.count(",") + 1))
    with db:
        db.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", values)
        prune(db, table, newest - keep_ms, max(2 * len(values), PRUNE_MIN))


def prune(db: sqlite3.Connection, table: str, before_ms: int, at_most: int) -> int:
    """Delete rows older than `before_ms` among the `at_most` oldest rows of the table.

    Only the first `at_most` rows by id are looked at (rows are appended in time order), so the
    cost is bounded by `at_most`, never by the table's size. Returns how many were deleted.
    """
    cursor = db.execute(
        f"DELETE FROM {table} WHERE id IN (SELECT id FROM"
        f" (SELECT id, at_ms FROM {table} ORDER BY id LIMIT ?) WHERE at_ms < ?)",
        (at_most, before_ms),
    )
    return cursor.rowcount


def read_probes(
    db: sqlite3.Connection,
    since_ms: int,
    instance: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[tuple[int, ProbeRecord]]:
    """Probes since `since_ms` (and with an id above `after_id`), oldest first, with their ids;
    with `limit`, the newest `limit` of them."""
    return [
        (row[0], ProbeRecord(row[1], row[2], row[3], bool(row[4]), *row[5:]))
        for row in _read(
            db,
            "probe_history",
            _PROBE_COLUMNS,
            since_ms=since_ms,
            instance=instance,
            after_id=after_id,
            limit=limit,
        )
    ]


def read_chats(
    db: sqlite3.Connection,
    since_ms: int,
    instance: str | None = None,
    after_id: int = 0,
    limit: int | None = None,
) -> list[tuple[int, ChatRecord]]:
    """Chat attempts since `since_ms`, as `read_probes`."""
    return [
        (row[0], ChatRecord(*row[1:]))
        for row in _read(
            db,
            "chat_history",
            _CHAT_COLUMNS,
            since_ms=since_ms,
            instance=instance,
            after_id=after_id,
            limit=limit,
        )
    ]


def count_since(db: sqlite3.Connection, table: str, since_ms: int, instance: str | None) -> int:
    """How many rows of `table` (probe_history or chat_history) are that recent."""
    where, args = _where(since_ms, instance, 0)
    (count,) = db.execute(f"SELECT count(*) FROM {table} WHERE {where}", args).fetchone()
    return int(count)


def _read(
    db: sqlite3.Connection,
    table: str,
    columns: str,
    *,
    since_ms: int,
    instance: str | None,
    after_id: int,
    limit: int | None,
) -> Iterable[Any]:
    where, args = _where(since_ms, instance, after_id)
    if limit is None:
        return db.execute(f"SELECT id, {columns} FROM {table} WHERE {where} ORDER BY id", args)
    newest: list[Any] = db.execute(
        f"SELECT id, {columns} FROM {table} WHERE {where} ORDER BY at_ms DESC, id DESC LIMIT ?",
        [*args, limit],
    ).fetchall()
    return newest[::-1]


def _where(since_ms: int, instance: str | None, after_id: int) -> tuple[str, list[object]]:
    where: list[str] = ["at_ms >= ?"]
    args: list[object] = [since_ms]
    if instance is not None:
        where.append("instance = ?")
        args.append(instance)
    if after_id:
        where.append("id > ?")
        args.append(after_id)
    return " AND ".join(where), args
