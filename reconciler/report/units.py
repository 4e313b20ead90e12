"""Human forms of sizes, durations and moments for the reports ("4.7 GB", "12 ms", "3m ago").

Sizes are decimal, as `ollama list` prints them.
"""

from __future__ import annotations

from datetime import datetime, timedelta

_SIZE_UNITS = ("KB", "MB", "GB", "TB", "PB")
_FOREVER = timedelta(days=365 * 100)  # keep_alive -1 shows as an expiry ~290 years away


def size(n: int | None) -> str:
    """`2019393189` → `2.0 GB`; None or 0 → `-`."""
    if not n:
        return "-"
    if n < 1000:
        return f"{n} B"
    value, unit = n / 1000, _SIZE_UNITS[0]
    for larger in _SIZE_UNITS[1:]:
        if value < 999.95:
            break
        value, unit = value / 1000, larger
    return f"{value:.1f} {unit}"


def latency(ms: float | None) -> str:
    """`12.4` → `12 ms`; None → `-`."""
    return "-" if ms is None else f"{ms:.0f} ms"


def percent(fraction: float) -> str:
    """`0.9953` → `99.5%`; `1.0` → `100%`."""
    value = fraction * 100
    return "100%" if value >= 99.95 else f"{value:.1f}%"


def duration(delta: timedelta) -> str:
    """The largest unit only: `45s`, `4m`, `2h`, `3d`."""
    seconds = max(int(delta.total_seconds()), 0)
    for unit, span in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= span:
            return f"{seconds // span}{unit}"
    return f"{seconds}s"


def age(moment: datetime | None, now: datetime) -> str:
    """How long ago: `12s ago`; None → `-`."""
    return "-" if moment is None else f"{duration(now - moment)} ago"


def loaded(is_loaded: bool, until: datetime | None, now: datetime) -> str:
    """A loaded model's remaining time: `forever` (keep_alive -1), `4m`, `yes`; `-` when not."""
    if not is_loaded:
        return "-"
    if until is None:
        return "yes"
    if until - now > _FOREVER:
        return "forever"
    return duration(until - now)
