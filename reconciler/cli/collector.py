"""How often Python's cyclic garbage collector runs while `orc` starts, and back to normal after.

Starting a command imports 250 to 400 modules (click, pydantic, httpx, the manifest models): 30,000
to 40,000 objects the collector tracks, nearly all of which live until the process ends. With
Python's default threshold (a young-generation collection every 700 allocations) the collector runs
some 50 times before `orc validate` has read its file, going over the same survivors again and
again: 5 to 8 percent of its CPU (see docs/architecture.md, Performance). So the console script
raises the threshold while it starts, and puts the previous thresholds back when a command begins
its real work: when a command runs its event loop (`run_async`), or at once for a command that
keeps running (`watch`, `sim`, `demo`), whose memory then behaves as Python's does. A short command
that runs no event loop (`validate`, `schema`, `--help`) ends with the threshold raised, which only
delays the collection of cyclic garbage.

Thresholds someone else changed meanwhile, or a collector turned off (threshold 0), are left as
they are.
"""

from __future__ import annotations

import gc

START_THRESHOLD = 50_000
"""Allocations between two young-generation collections while orc starts."""

_raised: list[tuple[int, int, int]] = []
"""The thresholds to put back, while they are raised (at most one entry)."""


def collect_less_while_starting() -> None:
    """Raise the young generation's threshold to `START_THRESHOLD` until `collect_normally`."""
    current = gc.get_threshold()
    if _raised or not 0 < current[0] < START_THRESHOLD:
        return
    _raised.append(current)
    gc.set_threshold(START_THRESHOLD, *current[1:])


def collect_normally() -> None:
    """Put back the thresholds `collect_less_while_starting` raised, unless changed since."""
    if not _raised:
        return
    previous = _raised.pop()
    if gc.get_threshold() == (START_THRESHOLD, *previous[1:]):
        gc.set_threshold(*previous)
