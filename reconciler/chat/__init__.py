"""Chat with a fleet: pick the best available instance for a model, fail over, smoke-test.

`Fleet` is the Python API (`from reconciler import Fleet`); `select_candidates` the pure choice
of instances; `plan_checks`/`run_checks` the smoke tests of `orc chat-test --all`.
"""

from __future__ import annotations

from reconciler.chat.attempt import ChatRequest
from reconciler.chat.balance import (
    DEFAULT_MAX_CONCURRENT,
    CircuitPolicy,
    CircuitState,
    InstanceLoad,
    Policy,
)
from reconciler.chat.failover import ChatStream
from reconciler.chat.fleet import DEFAULT_MAX_AGE, DEFAULT_WAIT_LIMIT, Fleet, FleetStatus
from reconciler.chat.result import (
    ChatError,
    ChatFailed,
    Failover,
    FleetChatResult,
    NoInstanceAvailable,
    fails_over,
    failure_reason,
)
from reconciler.chat.selection import PassedOver, Selection, select_candidates, unusable_reason
from reconciler.chat.smoke import (
    DEFAULT_PROMPT,
    CheckResult,
    SmokeCheck,
    Verdict,
    plan_checks,
    run_checks,
)

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_PROMPT",
    "DEFAULT_WAIT_LIMIT",
    "ChatError",
    "ChatFailed",
    "ChatRequest",
    "ChatStream",
    "CheckResult",
    "CircuitPolicy",
    "CircuitState",
    "Failover",
    "Fleet",
    "FleetChatResult",
    "FleetStatus",
    "InstanceLoad",
    "NoInstanceAvailable",
    "PassedOver",
    "Policy",
    "Selection",
    "SmokeCheck",
    "Verdict",
    "fails_over",
    "failure_reason",
    "plan_checks",
    "run_checks",
    "select_candidates",
    "unusable_reason",
]
