"""What happened in a reconcile, as events worth telling people: pure, no I/O, no clock.

A reconcile is first reduced to facts (`facts_from`: per instance, whether it was reachable, what
the plan found, what the apply did and what failed). `EventDetector` compares each reconcile's
facts with the previous one's and names the events:

- `drift`: an instance that was in sync has changes to make although the manifests did not
  change: someone changed the server by hand.
- `failure`: an action failed, or an instance became unreachable (or could not be planned).
- `recovery`: an unreachable instance answers again; a failed or drifted one is in sync again;
  the manifests are valid again after a broken edit.
- `applied`: the reconcile changed something on an instance.
- `refused`: a safety guard refused the plan.
- `invalid`: a manifest edit is broken (the last valid manifests stay in force).

Events are built from instance names, model names, the plan's and the apply's messages, which
never carry secrets; URLs are never part of an event.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from reconciler.apply import ApplyResult, Outcome
from reconciler.desired import DesiredFleet
from reconciler.plan import InstancePlan, Plan


class EventKind(StrEnum):
    """The kinds of events a receiver can ask for (`events:` in the Fleet)."""

    DRIFT = "drift"
    FAILURE = "failure"
    RECOVERY = "recovery"
    APPLIED = "applied"
    REFUSED = "refused"
    INVALID = "invalid"


class Condition(StrEnum):
    """Where an instance stood at the end of a reconcile."""

    OK = "ok"  # reachable and in sync
    DRIFT = "drift"  # reachable, with changes still to make
    DOWN = "down"  # could not be probed or planned (unreachable, unauthorized, a secret missing)
    FAILED = "failed"  # an action on it failed


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    """One instance in one reconcile."""

    name: str
    condition: Condition
    found: tuple[str, ...] = ()  # the actions the plan found, before any apply
    applied: tuple[str, ...] = ()  # actions carried out
    failed: tuple[str, ...] = ()  # failed actions, with their errors
    reason: str = ""  # why it is down


@dataclass(frozen=True, slots=True)
class Refused:
    """A guard's refusal: of one instance's plan, or (instance None) of the whole plan."""

    instance: str | None
    message: str


@dataclass(frozen=True, slots=True)
class ReconcileFacts:
    """What one reconcile learnt, reduced to what the events are made of.

    `invalid` holds the errors of the manifests on disk when they are broken (the reconcile then
    ran with the last valid ones); `digest` is the desired state's, to tell a manifest change
    from a change by hand.
    """

    fleet: str
    digest: str
    instances: tuple[InstanceFacts, ...] = ()
    refusals: tuple[Refused, ...] = ()
    invalid: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class NotificationEvent:
    """One event to tell: its kind, the instance (None: the whole fleet), a one-line message."""

    kind: EventKind
    instance: str | None
    message: str
    details: tuple[str, ...] = ()


def facts_from(
    desired: DesiredFleet,
    made: Plan,
    result: ApplyResult | None = None,
    verified: Plan | None = None,
    invalid: Sequence[str] = (),
) -> ReconcileFacts:
    """The facts of a reconcile: its plan, what the apply did, and the check afterwards.

    An instance's condition is taken from the check after the apply when there is one (it
    shows what is still out of sync), else from the plan. A refused plan changed nothing, so its
    instances keep the condition the plan shows.
    """
    after = {ip.instance: ip for ip in verified.instances} if verified is not None else {}
    done: dict[str, list[str]] = {}
    failed: dict[str, list[str]] = {}
    for r in result.results if result is not None else ():
        if r.outcome is Outcome.DONE:
            done.setdefault(r.action.instance, []).append(r.action.id)
        elif r.outcome is Outcome.FAILED:
            failed.setdefault(r.action.instance, []).append(f"{r.action.id}: {r.error or 'failed'}")
    instances = []
    for ip in made.instances:
        now = after.get(ip.instance, ip)
        condition = _condition(now, failed.get(ip.instance))
        blocked = now.blocked or ip.blocked
        instances.append(
            InstanceFacts(
                name=ip.instance,
                condition=condition,
                found=tuple(a.id for a in ip.actions),
                applied=tuple(done.get(ip.instance, ())),
                failed=tuple(failed.get(ip.instance, ())),
                reason=f"{blocked.reason}: {blocked.message}" if blocked else "",
            )
        )
    refusals = tuple(Refused(r.instance, r.message) for r in made.refusals)
    return ReconcileFacts(
        desired.name, desired.digest(), tuple(instances), refusals, tuple(invalid)
    )


def _condition(ip: InstancePlan, failed: list[str] | None) -> Condition:
    if failed:
        return Condition.FAILED
    if ip.blocked is not None:
        return Condition.DOWN
    return Condition.DRIFT if ip.actions else Condition.OK


@dataclass
class EventDetector:
    """Remembers the last reconcile's conditions and names what changed since (see module)."""

    conditions: dict[str, Condition] = field(default_factory=dict)
    digest: str | None = None
    invalid: tuple[str, ...] = ()

    def detect(self, facts: ReconcileFacts) -> list[NotificationEvent]:
        """The events of this reconcile, fleet-wide first, then by instance; remembers it."""
        events = self._manifests(facts.invalid)
        events += [
            NotificationEvent(
                EventKind.REFUSED,
                r.instance,
                f"plan refused by a safety guard: {r.message}",
            )
            for r in facts.refusals
        ]
        same_manifests = self.digest == facts.digest
        for item in facts.instances:
            events += _instance_events(item, self.conditions.get(item.name), same_manifests)
            self.conditions[item.name] = item.condition
        self.digest = facts.digest
        return events

    def forget(self, keep: Mapping[str, object]) -> None:
        """Drop what is remembered of instances no longer declared."""
        self.conditions = {n: c for n, c in self.conditions.items() if n in keep}

    def _manifests(self, invalid: tuple[str, ...]) -> list[NotificationEvent]:
        before, self.invalid = self.invalid, invalid
        if invalid and invalid != before:
            count = len(invalid)
            message = (
                f"the manifests are invalid ({count} error{'s' if count != 1 else ''}): "
                "the last valid manifests stay in force"
            )
            return [NotificationEvent(EventKind.INVALID, None, message, invalid)]
        if before and not invalid:
            return [NotificationEvent(EventKind.RECOVERY, None, "the manifests are valid again")]
        return []


