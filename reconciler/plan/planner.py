"""`plan()`: the pure diff of a desired fleet against an observed one.

Chooses the instances (targets and selector are read here only, for `plan()` and `select()`),
plans each (disabled ones are only reported, those whose inventory is unknown are blocked, never
changed), then applies the fleet-wide safety guards.
No I/O and no clock: the caller passes `now` when it wants the plan stamped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.errors import UsageError
from reconciler.names import InvalidModelName, ModelName, parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.plan.diff import Upstream, diff_instance
from reconciler.plan.document import Action, ActionKind, Blocked, InstancePlan, Plan, Refusal
from reconciler.plan.residency import LoadLimit

_NO_LABELS: Mapping[str, str] = MappingProxyType({})


def plan(
    desired: DesiredFleet,
    observed: ObservedFleet,
    *,
    targets: Sequence[str] = (),
    selector: Mapping[str, str] = _NO_LABELS,
    now: datetime | None = None,
    limits: Mapping[str, LoadLimit] = MappingProxyType({}),
    upstream: Upstream | None = None,
    check_updates: bool = False,
    warnings: Sequence[str] = (),
) -> Plan:
    """Everything to do to make `observed` match `desired`, with a reason for each action.

    `targets` are `NAME` or `NAME/MODEL` and restrict the plan to those instances and models
    (an unknown instance name is a `UsageError`); `selector` keeps the instances carrying all of
    those labels. `limits` are what instances were seen to keep loaded (residency.py): no load
    is planned that would only evict another keepLoaded model.
    A plan that breaks a safety guard carries its `refusals` and must not be applied.
    `upstream` holds registry digests looked up by the caller (`update` actions), `warnings`
    what the caller could not find out (a registry lookup that failed).
    """
    scope = _parse_targets(targets, desired)
    catalog = _catalog(observed)
    allow_empty = desired.safety.allow_empty
    plans = tuple(
        _plan_instance(
            inst,
            observed_for(inst, observed),
            catalog,
            scope.get(inst.name),
            allow_empty=allow_empty,
            limit=limits.get(inst.name),
            updates=(upstream or {}, check_updates),
        )
        for inst in sorted(desired.instances, key=lambda i: i.name)
        if (not scope or inst.name in scope) and _selected(inst, selector)
    )
    return Plan(
        instances=plans,
        refusals=guards(desired, observed, plans),
        desired_digest=desired.digest(),
        created_at=now,
        warnings=tuple(warnings),
    )


def select(
    desired: DesiredFleet,
    targets: Sequence[str] = (),
    selector: Mapping[str, str] = _NO_LABELS,
) -> DesiredFleet:
    """The part of the fleet that `targets` and `selector` choose: the instances `plan()` plans.

    An unknown target, or a selector that leaves no instance, is a usage error: a typo must not
    look like a fleet with nothing to do.
    """
    scope = _parse_targets(targets, desired)
    kept = tuple(
        inst
        for inst in desired.instances
        if (not scope or inst.name in scope) and _selected(inst, selector)
    )
    if selector and not kept:
        shown = ", ".join(f"{k}={v}" for k, v in selector.items())
        raise UsageError(f"no instance matches --selector {shown}")
    return replace(desired, instances=kept)


def observed_for(desired: DesiredInstance, observed: ObservedFleet) -> ObservedInstance:
    """The observation of a declared instance, or an `Unknown` one when it was not probed."""
    found = observed.instances.get(desired.name)
    if found is not None:
        return found
    return ObservedInstance(
        name=desired.name,
        url=desired.display_url,
        enabled=desired.enabled,
        health=Health.UNKNOWN,
        reason="NotObserved",
        message="the instance was not probed",
    )


# instance name -> None (the whole instance) or the models a target names
_Scope = dict[str, frozenset[ModelName] | None]


def _parse_targets(targets: Sequence[str], desired: DesiredFleet) -> _Scope:
    known = {inst.name for inst in desired.instances}
    scope: _Scope = {}
    for target in targets:
        name, _, model = target.partition("/")
        if name not in known:
            raise UsageError(
                f"unknown target {target!r}: no instance named {name!r}",
                hint=f"known instances: {', '.join(sorted(known)) or 'none'}",
            )
        if not model:
            scope[name] = None
            continue
        try:
            wanted = parse(model)
        except InvalidModelName as exc:
            raise UsageError(f"invalid target {target!r}: {exc.reason}") from exc
        current = scope.get(name, frozenset())
        if current is not None:  # None: the whole instance is already targeted
            scope[name] = current | {wanted}
    return scope


def _selected(inst: DesiredInstance, selector: Mapping[str, str]) -> bool:
    return all(inst.labels.get(key) == value for key, value in selector.items())


def _catalog(observed: ObservedFleet) -> dict[ModelName, ObservedModel]:
    """Every model seen on any instance (first by instance name), for sizes and capabilities."""
    catalog: dict[ModelName, ObservedModel] = {}
    for name in sorted(observed.instances):
        for model in observed.instances[name].models:
            catalog.setdefault(model.name, model)
    return catalog


def _plan_instance(
    desired: DesiredInstance,
    observed: ObservedInstance,
    catalog: Mapping[ModelName, ObservedModel],
    models: frozenset[ModelName] | None,
    *,
    allow_empty: bool,
    limit: LoadLimit | None = None,
    updates: tuple[Upstream, bool] = ({}, False),
) -> InstancePlan:
    name, url, enabled = desired.name, desired.display_url, desired.enabled
    fingerprint = observed.fingerprint()
    if not enabled:
        return InstancePlan(name, url, enabled, fingerprint=fingerprint)
    if not observed.inventory_known:
        reason = observed.reason or str(observed.health)
        message = observed.message or f"the instance could not be probed ({observed.health})"
        blocked = Blocked(name, reason, message)
        return InstancePlan(name, url, enabled, blocked=blocked, fingerprint=fingerprint)
    diff = diff_instance(
        desired,
        observed,
        catalog,
        limit=limit,
        allow_empty=allow_empty,
        upstream=updates[0],
        check_updates=updates[1],
    )
    actions, skipped = diff.actions, diff.skipped
    if models is not None:
        actions = tuple(a for a in actions if _targeted(a, models, desired))
        skipped = tuple(s for s in skipped if s.model in models)
    return InstancePlan(name, url, enabled, actions, fingerprint=fingerprint, skipped=skipped)


def _targeted(action: Action, models: frozenset[ModelName], desired: DesiredInstance) -> bool:
    """Whether a `NAME/MODEL` target keeps an action: its model, or the base its create needs."""
    if action.model in models:
        return True
    declared = (desired.model(name) for name in models)
    bases = {m.from_ for m in declared if m is not None and m.from_ is not None}
    return action.kind is ActionKind.PULL and action.model in bases


def guards(
    desired: DesiredFleet, observed: ObservedFleet, plans: tuple[InstancePlan, ...]
) -> tuple[Refusal, ...]:
    """The safety guards over some instance plans. `plan()` applies them; a saved plan and
    every watch reconcile are checked again by this same function.

    `allowEmpty`, per instance: no prune deletion from an instance that declares no model present
    (whatever `protect` keeps), and no plan that leaves a non-empty instance with no models.
    `maxDeletions`: per server (instances whose URLs reach one server share it) and in total.
    """
    safety = desired.safety
    declared = {inst.name: inst for inst in desired.instances}
    refusals: list[Refusal] = []
    if not safety.allow_empty:
        for inst in plans:
            found = (
                _prune_refusal(inst, declared.get(inst.instance)),
                _empty_refusal(inst, observed.instances.get(inst.instance)),
            )
            refusals += [refusal for refusal in found if refusal is not None]
    deletions = sum(1 for p in plans for a in p.actions if a.kind is ActionKind.DELETE)
    if deletions > safety.max_deletions:  # else no server has more deletions than the limit
        refusals += _server_refusals(declared, plans, safety.max_deletions)
    if deletions > safety.max_deletions:
        refusals.append(
            Refusal(
                None,
                "maxDeletions",
                f"the plan would delete {deletions} models, more than safety.maxDeletions "
                f"({safety.max_deletions}); raise it in the Fleet manifest or narrow the plan "
                "with --target",
            )
        )
    return tuple(refusals)


def _prune_refusal(inst: InstancePlan, declared: DesiredInstance | None) -> Refusal | None:
    """Refuse deleting, from an instance that declares no model present, anything it does not
    declare absent: prune must delete nothing there (a saved plan may say otherwise)."""
    models = declared.models if declared is not None else ()
    if any(m.state == "present" for m in models):
        return None
    absent = {m.name for m in models}
    pruned = [
        a.model for a in inst.actions if a.kind is ActionKind.DELETE and a.model not in absent
    ]
    if not pruned:
        return None
    shown = ", ".join(m.display for m in pruned[:3]) + (" ..." if len(pruned) > 3 else "")
    return Refusal(
        inst.instance,
        "allowEmpty",
        f"{inst.instance} declares no models, so prune must delete nothing there, but the plan "
        f"deletes {len(pruned)} undeclared ({shown}); declare its models, or set "
        "safety.allowEmpty: true in the Fleet manifest to allow it",
    )


def _server_refusals(
    declared: Mapping[str, DesiredInstance], plans: tuple[InstancePlan, ...], limit: int
) -> list[Refusal]:
    """`maxDeletions` per server reached by more than one instance (for a server of one
    instance, the fleet-wide count already says everything)."""
    servers: dict[str, list[InstancePlan]] = {}
    for inst in plans:
        found = declared.get(inst.instance)
        key = found.server if found is not None else inst.url
        servers.setdefault(key, []).append(inst)
    refusals = []
    for key, sharing in servers.items():
        count = sum(1 for p in sharing for a in p.actions if a.kind is ActionKind.DELETE)
        if len(sharing) > 1 and count > limit:
            names = ", ".join(p.instance for p in sharing)
            message = (
                f"the plan would delete {count} models from one server, {key} (instances "
                f"{names}), more than safety.maxDeletions ({limit}); declare each server once"
            )
            refusals.append(Refusal(None, "maxDeletions", message))
    return refusals


def _empty_refusal(inst: InstancePlan, observed: ObservedInstance | None) -> Refusal | None:
    """Refuse leaving a non-empty instance with no models (installed − deleted + added)."""
    deleted = {a.model for a in inst.actions if a.kind is ActionKind.DELETE}
    if not deleted:
        return None  # whatever is installed stays
    installed = {m.name for m in observed.models} if observed is not None else set()
    added = {a.model for a in inst.actions if a.kind in (ActionKind.PULL, ActionKind.CREATE)}
    if not installed or (installed - deleted) | added:
        return None
    return Refusal(
        inst.instance,
        "allowEmpty",
        f"the plan would leave {inst.instance} with no models (it has {len(installed)}); "
        "set safety.allowEmpty: true in the Fleet manifest to allow it",
    )
