"""`RetryPolicy`: how long to wait before retrying a transient failure, and when to give up.

Its own module so that a `Reconciler` can carry one without loading the executor of
`reconciler.apply`, which only `orc apply` and `orc watch` run (see docs/architecture.md,
Performance).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter, bounded in attempts and in total time."""

    attempts: int = 4
    base_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 30.0
    max_total: float = 600.0
    jitter: float = 0.25  # +/- this fraction of the delay

    def delay(self, attempt: int, rng: random.Random) -> float:
        """The pause before attempt `attempt + 1` (attempt counts from 1)."""
        raw = min(self.base_delay * self.factor ** (attempt - 1), self.max_delay)
        return max(0.0, raw * (1 + rng.uniform(-self.jitter, self.jitter)))
