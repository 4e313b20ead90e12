"""Human-friendly transfer rates for `orc sim` flags: `200MB/s`, `1GB/s`, `instant`.

Errors say what was wrong and show an example, so a typo on the command line is easy to fix.
"""

from __future__ import annotations

import re

from reconciler.errors import UsageError

_RATE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgt]i?)?b?\s*(?:/\s*s)?\s*$", re.IGNORECASE)
_RATE_UNITS = {
    "": 1,
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "ki": 2**10,
    "mi": 2**20,
    "gi": 2**30,
    "ti": 2**40,
}
INSTANT = ("instant", "unlimited", "none", "inf")


def parse_rate(text: str, flag: str = "rate") -> float | None:
    """Bytes per second in `text` (`200MB/s`, `1GB/s`, `512KiB/s`); None for `instant`."""
    if text.strip().lower() in INSTANT:
        return None
    match = _RATE.match(text)
    value = float(match.group(1)) if match else 0.0
    if match and not match.group(2) and "b" not in text.lower() and "/" not in text:
        # A bare number would mean bytes to one reader and megabytes to another.
        raise UsageError(
            f"invalid {flag} {text!r}: a rate needs its unit",
            hint=f"write {text.strip()}MB/s, {text.strip()}B/s or another size per second",
        )
    if not match or value <= 0:
        raise UsageError(
            f"invalid {flag} {text!r}",
            hint='a size per second such as 200MB/s, 1GB/s or 512KiB/s, or "instant"',
        )
    return value * _RATE_UNITS[(match.group(2) or "").lower()]


def format_rate(bytes_per_second: float | None) -> str:
    """`200 MB/s` (decimal units), or `instant`."""
    if bytes_per_second is None:
        return "instant"
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if bytes_per_second >= size:
            return f"{bytes_per_second / size:g} {unit}/s"
    return f"{bytes_per_second:g} B/s"
