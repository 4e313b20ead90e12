"""How one reconcile of `orc watch` ended: the vocabulary of logs, status and metrics."""

from __future__ import annotations

from enum import StrEnum


class Result(StrEnum):
    """How one reconcile ended (the `result` label of `orc_reconciles_total`)."""

    SYNCED = "synced"  # nothing to change
    APPLIED = "applied"  # changes made, all of them done
    DRIFT = "drift"  # --mode plan: changes found, not made
    HELD = "held"  # --mode apply: every change is held back by a sync window
    PARTIAL = "partial"  # some actions failed
    FAILED = "failed"  # no action succeeded
    REFUSED = "refused"  # a safety guard refused the plan
    LOCKED = "locked"  # another orc holds the state lock: apply skipped
    BLOCKED = "blocked"  # nothing to change on the instances that could be reached
    INVALID = "invalid"  # no valid manifests yet
    ERROR = "error"  # the reconcile itself failed
    INTERRUPTED = "interrupted"
