"""Deletions caused by a manifest change wait the Fleet's `spec.pruneDelay` before they are made.

An editor or `git checkout` that writes a manifest in two steps (a valid prefix, a pause, the
rest), or a commit reverted a minute later, must not delete models only to pull them again. So in
apply mode a deletion that appears in the plan of an instance whose desired state changed is
held: the rest of the plan goes ahead, the deletion is pending with a due time, and a reconcile
at or after that time plans again and makes it only if the new plan still has it. A pending
deletion the new plan no longer has is dropped. Additions never wait.

"Changed" is judged per instance: its desired state (with the fleet-wide settings) differs from
the one it was last planned with while reachable, or it was never planned (the daemon's start
counts: it cannot know what changed while it was down). Deletions found while the desired state
is unchanged (a model declared absent pulled again by hand, found by the interval resync) go
ahead at once. An instance that could not be planned keeps its pending deletions until it can.
Pure bookkeeping on times passed in by the caller, so every rule is tested on a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from reconciler.desired import DesiredFleet, instance_digests
from reconciler.plan import Action, ActionKind, InstancePlan, Plan
from reconciler.watch.logs import EventLog

Key = tuple[str, str]  # (instance, model key)


@dataclass(frozen=True, slots=True)
class PendingDeletion:
    """A deletion held until `due` (monotonic seconds; `due_at` is the same time on the wall)."""

    instance: str
    model: str
    reason: str
    due: float
    due_at: datetime

    def describe(self) -> str:
        """`instance/model (due at ISO time)`, for the reconcile's message."""
        return f"{self.instance}/{self.model} (due at {self.due_at.isoformat()})"

    def to_dict(self) -> dict[str, Any]:
        """One entry of the status document's `pendingDeletions`."""
        return {
            "instance": self.instance,
            "model": self.model,
            "reason": self.reason,
            "dueAt": self.due_at.isoformat(),
        }


@dataclass
class PruneDelay:
    """The pending deletions of the watch loop, and the desired state each instance last had."""

    log: EventLog = field(default_factory=EventLog)
    _pending: dict[Key, PendingDeletion] = field(default_factory=dict)
    _planned_with: dict[str, str] = field(default_factory=dict)

    @property
    def pending(self) -> tuple[PendingDeletion, ...]:
        """The deletions waiting, soonest first."""
        return tuple(sorted(self._pending.values(), key=lambda p: (p.due, p.instance, p.model)))

    def hold(self, made: Plan, desired: DesiredFleet, now: float, wall: datetime) -> Plan:
        """`made` without the deletions that must still wait; updates the pending deletions."""
        if made.refused:  # nothing of a refused plan is carried out: nothing to hold either
            return made
        declared = {i.name: i for i in desired.instances}
        for key in [k for k in self._pending if k[0] not in declared]:
            self._drop(key, "the instance is no longer declared")
        planned = [p.instance for p in made.instances if p.blocked is None]
        digests = instance_digests(desired, [declared[n] for n in planned if n in declared])
        instances = tuple(
            self._instance(p, desired, now, wall, digest=digests.get(p.instance))
            for p in made.instances
        )
        return replace(made, instances=instances)

    def next_due(self, after: float) -> float | None:
        """The earliest due time later than `after` (a reconcile should run then)."""
        return min((p.due for p in self._pending.values() if p.due > after), default=None)

    def note(self, message: str) -> str:
        """The reconcile's message, followed by the pending deletions, if any."""
        if not self._pending:
            return message
        shown = ", ".join(p.describe() for p in self.pending)
        return f"{message} Pending deletions: {shown}."

    def _instance(
        self,
        planned: InstancePlan,
        desired: DesiredFleet,
        now: float,
        wall: datetime,
        *,
        digest: str | None,  # None: the instance is not declared
    ) -> InstancePlan:
        if planned.blocked is not None:
            return planned  # its inventory is unknown: its pending deletions stay as they are
        name = planned.instance
        if digest is None:
            digest = replace(desired, instances=()).digest()
        changed = self._planned_with.get(name) != digest
        self._planned_with[name] = digest
        deletions = {_key(a): a for a in planned.actions if a.kind is ActionKind.DELETE}
        for key in [k for k in self._pending if k[0] == name and k not in deletions]:
            self._drop(key, "the new plan no longer deletes it")
        delay = desired.prune_delay if changed else 0.0
        held = {k for k, a in deletions.items() if self._held(a, delay, now, wall)}
        if not held:
            return planned
        return replace(planned, actions=tuple(a for a in planned.actions if _key(a) not in held))

    def _held(self, action: Action, delay: float, now: float, wall: datetime) -> bool:
        """Whether this deletion waits (recording it when it starts waiting `delay` now)."""
        key = _key(action)
        waiting = self._pending.get(key)
        if waiting is not None:
            if waiting.due > now:
                return True
            del self._pending[key]
            self.log.info("deletion.due", **_fields(action), message="still wanted: deleting")
            return False
        if delay <= 0:
            return False
        entry = PendingDeletion(
            key[0],
            action.model.display,
            action.reason,
            now + delay,
            wall + timedelta(seconds=delay),
        )
        self._pending[key] = entry
        self.log.info(
            "deletion.held",
            **_fields(action),
            reason=action.reason,
            delay=delay,
            due_at=entry.due_at.isoformat(),
        )
        return True

    def _drop(self, key: Key, why: str) -> None:
        entry = self._pending.pop(key)
        self.log.info("deletion.dropped", instance=entry.instance, model=entry.model, message=why)


def _key(action: Action) -> Key:
    return action.instance, action.model.key


def _fields(action: Action) -> dict[str, str]:
    return {"instance": action.instance, "model": action.model.display}
