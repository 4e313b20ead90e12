"""The Plan document: frozen actions grouped by instance, and its versioned JSON form.

`plan()` builds it, the renderers print it, `orc plan --out` saves it with `to_dict()` and
`orc apply plan.json` reads it back with `from_dict()`, exactly: what is applied is what was shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from reconciler.errors import ReconcilerError
from reconciler.names import InvalidModelName, ModelName, parse

FORMAT_VERSION = "1"


class PlanFormatError(ReconcilerError):
    """A saved plan cannot be read: not a plan, another format version, or a damaged file."""


class ActionKind(StrEnum):
    """What an action does to one model on one instance, in the order they are carried out."""

    PULL = "pull"
    CREATE = "create"
    LOAD = "load"
    DELETE = "delete"
    UPDATE = "update"  # a pull of a newer build of an installed model; comes after the deletes


BASE_KINDS = (ActionKind.PULL, ActionKind.CREATE, ActionKind.LOAD, ActionKind.DELETE)
"""The kinds every summary counts; `update` is counted only when a plan has one."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A sync window holds the action back: which window, of which kind, and until when.

    `until` is in the window's time zone (`time_zone`); None when it does not close within a
    year. Decided when a plan is carried out, so a saved plan's holds are only what was shown.
    """

    window: str
    kind: str  # "deny": the window is open; "allow": no allow window is open
    until: datetime | None
    time_zone: str

    def describe(self, reference: datetime | None = None) -> str:
        """`held by sync window "business-hours" until 18:00 Europe/Berlin`; the date is shown
        when `until` is not on the day of `reference` (in the window's time zone)."""
        text = f'held by sync window "{self.window}"'
        if self.until is None:
            return f"{text}, with no end within the look-ahead (a year)"
        when = self.until.strftime("%H:%M")
        if reference is None or reference.astimezone(self.until.tzinfo).date() != self.until.date():
            when = self.until.strftime("%Y-%m-%d %H:%M")
        return f"{text} until {when} {self.time_zone}"

    def to_dict(self) -> dict[str, Any]:
        """The action's `held` entry in the JSON plan."""
        return {
            "window": self.window,
            "kind": self.kind,
            "until": self.until.isoformat() if self.until else None,
            "timeZone": self.time_zone,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hold:
        """Read back `to_dict()`."""
        until = data["until"]
        return cls(
            window=str(data["window"]),
            kind=str(data["kind"]),
            until=datetime.fromisoformat(until) if until else None,
            time_zone=str(data["timeZone"]),
        )


@dataclass(frozen=True, slots=True)
class Action:
    """One change to one model on one instance, with the reason it is needed.

    `from_`, `system`, `template` and `parameters` are what `/api/create` is sent; a model built
    from a local GGUF file has `file` (absolute), `file_source` (as the manifest wrote it) and
    `file_digest` (`sha256:<hex>`) instead of `from_`; `embedding` says a load goes through
    `/api/embed`; `size` is the expected download when known (for a create from a file, the
    file's size).
    """

    instance: str
    kind: ActionKind
    model: ModelName
    reason: str
    from_: ModelName | None = None
    system: str | None = None
    template: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    embedding: bool = False
    size: int | None = None
    file: str | None = None
    file_source: str | None = None
    file_digest: str | None = None
    held: Hold | None = None  # a sync window holds it back: planned and shown, not carried out

    @property
    def id(self) -> str:
        """A stable identity, `instance/kind/model`, for progress reports and retries."""
        return f"{self.instance}/{self.kind}/{self.model.display}"


@dataclass(frozen=True, slots=True)
class Blocked:
    """Why an instance could not be planned (its inventory is unknown); it gets no actions."""

    instance: str
    reason: str  # CamelCase: Unreachable, Unauthorized, TLSError, SecretMissing, ...
    message: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A deletion the manifests ask for that the plan will not make, and why (protected, base)."""

    model: ModelName
    reason: str


@dataclass(frozen=True, slots=True)
class InstancePlan:
    """The actions planned for one instance, or why it has none.

    `fingerprint` is the observed inventory's (`ObservedInstance.fingerprint()`), so that a saved
    plan can be refused when the instance changed since.
    """

    instance: str
    url: str
    enabled: bool
    actions: tuple[Action, ...] = ()
    blocked: Blocked | None = None
    fingerprint: str = ""
    skipped: tuple[Skipped, ...] = ()


@dataclass(frozen=True, slots=True)
class Refusal:
    """A safety guard that refuses the plan; `instance` is None for a fleet-wide guard."""

    instance: str | None
    guard: str  # "maxDeletions" | "allowEmpty"
    message: str


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything `orc apply` would do, per instance, and what it was made from."""

    format_version: str = FORMAT_VERSION
    instances: tuple[InstancePlan, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    desired_digest: str = ""
    created_at: datetime | None = None
    manifests: tuple[str, ...] = ()  # the manifest paths the plan was made from
    warnings: tuple[str, ...] = ()  # e.g. a registry that could not be asked; never a refusal

    @property
    def actions(self) -> tuple[Action, ...]:
        """Every action, instance by instance, each instance's in execution order."""
        return tuple(a for inst in self.instances for a in inst.actions)

    @property
    def held(self) -> tuple[Action, ...]:
        """The actions a sync window holds back."""
        return tuple(a for a in self.actions if a.held is not None)

    def without_held(self) -> Plan:
        """The plan less the actions sync windows hold back: what is carried out now."""
        if not self.held:
            return self
        instances = tuple(
            replace(ip, actions=tuple(a for a in ip.actions if a.held is None))
            for ip in self.instances
        )
        return replace(self, instances=instances)

    @property
    def counts(self) -> dict[ActionKind, int]:
        """How many actions of each kind (every kind present, zero included)."""
        counts = dict.fromkeys(ActionKind, 0)
        for action in self.actions:
            counts[action.kind] += 1
        return counts

    @property
    def has_changes(self) -> bool:
        """Whether applying the plan would change anything."""
        return any(inst.actions for inst in self.instances)

    @property
    def refused(self) -> bool:
        """Whether a safety guard refuses the plan (it must not be applied)."""
        return bool(self.refusals)

    @property
    def blocked(self) -> tuple[InstancePlan, ...]:
        """The instances that could not be planned."""
        return tuple(inst for inst in self.instances if inst.blocked is not None)

    def summary(self) -> str:
        """The last line of every rendering: counts, or that nothing is to be done."""
        if self.has_changes:
            c = self.counts
            updates = f", {c[ActionKind.UPDATE]} to update" if c[ActionKind.UPDATE] else ""
            text = (
                f"Plan: {c[ActionKind.PULL]} to pull, {c[ActionKind.CREATE]} to create, "
                f"{c[ActionKind.LOAD]} to load, {c[ActionKind.DELETE]} to delete{updates}."
            )
            held = len(self.held)
            if held == 1:
                text += " 1 held back by a sync window."
            elif held:
                text += f" {held} held back by sync windows."
            return text
        if self.blocked:
            n = len(self.blocked)
            return f"No changes. {n} instance{'s' if n != 1 else ''} could not be planned."
        return "No changes. The fleet matches the manifests."

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (schemas/plan.v1.schema.json); never contains a secret."""
        return {
            "format_version": self.format_version,
            "kind": "Plan",
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "desired_digest": self.desired_digest,
            "manifests": list(self.manifests),
            "summary": self.summary(),
            "has_changes": self.has_changes,
            "refused": self.refused,
            "counts": {
                str(kind): n
                for kind, n in self.counts.items()
                if kind in BASE_KINDS or n  # `update` only when there is one
            },
            "instances": [_instance_to_dict(inst) for inst in self.instances],
            "refusals": [
                {"instance": r.instance, "guard": r.guard, "message": r.message}
                for r in self.refusals
            ],
        } | ({"warnings": list(self.warnings)} if self.warnings else {})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        """Read back what `to_dict()` wrote; raises `PlanFormatError` on anything else."""
        version = data.get("format_version") if isinstance(data, Mapping) else None
        if version != FORMAT_VERSION:
            raise PlanFormatError(
                f"not a plan of format version {FORMAT_VERSION} (found {version!r})",
                hint="make the plan again with `orc plan --out` from this version of orc",
            )
        try:
            created = data["created_at"]
            return cls(
                instances=tuple(_instance_from_dict(i) for i in data["instances"]),
                refusals=tuple(
                    Refusal(instance=r["instance"], guard=r["guard"], message=r["message"])
                    for r in data["refusals"]
                ),
                desired_digest=str(data["desired_digest"]),
                created_at=datetime.fromisoformat(created) if created else None,
                manifests=tuple(str(p) for p in data.get("manifests", ())),
                warnings=tuple(str(w) for w in data.get("warnings", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError, InvalidModelName) as exc:
            raise PlanFormatError(
                f"the saved plan is damaged: {type(exc).__name__}: {exc}",
                hint="make the plan again with `orc plan --out`",
            ) from exc


def _instance_to_dict(inst: InstancePlan) -> dict[str, Any]:
    blocked = inst.blocked
    return {
        "name": inst.instance,
        "url": inst.url,
        "enabled": inst.enabled,
        "fingerprint": inst.fingerprint,
        "blocked": {"reason": blocked.reason, "message": blocked.message} if blocked else None,
        "actions": [_action_to_dict(a) for a in inst.actions],
        "skipped": [{"model": s.model.display, "reason": s.reason} for s in inst.skipped],
    }


def _action_to_dict(action: Action) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": action.id,
        "kind": str(action.kind),
        "model": action.model.display,
        "reason": action.reason,
    }
    if action.from_ is not None:
        out["from"] = action.from_.display
    if action.system is not None:
        out["system"] = action.system
    if action.template is not None:
        out["template"] = action.template
    if action.parameters:
        out["parameters"] = dict(action.parameters)
    if action.kind is ActionKind.LOAD or action.embedding:
        out["embedding"] = action.embedding
    if action.size is not None:
        out["size"] = action.size
    if action.file is not None:
        out["file"] = {
            "path": action.file,
            "source": action.file_source or action.file,
            "digest": action.file_digest or "",
        }
    if action.held is not None:
        out["held"] = action.held.to_dict()
    return out


def _instance_from_dict(data: Mapping[str, Any]) -> InstancePlan:
    name = str(data["name"])
    blocked = data["blocked"]
    return InstancePlan(
        instance=name,
        url=str(data["url"]),
        enabled=bool(data["enabled"]),
        actions=tuple(_action_from_dict(name, a) for a in data["actions"]),
        blocked=Blocked(name, str(blocked["reason"]), str(blocked["message"])) if blocked else None,
        fingerprint=str(data["fingerprint"]),
        skipped=tuple(Skipped(parse(s["model"]), str(s["reason"])) for s in data["skipped"]),
    )


def _action_from_dict(instance: str, data: Mapping[str, Any]) -> Action:
    base = data.get("from")
    size = data.get("size")
    weights = data.get("file")
    held = data.get("held")
    return Action(
        instance=instance,
        kind=ActionKind(data["kind"]),
        model=parse(data["model"]),
        reason=str(data["reason"]),
        from_=parse(base) if base is not None else None,
        system=data.get("system"),
        template=data.get("template"),
        parameters=dict(data.get("parameters", {})),
        embedding=bool(data.get("embedding", False)),
        size=int(size) if size is not None else None,
        file=str(weights["path"]) if weights is not None else None,
        file_source=str(weights["source"]) if weights is not None else None,
        file_digest=str(weights["digest"]) if weights is not None else None,
        held=Hold.from_dict(held) if held is not None else None,
    )
