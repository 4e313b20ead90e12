"""Human forms of sizes, latencies, ages and load times in the reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.report import units

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (None, "-"),
        (0, "-"),
        (999, "999 B"),
        (1000, "1.0 KB"),
        (274_302_450, "274.3 MB"),
        (999_960_000, "1.0 GB"),
        (4_661_224_676, "4.7 GB"),
        (40_000_000_000_000, "40.0 TB"),
    ],
)
def test_size(n: int | None, text: str) -> None:
    assert units.size(n) == text


def test_latency_and_age() -> None:
    assert units.latency(None) == "-"
    assert units.latency(41.6) == "42 ms"
    assert units.age(None, NOW) == "-"
    assert units.age(NOW - timedelta(seconds=59), NOW) == "59s ago"
    assert units.age(NOW - timedelta(minutes=2, seconds=59), NOW) == "2m ago"
    assert units.age(NOW - timedelta(hours=5), NOW) == "5h ago"
    assert units.age(NOW - timedelta(days=3), NOW) == "3d ago"


def test_loaded() -> None:
    assert units.loaded(False, None, NOW) == "-"
    assert units.loaded(True, None, NOW) == "yes"
    assert units.loaded(True, NOW + timedelta(minutes=4, seconds=30), NOW) == "4m"
    assert units.loaded(True, datetime(2318, 1, 1, tzinfo=UTC), NOW) == "forever"
