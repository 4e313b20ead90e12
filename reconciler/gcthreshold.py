"""The garbage collector's young-generation threshold, raised for a while and put back after.

Used where a burst of work allocates many objects that all live on (a command's start-up, a probe
round): with Python's default threshold the collector would go over the same survivors again
and again (see docs/architecture.md, Performance). Thresholds someone else changed in the
meantime, and a collector turned off by a threshold of 0, are left as they are.
"""

from __future__ import annotations

import gc

Thresholds = tuple[int, int, int]


def raise_threshold(to: int) -> Thresholds | None:
    """Raise the young generation's threshold to `to`: the thresholds to give `put_back`, or
    None when they were left alone (already at least `to`, or the collector turned off)."""
    current = gc.get_threshold()
    if not 0 < current[0] < to:
        return None
    gc.set_threshold(to, *current[1:])
    return current


def put_back(previous: Thresholds, raised_to: int) -> None:
    """Put `previous` back, unless the thresholds changed since `raise_threshold(raised_to)`."""
    if gc.get_threshold() == (raised_to, *previous[1:]):
        gc.set_threshold(*previous)
