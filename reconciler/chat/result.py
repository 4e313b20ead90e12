"""What a fleet chat returns and how it fails: the result, the failovers, the errors.

A failover is remembered with a short reason (`unreachable`, `busy (HTTP 503)`) for the one-line
summary and the full, already redacted, message of the client's error for JSON and JUnit. Which
errors are worth trying the next instance for is decided here, in `fails_over`, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.chat.selection import PassedOver
from reconciler.desired import DesiredInstance
from reconciler.errors import ReconcilerError
from reconciler.names import ModelName
from reconciler.ollama import (
    Metrics,
    ModelNotFound,
    OllamaError,
    OllamaTimeout,
    OllamaTLSError,
    OllamaUnauthorized,
    OllamaUnreachable,
    PoolExhausted,
    ProtocolError,
    ServerBusy,
    ServerError,
)

# Errors that say something about the instance, not the request: another instance may serve.
_INSTANCE_PROBLEMS = (OllamaUnauthorized, OllamaTLSError, ModelNotFound, ProtocolError)
# Errors that say the instance is down or overloaded: they count towards opening its circuit.
_HEALTH_PROBLEMS = (OllamaUnreachable, OllamaTimeout, ServerError, ServerBusy)
_LABELS: tuple[tuple[type[OllamaError], str], ...] = (
    (PoolExhausted, "no free connection"),
    (OllamaUnreachable, "unreachable"),
    (OllamaTimeout, "timed out"),
    (ServerBusy, "busy"),
    (ServerError, "server error"),
    (OllamaUnauthorized, "unauthorized"),
    (OllamaTLSError, "TLS error"),
    (ModelNotFound, "model not found"),
    (ProtocolError, "not an Ollama reply"),
)


def fails_over(error: OllamaError) -> bool:
    """Whether another instance should be tried after `error`.

    Transient errors (unreachable, timeout, 5xx, busy) and errors of the instance itself
    (credentials, TLS, the model or the endpoint missing there) fail over; a request the server
    refused (400: bad options, a model that refuses chat) would be refused everywhere: it stops.
    """
    return error.transient or isinstance(error, _INSTANCE_PROBLEMS) or error.status == 404


def counts_against(error: OllamaError) -> bool:
    """Whether `error` counts towards opening the instance's circuit.

    Unreachable, timed out, failing (5xx) or busy (429/503): the instance is down or overloaded.
    A refused request, missing credentials or a missing model are not its health, and a pool with
    no free connection is a limit of this process.
    """
    return isinstance(error, _HEALTH_PROBLEMS) and not isinstance(error, PoolExhausted)


def failure_reason(error: OllamaError) -> str:
    """A short label of an error: `unreachable`, `busy (HTTP 503)`, `refused (HTTP 400)`."""
    label = next((text for cls, text in _LABELS if isinstance(error, cls)), "refused")
    return f"{label} (HTTP {error.status})" if error.status else label


@dataclass(frozen=True, slots=True)
class Failover:
    """An instance the chat moved past: tried and failed, or (`tried=False`) found down by the
    probe while it would have come first."""

    instance: str
    priority: int
    reason: str
    message: str
    tried: bool = True

    @classmethod
    def from_error(cls, instance: DesiredInstance, error: ReconcilerError) -> Failover:
        """The failover of `instance` after `error` (an OllamaError or a missing secret)."""
        reason = failure_reason(error) if isinstance(error, OllamaError) else "secret missing"
        message = error.message if isinstance(error, OllamaError) else str(error)
        return cls(instance.name, instance.priority, reason, message)

    @classmethod
    def from_passed_over(cls, passed: PassedOver) -> Failover:
        """The failover past an instance the probe found down."""
        return cls(passed.instance, passed.priority, passed.health or "down", passed.reason, False)

    def __str__(self) -> str:
        return f"{self.instance} (priority {self.priority}) failed: {self.reason}"


@dataclass(frozen=True, slots=True)
class FleetChatResult:
    """A whole chat reply from the fleet: the text, who answered, how fast, and who failed first.

    `time_to_first_token` and `elapsed` are seconds measured on the client, on the instance that
    answered (the failovers before it are not counted); `metrics` are the server's own.
    """

    content: str
    instance: str
    priority: int
    model: str
    metrics: Metrics
    elapsed: float
    time_to_first_token: float | None = None
    failovers: tuple[Failover, ...] = ()
    thinking: str = ""
    done_reason: str | None = None
    tool_calls: tuple[dict[str, Any], ...] = ()

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed as the server measured it (`eval_count / eval_duration`)."""
        return self.metrics.tokens_per_second


class ChatError(ReconcilerError):
    """A fleet chat could not be completed."""


class NoInstanceAvailable(ChatError):
    """Every instance was passed over or failed; `passed_over` and `failovers` say why."""

    def __init__(
        self,
        model: ModelName,
        passed_over: Sequence[PassedOver],
        failovers: Sequence[Failover],
    ) -> None:
        considered = [*map(str, failovers), *map(str, passed_over)]
        listed = "; ".join(considered) if considered else "no instance is declared"
        super().__init__(
            f"no instance could serve a chat with {model}: {listed}",
            hint="`orc status --models` shows which instances are healthy and have which models",
        )
        self.model = model
        self.passed_over = tuple(passed_over)
        self.failovers = tuple(failovers)

    @property
    def reasons(self) -> tuple[str, ...]:
        """The reason of each instance considered, tried ones first."""
        return tuple(f.reason for f in self.failovers) + tuple(p.reason for p in self.passed_over)


class ChatFailed(ChatError):
    """The chat was refused (a permanent error), or broke off after its reply had started."""

    def __init__(self, error: OllamaError, failovers: Sequence[Failover]) -> None:
        tried = ", ".join(f"{f.instance}: {f.reason}" for f in failovers)
        after = f" (after failing over from {tried})" if tried else ""
        super().__init__(f"{error.message}{after}", where=error.where, hint=error.hint)
        self.error = error
        self.failovers = tuple(failovers)