def _instance_events(
    item: InstanceFacts, before: Condition | None, same_manifests: bool
) -> list[NotificationEvent]:
    name, now = item.name, item.condition
    events: list[NotificationEvent] = []
    if item.found and before is Condition.OK and same_manifests:
        events.append(
            NotificationEvent(
                EventKind.DRIFT,
                name,
                f"{name} no longer matches the manifests (changed by hand): "
                f"{_count(item.found, 'change')} to make",
                item.found,
            )
        )
    if item.applied:
        events.append(
            NotificationEvent(
                EventKind.APPLIED,
                name,
                f"{name}: {_count(item.applied, 'change')} applied",
                item.applied,
            )
        )
    if now is Condition.FAILED:
        events.append(
            NotificationEvent(
                EventKind.FAILURE,
                name,
                f"{name}: {_count(item.failed, 'action')} failed",
                item.failed,
            )
        )
    elif now is Condition.DOWN and before is not Condition.DOWN:
        events.append(
            NotificationEvent(
                EventKind.FAILURE, name, f"{name} cannot be reached or planned: {item.reason}"
            )
        )
    elif before is Condition.DOWN and now in (Condition.OK, Condition.DRIFT):
        events.append(NotificationEvent(EventKind.RECOVERY, name, f"{name} answers again"))
    elif before in (Condition.FAILED, Condition.DRIFT) and now is Condition.OK:
        events.append(
            NotificationEvent(EventKind.RECOVERY, name, f"{name} is in sync with the manifests")
        )
    return events


def _count(items: Sequence[str], noun: str) -> str:
    return f"{len(items)} {noun}{'s' if len(items) != 1 else ''}"
