"""The show cache: `/api/show` replies by digest.

A show reply is fixed for a given digest, so a steady-state plan need not ask for it again; the
cache is a convenience, and everything in it can be fetched again.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from typing import Any


def cached_shows(db: sqlite3.Connection, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The cached show replies for those digests (missing or unreadable ones are absent)."""
    wanted = sorted(set(digests))
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted, 500):
        marks = ",".join("?" * len(chunk))
        query = f"SELECT digest, data FROM show_cache WHERE digest IN ({marks})"
        for digest, data in db.execute(query, chunk):
            with contextlib.suppress(ValueError):
                found[digest] = json.loads(data)
    return found


def store_shows(db: sqlite3.Connection, shows: Mapping[str, Mapping[str, Any]], now: str) -> None:
    """Remember show replies by digest, in one transaction."""
    rows = [(d, json.dumps(dict(s), sort_keys=True), now) for d, s in shows.items()]
    with db:
        db.executemany("INSERT OR REPLACE INTO show_cache VALUES (?, ?, ?)", rows)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
