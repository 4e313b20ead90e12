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
they are (`reconciler/gcthreshold.py`, which a probe round uses too).
"""

from __future__ import annotations

from reconciler.gcthreshold import Thresholds, put_back, raise_threshold

START_THRESHOLD = 50_000
"""Allocations between two young-generation collections while orc starts."""

_raised: list[Thresholds] = []
"""The thresholds to put back, while they are raised (at most one entry)."""


def collect_less_while_starting() -> None:
    """Raise the young generation's threshold to `START_THRESHOLD` until `collect_normally`."""
    if _raised:
        return
    previous = raise_threshold(START_THRESHOLD)
    if previous is not None:
        _raised.append(previous)


def collect_normally() -> None:
    """Put back the thresholds `collect_less_while_starting` raised, unless changed since."""
    if _raised:
        put_back(_raised.pop(), START_THRESHOLD)
