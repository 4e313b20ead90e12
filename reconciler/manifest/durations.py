"""Durations as manifests write them: seconds (`30`, `1.5`) or Go-style strings (`1h30m`, `500ms`).

Kubernetes and Go tooling write durations this way; the desired state holds float seconds.
"""

from __future__ import annotations

import functools
import math
import re

_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|ms|s|m|h)")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: float | str, *, allow_zero: bool = False) -> float:
    """Seconds of a duration; raises ValueError saying why it is not a positive, finite duration.

    A bare number is seconds. `allow_zero` admits 0 (e.g. "no added latency").
    """
    if isinstance(value, bool):
        raise ValueError("expected a duration, got a boolean")
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    else:
        seconds = _parse_text(value.strip())
    if not math.isfinite(seconds):
        raise ValueError("a duration must be a finite number")
    if seconds < 0 or (seconds == 0 and not allow_zero):
        raise ValueError("a duration must be greater than 0")
    return seconds


@functools.lru_cache(maxsize=256)  # instances mostly write the same few durations
def _parse_text(text: str) -> float:
    position, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise ValueError(
            f"invalid duration {text!r}: use seconds (30) or 30s, 5m, 2h, 1h30m, 500ms"
        )
    return total
