"""The status document of `orc status`: health and sync per instance, models per instance.

Built from the desired and observed fleets; sync comes from the plan itself (no actions: Synced,
blocked: Unknown), so `status` and `plan` can never disagree. Disabled instances are never
changed, but their drift is still computed and shown, as if they were enabled.

Given the figures of the history (uptime, latency percentiles and series, last error, chats over a
window), each instance carries them too: the JSON gains `uptime`, `latency`, `lastError` and
`chat` per instance and `historyWindow` at the top, the tables gain columns. Without them (no
state directory) the document and the tables are exactly as before.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.names import ModelName
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel, Sync
from reconciler.plan import InstancePlan, is_embedding, observed_for, plan
from reconciler.state import FleetFigures, InstanceFigures

FORMAT_VERSION = "1"
DIGEST_LENGTH = 12  # as `ollama list` shows an ID


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    """One row of the instances table."""

    name: str
    url: str
    enabled: bool
    priority: int
    health: Health
    reason: str
    message: str
    version: str | None
    latency_ms: float | None
    models_installed: int | None  # None when the inventory is unknown
    models_declared: int  # declared with state: present
    models_present: int | None  # of the declared ones, how many are installed
    sync: Sync
    changes: int  # actions a plan would make
    checked_at: datetime | None
    figures: InstanceFigures | None = None  # from the history; None: no history was read


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One row of the models table: an installed model."""

    instance: str
    model: ModelName
    size: int
    family: str | None
    parameter_size: str | None
    quantization: str | None
    context_length: int | None
    capabilities: tuple[str, ...]
    embedding: bool
    loaded: bool
    loaded_until: datetime | None
    declared: str | None  # "present" | "absent" | None (not declared)
    digest: str  # the first 12 hex characters


@dataclass(frozen=True, slots=True)
class Status:
    """The fleet as `orc status` reports it."""

    fleet: str
    generated_at: datetime
    instances: tuple[InstanceStatus, ...]
    models: tuple[ModelStatus, ...]
    window: float | None = None  # seconds the figures cover; None: no history was read
    window_since: datetime | None = None

    @property
    def health(self) -> Health:
        """The worst enabled instance's health (a disabled instance never makes it worse)."""
        worst = Health.HEALTHY
        for inst in self.instances:
            if inst.enabled and inst.health.severity > worst.severity:
                worst = inst.health
        return worst

    @property
    def drift(self) -> bool:
        """Whether an enabled instance is out of sync or could not be compared."""
        return any(i.enabled and i.sync is not Sync.SYNCED for i in self.instances)

    @property
    def answered(self) -> bool:
        """Whether any enabled instance answered its probe (healthy or degraded); True when
        every instance is disabled, since nothing was asked of them."""
        enabled = [i for i in self.instances if i.enabled]
        answering = (Health.HEALTHY, Health.DEGRADED)
        return not enabled or any(i.health in answering for i in enabled)

    @property
    def ok(self) -> bool:
        """All enabled instances healthy and in sync (`--detailed-exitcode` gives 0)."""
        enabled = [i for i in self.instances if i.enabled]
        return not self.drift and all(i.health is Health.HEALTHY for i in enabled)

    def to_dict(self, *, models: bool = True) -> dict[str, Any]:
        """The JSON form (schemas/status.v1.schema.json); `models` adds the per-model rows."""
        out: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "kind": "Status",
            "generated_at": self.generated_at.isoformat(),
            "fleet": {
                "name": self.fleet,
                "health": str(self.health),
                "drift": self.drift,
                "ok": self.ok,
            },
            "instances": [_instance_dict(i) for i in self.instances],
        }
        if self.window is not None:
            out["historyWindow"] = {"seconds": self.window, "since": _iso(self.window_since)}
        if models:
            out["models"] = [_model_dict(m) for m in self.models]
        return out


