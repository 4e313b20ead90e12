"""Durations: seconds or Go-style strings, always positive and finite."""

from __future__ import annotations

import pytest

from reconciler.manifest.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (1.5, 1.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("2h", 7200.0),
        ("1h30m", 5400.0),
        ("500ms", 0.5),
        ("1.5h", 5400.0),
        ("1m0.5s", 60.5),
        ("250us", 0.00025),
        ("100ns", 1e-7),
    ],
)
def test_valid_durations(value: float | str, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "greater than 0"),
        (-5, "greater than 0"),
        ("0s", "greater than 0"),
        ("0h0m", "greater than 0"),
        ("", "invalid duration"),
        ("30", "invalid duration"),
        ("5 minutes", "invalid duration"),
        ("1d", "invalid duration"),
        ("-5s", "invalid duration"),
        ("5s garbage", "invalid duration"),
        (float("nan"), "finite"),
        (float("inf"), "finite"),
        (10**400, "finite"),
        (True, "boolean"),
    ],
)
def test_invalid_durations_say_why(value: float | str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_duration(value)
