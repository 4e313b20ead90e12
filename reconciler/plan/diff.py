"""The diff of one instance: declared models against its observed inventory.

Pulls, then creates (each after the model it builds on), then loads, then deletes. Protected
models and bases of declared custom models are never deleted, and prune never empties an instance
whose declared set is empty unless the Fleet allows it. No I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.desired import DesiredInstance, DesiredModel
from reconciler.names import ModelName
from reconciler.observed import ObservedInstance, ObservedModel
from reconciler.plan.document import Action, ActionKind, Skipped
from reconciler.plan.parameters import differing_parameters, json_parameters
from reconciler.plan.residency import LoadLimit, loaded_of

EMPTY_DECLARATION = (
    "not declared, but the instance declares no models: prune deletes nothing unless "
    "safety.allowEmpty: true"
)

# Models seen anywhere in the fleet, by name: sizes and capabilities of models not yet installed.
Catalog = Mapping[ModelName, ObservedModel]
# The registry's current manifest digest (bare hex) of the models that were looked up.
Upstream = Mapping[ModelName, str]
NEWER_BUILD = "registry has a newer build"


@dataclass(frozen=True, slots=True)
class InstanceDiff:
    """The actions for one instance, in execution order, and the deletions it declined."""

    actions: tuple[Action, ...]
    skipped: tuple[Skipped, ...]


def diff_instance(
    desired: DesiredInstance,
    observed: ObservedInstance,
    catalog: Catalog,
    *,
    limit: LoadLimit | None = None,
    allow_empty: bool = False,
    upstream: Upstream | None = None,
    check_updates: bool = False,
) -> InstanceDiff:
    """Plan one instance whose inventory is known; `limit`: what it was seen to keep loaded.

    Prune deletes nothing from an instance that declares no model present (an emptied list, a
    ModelSet that stopped matching) unless `allow_empty` (the Fleet's `safety.allowEmpty`);
    the models it would have deleted are reported as skipped. `upstream` digests give updates
    of installed models with `update: auto` (or of every pulled model with `check_updates`).
    """
    installed = {m.name: m for m in observed.models}
    present = _unique(m for m in desired.models if m.state == "present")
    creates = _creates(desired.name, present, installed)
    pulls = _pulls(desired.name, present, installed, creates, catalog)
    loads, unknown = _loads(desired.name, present, installed, catalog, observed.loaded_known)
    if limit is not None and limit.applies_to(desired):
        loads, held_back = _within(loads, limit, observed)
        unknown.extend(held_back)
    prune = desired.prune and (bool(present) or allow_empty)
    deletes, skipped = _deletes(desired, present, installed, prune=prune)
    updates = _updates(desired.name, present, installed, upstream or {}, check_updates)
    actions = (*pulls, *creates, *loads, *deletes, *updates)
    return InstanceDiff(actions=actions, skipped=(*unknown, *skipped))


def is_embedding(model: ObservedModel | None, name: ModelName) -> bool:
    """Whether a model only embeds (so it is loaded with /api/embed, not /api/generate).

    Known capabilities decide; without them the name decides, as `ObservedModel.can_chat` does.
    """
    if model is not None and model.capabilities:
        return "embedding" in model.capabilities and "completion" not in model.capabilities
    return "embed" in name.model.lower()


def _unique(models: Iterable[DesiredModel]) -> tuple[DesiredModel, ...]:
    seen: dict[ModelName, DesiredModel] = {}
    for model in models:
        seen.setdefault(model.name, model)
    return tuple(seen.values())


def _source(model: DesiredModel) -> str:
    return "" if model.declared_by == "instance" else f" in {model.declared_by}"


def _pulls(
    instance: str,
    present: tuple[DesiredModel, ...],
    installed: Mapping[ModelName, ObservedModel],
    creates: tuple[Action, ...],
    catalog: Catalog,
) -> list[Action]:
    """Declared models not installed, then missing bases of the custom models to be created."""
    pulls: dict[ModelName, Action] = {}
    for m in present:
        if not m.is_custom and m.name not in installed:
            reason = f"declared{_source(m)}, not installed"
            pulls[m.name] = _pull(instance, m.name, reason, catalog)
    declared = {m.name for m in present}
    bases: dict[ModelName, list[str]] = {}
    for create in creates:
        base = create.from_
        if base is not None and base not in installed and base not in declared:
            bases.setdefault(base, []).append(create.model.display)
    for base, users in bases.items():
        pulls[base] = _pull(instance, base, f"base of {', '.join(users)}", catalog)
    return list(pulls.values())


def _pull(instance: str, name: ModelName, reason: str, catalog: Catalog) -> Action:
    known = catalog.get(name)
    size = known.size if known is not None and known.size > 0 else None
    return Action(instance, ActionKind.PULL, name, reason, size=size)


def _creates(
    instance: str,
    present: tuple[DesiredModel, ...],
    installed: Mapping[ModelName, ObservedModel],
) -> tuple[Action, ...]:
    """Custom models missing or different, each after a custom model it is built on."""
    customs = {m.name: m for m in present if m.is_custom}
    actions = []
    for m in customs.values():
        reason = _create_reason(m, installed.get(m.name))
        if reason is None:
            continue
        weights = m.from_file
        action = Action(
            instance,
            ActionKind.CREATE,
            m.name,
            reason,
            from_=m.from_,
            system=m.system,
            template=m.template,
            parameters=json_parameters(m.parameters),
            size=weights.size if weights is not None and weights.size else None,
            file=str(weights.path) if weights is not None else None,
            file_source=weights.source if weights is not None else None,
            file_digest=weights.digest if weights is not None else None,
        )
        actions.append((_depth(m, customs), action))
    return tuple(a for _, a in sorted(actions, key=lambda pair: pair[0]))


def _depth(model: DesiredModel, customs: Mapping[ModelName, DesiredModel]) -> int:
    """How many declared custom models this one is built on, transitively (cycles stop)."""
    depth, seen = 0, {model.name}
    parent = customs.get(model.from_) if model.from_ is not None else None
    while parent is not None and parent.name not in seen:
        seen.add(parent.name)
        depth += 1
        parent = customs.get(parent.from_) if parent.from_ is not None else None
    return depth


def _create_reason(model: DesiredModel, observed: ObservedModel | None) -> str | None:
    if observed is None:
        return "custom model, not installed"
    differences = []
    weights = model.from_file
    if weights is not None and observed.weights != weights.hex:
        differences.append("weights file changed")
    if _text_differs(model.system, observed.system):
        differences.append("system prompt differs")
    if _text_differs(model.template, observed.template):
        differences.append("template differs")
    names = differing_parameters(model.parameters, observed.parameters)
    if names:
        differences.append(f"parameters differ ({', '.join(names)})")
    return "; ".join(differences) or None


def _text_differs(declared: str | None, observed: str | None) -> bool:
    """Undeclared text is inherited, so never differs; surrounding whitespace does not count."""
    return declared is not None and declared.strip() != (observed or "").strip()


def _loads(
    instance: str,
    present: tuple[DesiredModel, ...],
    installed: Mapping[ModelName, ObservedModel],
    catalog: Catalog,
    loaded_known: bool,
) -> tuple[list[Action], list[Skipped]]:
    """keepLoaded models not loaded; when /api/ps failed, installed ones are left as they are."""
    actions, unknown = [], []
    for m in present:
        observed = installed.get(m.name)
        if not m.keep_loaded or (observed is not None and observed.loaded):
            continue
        if observed is not None and not loaded_known:
            unknown.append(Skipped(m.name, "keepLoaded, but /api/ps failed: loaded or not unknown"))
            continue
        known = observed or catalog.get(m.name)
        if known is None and m.from_ is not None:
            known = installed.get(m.from_) or catalog.get(m.from_)
        reason = "keepLoaded, not loaded"
        embedding = is_embedding(known, m.name)
        actions.append(Action(instance, ActionKind.LOAD, m.name, reason, embedding=embedding))
    return actions, unknown


def _within(
    loads: list[Action], limit: LoadLimit, observed: ObservedInstance
) -> tuple[list[Action], list[Skipped]]:
    """The loads that fit in what the server was seen to hold; the others would only evict a
    loaded keepLoaded model (see residency.py), so they are skipped, saying so."""
    room = max(0, limit.held - len(loaded_of(limit.wanted, observed)))
    why = (
        f"keepLoaded, but the server keeps at most {limit.held} of {len(limit.wanted)} "
        "keepLoaded models loaded: loading it would evict another"
    )
    return loads[:room], [Skipped(a.model, why) for a in loads[room:]]


def wants_update_check(model: DesiredModel, check_updates: bool) -> bool:
    """Whether the registry is asked about a declared model (pulled ones only)."""
    return (
        model.state == "present"
        and not model.is_custom
        and (check_updates or model.update == "auto")
    )


def _updates(
    instance: str,
    present: tuple[DesiredModel, ...],
    installed: Mapping[ModelName, ObservedModel],
    upstream: Upstream,
    check_updates: bool,
) -> list[Action]:
    """Installed models whose registry digest differs from the installed one."""
    actions = []
    for m in present:
        if not upstream or not wants_update_check(m, check_updates):
            continue
        observed = installed.get(m.name)
        latest = upstream.get(m.name)
        if observed is None or latest is None:
            continue
        if latest != observed.digest:
            actions.append(Action(instance, ActionKind.UPDATE, m.name, NEWER_BUILD))
    return actions


def _deletes(
    desired: DesiredInstance,
    present: tuple[DesiredModel, ...],
    installed: Mapping[ModelName, ObservedModel],
    *,
    prune: bool,
) -> tuple[list[Action], tuple[Skipped, ...]]:
    """`state: absent` models that are installed, then undeclared ones: deleted with `prune`,
    skipped when `desired.prune` is held back (the instance declares nothing present)."""
    wanted = {m.name for m in present}
    bases = {m.from_: m.name for m in present if m.from_ is not None}
    deletes: dict[ModelName, Action] = {}
    skipped = []
    for m in desired.models:
        if m.state != "absent" or m.name not in installed or m.name in wanted:
            continue
        kept = _kept_because(desired, m.name, bases)
        if kept is not None:
            skipped.append(Skipped(m.name, f"{kept}; not deleted despite state: absent"))
        else:
            reason = f"state: absent{_source(m)}"
            deletes[m.name] = Action(desired.name, ActionKind.DELETE, m.name, reason)
    if desired.prune:
        declared = {m.name for m in desired.models}
        for name in sorted(installed):
            if name in declared or _kept_because(desired, name, bases) is not None:
                continue
            if prune:
                reason = "not declared and prune: true"
                deletes[name] = Action(desired.name, ActionKind.DELETE, name, reason)
            else:
                skipped.append(Skipped(name, EMPTY_DECLARATION))
    return sorted(deletes.values(), key=lambda a: a.model), tuple(skipped)


def _kept_because(
    desired: DesiredInstance, name: ModelName, bases: Mapping[ModelName, ModelName]
) -> str | None:
    """Why a model must not be deleted, or None when it may be."""
    pattern = next((p for p in desired.protect if name.matches_glob(p)), None)
    if pattern is not None:
        return f"protected by {pattern!r}"
    if name in bases:
        return f"base of {bases[name].display}"
    return None
