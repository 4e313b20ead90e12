"""Figures from the history: uptime, percentiles, series, last error, chats, a moving window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.state import (
    SERIES_POINTS,
    ChatOutcome,
    ChatRecord,
    FigureBook,
    FigureFeed,
    ProbeRecord,
    StateDir,
    to_ms,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HOUR = 3600.0


def at(minutes_ago: float) -> int:
    return to_ms(NOW - timedelta(minutes=minutes_ago))


def test_uptime_is_the_fraction_of_probes_that_reached_the_instance() -> None:
    book = FigureBook(HOUR)
    for minute in range(10):
        book.add_probe(at(minute), "gpu-1", minute != 3, 10.0)
    assert book.figures(NOW).of("gpu-1").uptime == 0.9
    assert book.figures(NOW).of("gpu-1").probes == 10


def test_percentiles_are_within_one_percent_of_the_exact_ones() -> None:
    book = FigureBook(HOUR)
    latencies = [float(v) for v in range(1, 101)]  # p50 = 50, p95 = 95 (nearest rank)
    for i, ms in enumerate(latencies):
        book.add_probe(at(i * 0.5), "gpu-1", True, ms)
    figures = book.figures(NOW).of("gpu-1")
    assert figures.p50_ms == pytest.approx(50.0, rel=0.01)
    assert figures.p95_ms == pytest.approx(95.0, rel=0.01)


def test_failed_probes_count_against_uptime_but_not_in_latency() -> None:
    book = FigureBook(HOUR)
    book.add_probe(at(1), "gpu-1", True, 20.0)
    book.add_probe(at(2), "gpu-1", False, 9000.0, reason="Timeout", message="no reply")
    figures = book.figures(NOW).of("gpu-1")
    assert figures.uptime == 0.5
    assert figures.p95_ms == pytest.approx(20.0, rel=0.01)


def test_the_last_error_is_the_latest_failed_probe() -> None:
    book = FigureBook(HOUR)
    book.add_probe(at(30), "gpu-1", False, None, reason="TLSError", message="bad certificate")
    book.add_probe(at(10), "gpu-1", False, None, reason="ConnectionRefused", message="refused")
    book.add_probe(at(20), "gpu-1", False, None, reason="Timeout", message="late")  # out of order
    book.add_probe(at(1), "gpu-1", True, 5.0)
    error = book.figures(NOW).of("gpu-1").last_error
    assert error is not None
    assert (error.reason, error.message) == ("ConnectionRefused", "refused")
    assert error.at == datetime.fromtimestamp(at(10) / 1000, UTC)


def test_the_window_moves_and_old_probes_leave_it() -> None:
    book = FigureBook(HOUR)
    book.add_probe(at(50), "gpu-1", False, None, reason="Timeout", message="late")
    book.add_probe(at(5), "gpu-1", True, 10.0)
    assert book.figures(NOW).of("gpu-1").uptime == 0.5
    later = NOW + timedelta(minutes=20)
    figures = book.figures(later).of("gpu-1")
    assert figures.uptime == 1.0 and figures.last_error is None
    assert book.figures(later + timedelta(hours=2)).of("gpu-1").probes == 0


def test_a_probe_older_than_the_window_is_not_counted() -> None:
    book = FigureBook(HOUR)
    book.figures(NOW)
    book.add_probe(at(120), "gpu-1", True, 10.0)
    assert book.figures(NOW).of("gpu-1").uptime is None


def test_the_series_has_at_most_60_points_of_mean_latency() -> None:
    book = FigureBook(HOUR)
    for second in range(0, 3600, 10):
        book.add_probe(to_ms(NOW) - second * 1000, "gpu-1", True, 10.0 + (second % 20))
    series = book.figures(NOW).of("gpu-1").series
    assert 0 < len(series) <= SERIES_POINTS
    assert all(moment <= NOW for moment, _ in series)
    assert [m for m, _ in series] == sorted(m for m, _ in series)
    assert all(ms == pytest.approx(15.0, abs=0.5) for _, ms in series[1:-1])  # whole minutes


def test_an_instance_without_history_has_empty_figures() -> None:
    figures = FigureBook(HOUR).figures(NOW).of("nobody")
    assert (figures.uptime, figures.p50_ms, figures.last_error, figures.chat) == (
        None,
        None,
        None,
        None,
    )
    assert figures.series == ()


def test_chat_figures_count_answers_failures_and_refusals() -> None:
    book = FigureBook(HOUR)
    book.add_chat(at(1), "gpu-1", "ok", 100.0)
    book.add_chat(at(2), "gpu-1", "ok", 300.0)
    book.add_chat(at(3), "gpu-1", "failed", None)
    book.add_chat(at(4), "gpu-1", "refused", None)
    book.add_chat(at(5), "", "unavailable", None)  # no instance: counted for none
    chat = book.figures(NOW).of("gpu-1").chat
    assert chat is not None
    assert (chat.requests, chat.mean_ttft_ms) == (4, 200.0)
    assert chat.success_rate == pytest.approx(2 / 3, abs=1e-4)
    assert set(book.figures(NOW).instances) == {"gpu-1"}


def test_a_zero_window_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        FigureBook(0)


def test_the_feed_reads_only_new_rows_from_any_writer(tmp_path: Path) -> None:
    feed = FigureFeed(HOUR)
    with StateDir(tmp_path) as mine, StateDir(tmp_path) as other:
        mine.record_probes([ProbeRecord(at(3), "gpu-1", "Healthy", True, 10.0)])
        first = mine.figures(feed, NOW)
        assert first is not None and first.of("gpu-1").probes == 1
        other.record_probes([ProbeRecord(at(2), "gpu-1", "Unreachable", False, reason="Timeout")])
        other.record_chats([ChatRecord(at(2), "gpu-1", "m", ChatOutcome.OK, ttft_ms=50.0)])
        second = mine.figures(feed, NOW)
    assert second is not None
    figures = second.of("gpu-1")
    assert figures.probes == 2 and figures.uptime == 0.5  # nothing counted twice
    assert figures.chat is not None and figures.chat.mean_ttft_ms == 50.0
    assert figures.last_error is not None and figures.last_error.reason == "Timeout"
