"""Which instances may serve a chat with a model, best first, and why each other one may not.

Pure: desired instances and their last observation in, a `Selection` out. A candidate is enabled,
healthy, has the model (names compared as Ollama compares them) and the model can chat; an
embedding model is never sent a chat. Candidates are ordered by priority (lower first), then by
the latency measured by the last probe. Every instance left out is named with its reason, so a
failed chat can say exactly what was considered.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reconciler.desired import DesiredInstance
from reconciler.names import ModelName
from reconciler.observed import Health, ObservedInstance, ObservedModel

_LABELS = {Health.TLS_ERROR: "TLS error", Health.UNKNOWN: "not probed"}


@dataclass(frozen=True, slots=True)
class PassedOver:
    """An instance that was not tried for a chat, and why (one human phrase).

    `health` is a short label (`unreachable`, `unauthorized`...) when the instance was passed over
    because of its health: it would have been tried if it had been up.
    """

    instance: str
    priority: int
    reason: str
    health: str | None = None

    def __str__(self) -> str:
        return f"{self.instance} (priority {self.priority}) passed over: {self.reason}"


@dataclass(frozen=True, slots=True)
class Selection:
    """The instances to try for a chat with `model`, best first, and those passed over.

    `latency` is each candidate's probe round trip (milliseconds), the balancer's last tie-break.
    """

    model: ModelName
    candidates: tuple[DesiredInstance, ...]
    passed_over: tuple[PassedOver, ...]
    latency: Mapping[str, float | None] = field(default_factory=dict)


def select_candidates(
    instances: Iterable[DesiredInstance],
    observed: Mapping[str, ObservedInstance],
    model: ModelName,
    *,
    forced: str | None = None,
) -> Selection:
    """The candidates for a chat with `model`, by priority then measured latency.

    With `forced`, only that instance is considered; it may then be a disabled one (a chat
    changes nothing), as long as it is reachable, has the model and the model can chat.
    """
    usable: list[DesiredInstance] = []
    passed: list[PassedOver] = []
    for instance in instances:
        if forced is not None and instance.name != forced:
            continue
        seen = observed.get(instance.name)
        reason = unusable_reason(instance, seen, model, forced=forced is not None)
        if reason is None:
            usable.append(instance)
            continue
        down = health_label(seen) if seen is not None and instance.enabled else None
        passed.append(PassedOver(instance.name, instance.priority, reason, down))
    usable.sort(key=lambda i: (i.priority, _latency(observed.get(i.name))))
    passed.sort(key=lambda p: p.priority)
    latency = {i.name: _seen_latency(observed.get(i.name)) for i in usable}
    return Selection(model, tuple(usable), tuple(passed), latency)


def unusable_reason(
    instance: DesiredInstance,
    seen: ObservedInstance | None,
    model: ModelName,
    *,
    forced: bool = False,
) -> str | None:
    """Why `instance` cannot serve a chat with `model`, or None when it can."""
    if not instance.enabled and not forced:
        return "disabled"
    if seen is None:
        return "not probed"
    if not (seen.health.usable or (forced and seen.inventory_known)):
        return health_reason(seen)
    found = seen.model(model)
    if found is None:
        return f"does not have {model}"
    if not found.can_chat:
        return chat_refusal(found)
    return None


def health_label(seen: ObservedInstance) -> str | None:
    """`unreachable`, `unauthorized`, `TLS error`, `secret missing`; None for a usable instance."""
    if seen.health.usable or seen.health is Health.DISABLED:
        return None
    if seen.reason == "SecretMissing":
        return "secret missing"
    if seen.reason == "SecretRefused":
        return "secret refused"
    return _LABELS.get(seen.health, seen.health.value.lower())


def health_reason(seen: ObservedInstance) -> str:
    """`unreachable: list models failed: cannot connect to ...` from a probe's result."""
    label = "disabled" if seen.health is Health.DISABLED else seen.health.value.lower()
    message = seen.message.removeprefix(f"{seen.name}: ")
    return f"{label}: {message}" if message else f"{label} ({seen.reason or 'no detail'})"


def chat_refusal(model: ObservedModel) -> str:
    """Why a model is never sent a chat: an embedding model, or no `completion` capability."""
    shown = ", ".join(model.capabilities) or "none reported"
    if "embedding" in model.capabilities or not model.capabilities:
        return f"{model.name} is an embedding model and cannot chat (capabilities: {shown})"
    return f"{model.name} cannot chat: no 'completion' capability (capabilities: {shown})"


def _seen_latency(seen: ObservedInstance | None) -> float | None:
    return None if seen is None else seen.latency_ms


def _latency(seen: ObservedInstance | None) -> float:
    if seen is None or seen.latency_ms is None:
        return math.inf
    return seen.latency_ms