def build_status(
    desired: DesiredFleet,
    observed: ObservedFleet,
    now: datetime,
    figures: FleetFigures | None = None,
) -> Status:
    """The status of every declared instance, in name order, and of every model they hold;
    with `figures`, each instance's figures from the history."""
    disabled = any(not i.enabled for i in desired.instances)
    as_if_enabled = (  # the fleet itself when every instance is enabled: its digest is known
        replace(desired, instances=tuple(replace(i, enabled=True) for i in desired.instances))
        if disabled
        else desired
    )
    plans = {p.instance: p for p in plan(as_if_enabled, observed).instances}
    instances, models = [], []
    for inst in sorted(desired.instances, key=lambda i: i.name):
        seen = observed_for(inst, observed)
        row = _instance_status(inst, seen, plans[inst.name])
        if figures is not None:
            row = replace(row, figures=figures.of(inst.name))
        instances.append(row)
        if seen.inventory_known:
            models += [_model_status(inst, m) for m in sorted(seen.models, key=lambda m: m.name)]
    if figures is None:
        return Status(desired.name, now, tuple(instances), tuple(models))
    return Status(desired.name, now, tuple(instances), tuple(models), figures.window, figures.since)


def _instance_status(
    desired: DesiredInstance, seen: ObservedInstance, planned: InstancePlan
) -> InstanceStatus:
    known = seen.inventory_known
    declared = [m.name for m in desired.models if m.state == "present"]
    installed = {m.name for m in seen.models}
    if planned.blocked is not None:
        sync = Sync.UNKNOWN
    else:
        sync = Sync.OUT_OF_SYNC if planned.actions else Sync.SYNCED
    return InstanceStatus(
        name=desired.name,
        url=desired.display_url,
        enabled=desired.enabled,
        priority=desired.priority,
        health=seen.health,
        reason=seen.reason,
        message=seen.message,
        version=seen.version,
        latency_ms=seen.latency_ms,
        models_installed=len(installed) if known else None,
        models_declared=len(declared),
        models_present=sum(1 for n in declared if n in installed) if known else None,
        sync=sync,
        changes=len(planned.actions),
        checked_at=seen.checked_at,
    )


def _model_status(desired: DesiredInstance, model: ObservedModel) -> ModelStatus:
    declaration = desired.model(model.name)
    return ModelStatus(
        instance=desired.name,
        model=model.name,
        size=model.size,
        family=model.family,
        parameter_size=model.parameter_size,
        quantization=model.quantization,
        context_length=model.context_length,
        capabilities=model.capabilities,
        embedding=is_embedding(model, model.name),
        loaded=model.loaded,
        loaded_until=model.loaded_until,
        declared=declaration.state if declaration is not None else None,
        digest=model.digest[:DIGEST_LENGTH],
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _instance_dict(inst: InstanceStatus) -> dict[str, Any]:
    out = _probe_dict(inst)
    if inst.figures is not None:
        out.update(figures_dict(inst.figures))
    return out


def figures_dict(figures: InstanceFigures) -> dict[str, Any]:
    """An instance's figures as the status document carries them."""
    error = figures.last_error
    chat = figures.chat
    return {
        "uptime": figures.uptime,
        "latency": {
            "p50Ms": figures.p50_ms,
            "p95Ms": figures.p95_ms,
            "series": [[_iso(at), ms] for at, ms in figures.series],
        },
        "lastError": None
        if error is None
        else {"reason": error.reason, "message": error.message, "at": _iso(error.at)},
        "chat": None
        if chat is None
        else {
            "requests": chat.requests,
            "successRate": chat.success_rate,
            "meanTtftMs": chat.mean_ttft_ms,
        },
    }


def _probe_dict(inst: InstanceStatus) -> dict[str, Any]:
    return {
        "name": inst.name,
        "url": inst.url,
        "enabled": inst.enabled,
        "priority": inst.priority,
        "health": str(inst.health),
        "reason": inst.reason,
        "message": inst.message,
        "version": inst.version,
        "latency_ms": inst.latency_ms,
        "models": {
            "installed": inst.models_installed,
            "declared": inst.models_declared,
            "present": inst.models_present,
        },
        "sync": str(inst.sync),
        "changes": inst.changes,
        "checked_at": _iso(inst.checked_at),
    }


def _model_dict(model: ModelStatus) -> dict[str, Any]:
    return {
        "instance": model.instance,
        "model": model.model.display,
        "size": model.size,
        "family": model.family,
        "parameter_size": model.parameter_size,
        "quantization": model.quantization,
        "context_length": model.context_length,
        "capabilities": list(model.capabilities),
        "embedding": model.embedding,
        "loaded": model.loaded,
        "loaded_until": _iso(model.loaded_until),
        "declared": model.declared,
        "digest": model.digest,
    }
