"""The vocabulary of observed state: what a probe found on each instance.

Produced by `observe`, consumed by `plan`, `chat` and the renderers. Plain frozen data, no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.names import ModelName


class Health(StrEnum):
    """Health of one instance, as probed. `Unknown`: not probed (e.g. its secret is missing)."""

    HEALTHY = "Healthy"
    DEGRADED = "Degraded"
    DISABLED = "Disabled"
    UNKNOWN = "Unknown"
    UNAUTHORIZED = "Unauthorized"
    TLS_ERROR = "TLSError"
    UNREACHABLE = "Unreachable"

    @property
    def severity(self) -> int:
        """Higher is worse; fleet health is the worst instance's."""
        return _SEVERITY[self]

    @property
    def usable(self) -> bool:
        """Whether requests to the instance can be expected to work."""
        return self in (Health.HEALTHY, Health.DEGRADED)


_SEVERITY = {
    Health.HEALTHY: 0,
    Health.DISABLED: 0,
    Health.DEGRADED: 1,
    Health.UNKNOWN: 2,
    Health.UNAUTHORIZED: 3,
    Health.TLS_ERROR: 3,
    Health.UNREACHABLE: 3,
}


class Sync(StrEnum):
    """Whether an instance matches its manifests."""

    SYNCED = "Synced"
    OUT_OF_SYNC = "OutOfSync"
    UNKNOWN = "Unknown"


@dataclass(frozen=True, slots=True)
class ObservedModel:
    """One model installed on an instance, from /api/tags, /api/show and /api/ps."""

    name: ModelName
    digest: str  # bare lowercase hex, as /api/tags spells it
    size: int = 0
    modified_at: str | None = None
    family: str | None = None
    parameter_size: str | None = None
    quantization: str | None = None
    context_length: int | None = None
    capabilities: tuple[str, ...] = ()
    system: str | None = None
    template: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    weights: str | None = None  # bare hex digest of the weights blob (show's `FROM` line)
    loaded: bool = False
    loaded_until: datetime | None = None

    @property
    def can_chat(self) -> bool:
        """Whether the model accepts chat (has the `completion` capability).

        A model whose capabilities are unknown (old server) is assumed to chat unless it looks
        like an embedding model.
        """
        if self.capabilities:
            return "completion" in self.capabilities
        return "embed" not in self.name.model.lower()


@dataclass(frozen=True, slots=True)
class ObservedInstance:
    """What a probe of one instance found."""

    name: str
    url: str
    enabled: bool
    health: Health
    reason: str = ""  # a CamelCase reason, e.g. "ConnectionRefused", "SecretMissing"
    message: str = ""  # one human sentence; never contains a secret
    version: str | None = None
    latency_ms: float | None = None
    models: tuple[ObservedModel, ...] = ()
    checked_at: datetime | None = None
    loaded_known: bool = True  # False when /api/ps failed: `ObservedModel.loaded` is a guess

    @property
    def inventory_known(self) -> bool:
        """Whether `models` is the instance's real inventory (the probe got that far)."""
        return self.health in (Health.HEALTHY, Health.DEGRADED) or (
            self.health is Health.DISABLED and self.reason == "Reachable"
        )

    def model(self, name: ModelName) -> ObservedModel | None:
        """The installed model of that name, compared as Ollama compares names."""
        return next((m for m in self.models if m.name == name), None)

    def fingerprint(self) -> str:
        """A sha256 of the model inventory (names and digests), to detect a stale plan."""
        rows = sorted(f"{m.name.key}@{m.digest}" for m in self.models)
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ObservedFleet:
    """Every probed instance, by name."""

    instances: Mapping[str, ObservedInstance] = field(default_factory=dict)

    @property
    def health(self) -> Health:
        """The worst instance's health (Healthy for an empty fleet)."""
        worst = Health.HEALTHY
        for inst in self.instances.values():
            if inst.health.severity > worst.severity:
                worst = inst.health
        return worst
