"""The one reconcile pipeline: plan, guards, confirm, lock, apply, verify — for every caller.

`run_reconcile(steps, request, hooks)` runs a whole reconcile in one event loop and returns a
`ReconcileOutcome`; `orc plan`, `orc apply` (made now or saved by `orc plan --out`), `orc watch`
and the Python API (`Reconciler.run`) are thin callers that differ only in their request and their
hooks (how to confirm, where apply events go, which lock to hold and for how long).

A saved plan is carried out only while it is fresh: the manifests and every planned instance's
model inventory must be what they were when it was made.

The Fleet's sync windows are judged when a plan is made or carried out (`ReconcileHooks.wall`):
the actions they hold back stay in the plan, marked, and are not carried out (unless the request
ignores the windows); a run whose every change is held ends HELD.

Exit codes: a run that ends in an error raises it, or (for the endings a caller reports: refused,
nothing could be done, locked) carries it, and the error's class holds the code (errors.py).
Every other run's exit code is decided below, by `exit_code()` (and `status_exit_code()` for
`orc status`), and nowhere else.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.errors import ExitCode, ReconcilerError, RefusedError, UsageError
from reconciler.manifest import load_fleet
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.names import ModelName
from reconciler.observed import ObservedFleet, ObservedInstance
from reconciler.ollama import OllamaClient
from reconciler.ollama.registry import RegistryError, RegistryLookup
from reconciler.plan import (
    Action,
    ActionKind,
    LoadLimit,
    Plan,
    guards,
    hold_by_windows,
    plan,
    release_plan,
    select,
)
from reconciler.plan.diff import wants_update_check
from reconciler.plan.residency import assess, learn
from reconciler.probe import DEFAULT_MAX_IN_FLIGHT, ClientFactory, Observer, client_config
from reconciler.retry import RetryPolicy

if TYPE_CHECKING:
    # the executor, the notifications, the apply history and the locks are imported where
    # they are used: a plan needs none of them
    from reconciler.apply import ActionResult, ApplyResult, EventSink
    from reconciler.notify import ReconcileFacts
    from reconciler.state import HistoryRecord, LockHolder, StateDir


def load_desired(paths: Sequence[Path]) -> DesiredFleet:
    """The desired fleet of these manifest paths; raises ManifestError when any is invalid."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    result = load_fleet(list(paths))
    result.raise_for_errors()
    assert result.fleet is not None
    return result.fleet


KEEP_LOADED_RETRY = 3600.0  # seconds before loads a server evicted are tried in full again


@dataclass
class KeptLoaded:
    """What each server was seen to keep loaded, remembered for as long as one `Reconciler`
    lives (a whole `orc watch`): once an apply's loads evicted keepLoaded models, only as many
    are loaded as the server held, so `watch` does not reload them in a loop, and the instance is
    reported Degraded (plan/residency.py). After `retry` seconds every load is tried again, in
    case the server got room (more memory, a higher OLLAMA_MAX_LOADED_MODELS)."""

    clock: Callable[[], float] = time.monotonic
    retry: float = KEEP_LOADED_RETRY
    learned: dict[str, tuple[LoadLimit, float]] = field(default_factory=dict)  # and when
    _seen: dict[str, ObservedInstance] = field(default_factory=dict)
    _expected: dict[str, frozenset[ModelName]] = field(default_factory=dict)

    def limits(self) -> dict[str, LoadLimit]:
        """The limits still in force, by instance."""
        now = self.clock()
        return {n: limit for n, (limit, at) in self.learned.items() if now - at < self.retry}

    def _limit(self, name: str) -> LoadLimit | None:
        """`limits().get(name)`, without looking at the other instances' limits."""
        now = self.clock()
        limit, at = self.learned.get(name, (None, now))
        return limit if now - at < self.retry else None

    def observed(self, desired: DesiredFleet, observed: ObservedFleet) -> ObservedFleet:
        """Learn from a probe (right after an apply: what it evicted); the probe as reported."""
        declared_by_name = {i.name: i for i in desired.instances}
        for name, seen in observed.instances.items():
            declared = declared_by_name.get(name)
            if declared is None:
                continue
            previous = self._limit(name)
            limit = learn(declared, seen, previous, self._expected.pop(name, None))
            if limit is None:
                self.learned.pop(name, None)
            elif limit != previous:
                self.learned[name] = (limit, self.clock())
            self._seen[name] = seen
        return assess(desired, observed, self.limits())

    def applied(self, result: ApplyResult) -> None:
        """After an apply: the models each instance that got loads should now have loaded."""
        from reconciler.apply import Outcome

        loads: dict[str, set[ModelName]] = {}
        for r in result.results:
            if r.action.kind is ActionKind.LOAD and r.outcome is Outcome.DONE:
                loads.setdefault(r.action.instance, set()).add(r.action.model)
        for name, models in loads.items():
            seen = self._seen.get(name)
            before = {m.name for m in seen.models if m.loaded} if seen is not None else set()
            self._expected[name] = frozenset(before | models)


@dataclass
class Reconciler:
    """The dependencies of a reconcile: state directory, how to reach servers, environment."""

    state: StateDir | None = None
    client_factory: ClientFactory = OllamaClient
    env: Mapping[str, str] | None = None
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    parallelism: int | None = None  # instances worked on at once; default: the Fleet's
    secrets: SecretPolicy = field(default_factory=SecretPolicy)  # where secrets may come from
    # How the apply's retries wait and measure their total time (tests pass a fake clock).
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    kept_loaded: KeptLoaded = field(default_factory=KeptLoaded)
    history: bool = True  # record every probe round in the state directory's history
    check_updates: bool = False  # ask the registry about every pulled model, not only `auto`
    registry: RegistryLookup = field(default_factory=RegistryLookup)  # cached, bounded lookups

    async def observe(self, desired: DesiredFleet) -> ObservedFleet:
        """Probe every instance of `desired` concurrently, loaded models included; an instance
        seen evicting its keepLoaded models is reported Degraded (see `KeptLoaded`)."""
        return await self._observe(desired, loaded_where_planned=False)

    async def _observe(self, desired: DesiredFleet, *, loaded_where_planned: bool) -> ObservedFleet:
        observer = Observer(
            self.state,
            self.client_factory,
            self.max_in_flight,
            self.env,
            parallelism=self.parallelism,  # probing is bounded by requests in flight
            secrets=self.secrets,
            history=self.history,
            loaded_where_planned=loaded_where_planned,
        )
        return self.kept_loaded.observed(desired, await observer.fleet(desired))

    async def plan(
        self,
        desired: DesiredFleet,
        targets: Sequence[str] = (),
        selector: Mapping[str, str] | None = None,
    ) -> tuple[ObservedFleet, Plan]:
        """Observe the selected instances and diff them against the manifests.

        Loaded models are asked only of instances whose plan reads them (keepLoaded).
        """
        chosen = select(desired, targets, selector or {})
        observed = await self._observe(chosen, loaded_where_planned=True)
        upstream, warnings = await self.upstream(chosen, observed)
        made = plan(
            desired,
            observed,
            targets=targets,
            selector=selector or {},
            now=datetime.now(UTC),
            limits=self.kept_loaded.limits(),
            upstream=upstream,
            check_updates=self.check_updates,
            warnings=warnings,
        )
        return observed, made

    async def upstream(
        self, desired: DesiredFleet, observed: ObservedFleet
    ) -> tuple[dict[ModelName, str], list[str]]:
        """Registry digests of the installed models to check for updates, and a warning per
        model whose registry could not be asked. No model to check: no request at all."""
        wanted: dict[ModelName, None] = {}
        for inst in desired.instances:
            found = observed.instances.get(inst.name)
            for model in inst.models:
                if not wants_update_check(model, self.check_updates):
                    continue
                if found is not None and found.model(model.name) is not None:
                    wanted[model.name] = None
        names = list(wanted)
        answers = await asyncio.gather(
            *(self.registry.digest(name) for name in names), return_exceptions=True
        )
        digests: dict[ModelName, str] = {}
        warnings: list[str] = []
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, RegistryError):
                warnings.append(f"could not check {name.display} for updates: {answer.message}")
            elif isinstance(answer, BaseException):
                raise answer
            else:
                digests[name] = answer
        return digests, warnings

    async def apply(
        self,
        made: Plan,
        desired: DesiredFleet,
        *,
        parallelism: int | None = None,
        on_event: EventSink | None = None,
    ) -> ApplyResult:
        """Carry out a plan and append its outcomes to the history. Refuses a refused plan."""
        if made.refused:
            reasons = "; ".join(r.message for r in made.refusals)
            raise RefusedError(f"the plan was refused by a safety guard: {reasons}")
        from reconciler.apply import Executor

        started = _now()
        executor = Executor(
            client_for=lambda name: self._client(desired, name),
            # every instance at once unless capped: pulls and creates run on the servers
            parallelism=(
                parallelism or self.parallelism or desired.parallelism or self.max_in_flight
            ),
            retry=self.retry,
            on_event=on_event or (lambda event: None),
            pull_timeouts={i.name: i.pull_timeout for i in desired.instances},
            sleep=self.sleep,
            clock=self.clock,
        )
        result = await executor.run(made)
        self.kept_loaded.applied(result)
        if self.state is not None:
            self.state.record_history(_history(result.results, started))
        return result

    async def verify(self, desired: DesiredFleet, result: ApplyResult) -> Plan:
        """Re-observe the instances an apply touched and plan them again."""
        touched = sorted({r.action.instance for r in result.results})
        if not touched:
            return Plan(desired_digest=desired.digest())
        _, again = await self.plan(desired, targets=touched)
        return again

    async def run(
        self, request: ReconcileRequest, hooks: ReconcileHooks | None = None
    ) -> ReconcileOutcome:
        """A whole reconcile through the one pipeline: see `run_reconcile`."""
        return await run_reconcile(self, request, hooks)

    def _client(self, desired: DesiredFleet, name: str) -> OllamaClient:
        instance = desired.instance(name)
        if instance is None:
            raise UsageError(f"the plan names instance {name!r}, which no manifest declares")
        return self.client_factory(client_config(instance, self.env, self.secrets))


class ReconcileSteps(Protocol):
    """What the pipeline needs of a `Reconciler` (watch's tests pass a fake fleet)."""

    async def observe(self, desired: DesiredFleet) -> ObservedFleet: ...

    async def plan(
        self,
        desired: DesiredFleet,
        targets: Sequence[str] = (),
        selector: Mapping[str, str] | None = None,
    ) -> tuple[ObservedFleet, Plan]: ...

    async def apply(
        self,
        made: Plan,
        desired: DesiredFleet,
        *,
        parallelism: int | None = None,
        on_event: EventSink | None = None,
    ) -> ApplyResult: ...


LockFactory = Callable[[], AbstractContextManager[object]]
# Locks that depend on the plan (the machine-wide locks of the servers it changes).
PlanLockFactory = Callable[[Plan], AbstractContextManager[object]]


class LockScope(StrEnum):
    """How long the state lock is held."""

    RUN = "run"  # from before planning until the apply ends: a plan meets the fleet it was made of
    APPLY = "apply"  # around the apply only: a held lock skips only the runs that have changes


class Ending(StrEnum):
    """How a reconcile ended."""

    REFUSED = "refused"  # a safety guard refused the plan (or the saved plan)
    BLOCKED = "blocked"  # no changes, but some instances could not be planned
    SYNCED = "synced"  # nothing to do
    DRIFT = "drift"  # changes found; this run only plans
    DECLINED = "declined"  # the confirm hook said no
    LOCKED = "locked"  # another apply holds the state lock
    APPLIED = "applied"  # the apply ran: see `result` (it may have failed or been interrupted)
    HELD = "held"  # every change is held back by a sync window: nothing was carried out


@dataclass(frozen=True)
class ReconcileRequest:
    """What to reconcile: the desired fleet, its part, and whether to change anything."""

    desired: DesiredFleet
    targets: tuple[str, ...] = ()
    selector: Mapping[str, str] = field(default_factory=dict)
    apply: bool = True  # False: plan only (`orc plan`, `orc watch --mode plan`)
    saved: Plan | None = None  # carry out this plan (if still fresh) instead of planning now
    detailed_exitcode: bool = False  # exit 2 for changes or blocked instances when planning only
    lock_scope: LockScope = LockScope.RUN
    sync_windows: bool = True  # False: carry out what the Fleet's sync windows hold back


def _ignore(_: object) -> None:
    return None


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReconcileHooks:
    """Where a caller joins the pipeline. Every hook is optional."""

    confirm: Callable[[Plan], bool] | None = None  # asked before applying; None: never asked
    lock: LockFactory | None = None  # the state lock, held as `ReconcileRequest.lock_scope` says
    # Taken right before the apply, after `lock`: the locks of the servers the plan changes.
    apply_lock: PlanLockFactory | None = None
    # The part of a plan made now to carry out: e.g. watch holds back deletions for pruneDelay.
    hold_back: Callable[[Plan], Plan] | None = None
    on_plan: Callable[[Plan], None] = _ignore  # a plan was made now (not for a saved plan)
    on_observed: Callable[[ObservedFleet], None] = _ignore  # each probe: planning, verifying
    on_apply: Callable[[Plan], None] = _ignore  # the apply is about to start
    on_event: EventSink = _ignore  # the apply's progress events
    on_applied: Callable[[ApplyResult | None], None] = _ignore  # the apply ended (None: raised)
    # The run ended, whichever way (not when it raised): e.g. notifications are sent from here.
    on_outcome: Callable[[ReconcileOutcome], None] = _ignore
    wall: Callable[[], datetime] = _utc_now  # the time sync windows are judged at


@dataclass(frozen=True)
class ReconcileOutcome:
    """The end of a reconcile: the plan, what the apply did, the check afterwards, the exit code.

    `verified` is the plan of the touched instances made again after the apply; None when the
    apply did not run, was interrupted, or Ctrl-C cut the check short. `error` is set for the
    endings that are failures a caller reports (refused, nothing could be done, locked).
    """

    ending: Ending
    plan: Plan
    request: ReconcileRequest
    result: ApplyResult | None = None
    verified: Plan | None = None
    error: ReconcilerError | None = None

    @property
    def exit_code(self) -> int:
        """The exit code of the run; see `exit_code()`."""
        return int(exit_code(self))


def exit_code(outcome: ReconcileOutcome) -> ExitCode:
    """The one decision of a reconcile's exit code.

    An error decides by its class. An apply: 130 when interrupted (or while verifying), else the
    apply's own code (0 all done, 3 some failed, 1 nothing done), and 3 for a clean apply that
    left blocked instances or actions held by a sync window out. A refused plan, or one whose
    every change a sync window holds, exits 1. With `detailed_exitcode`, a plan with changes
    (held or not) or blocked instances exits 2. Everything else exits 0.
    """
    if outcome.error is not None:
        return outcome.error.exit_code
    if outcome.ending is Ending.APPLIED and outcome.result is not None:
        if outcome.result.interrupted or outcome.verified is None:
            return ExitCode.INTERRUPTED
        code = outcome.result.exit_code
        if code is ExitCode.OK and (outcome.plan.blocked or outcome.plan.held):
            return ExitCode.PARTIAL  # blocked instances or held actions were left out
        return code
    if outcome.ending is Ending.REFUSED:
        return ExitCode.ERROR
    made = outcome.plan
    if outcome.request.detailed_exitcode and (made.has_changes or made.blocked):
        return ExitCode.CHANGES
    return ExitCode.OK


def outcome_facts(outcome: ReconcileOutcome, invalid: Sequence[str] = ()) -> ReconcileFacts:
    """What notifications are made of: the outcome's plan, apply and check afterwards, and
    the errors of the manifests on disk when they are broken (`invalid`)."""
    from reconciler.notify.events import facts_from

    return facts_from(
        outcome.request.desired, outcome.plan, outcome.result, outcome.verified, invalid
    )


def status_exit_code(in_sync: bool, *, detailed: bool, answered: bool = True) -> ExitCode:
    """`orc status`: 1 when no enabled instance answered (as `orc plan` when nothing could be
    probed); with `--detailed-exitcode` 2 unless every enabled instance is healthy and in sync;
    otherwise 0."""
    if not answered:
        return ExitCode.ERROR
    return ExitCode.CHANGES if detailed and not in_sync else ExitCode.OK


async def run_reconcile(
    steps: ReconcileSteps, request: ReconcileRequest, hooks: ReconcileHooks | None = None
) -> ReconcileOutcome:
    """Plan (or check a saved plan), stop at a guard, confirm, lock, apply, verify.

    Errors that end a run early (a stale saved plan, an unknown target) are raised; see the
    module docstring for which endings carry theirs instead.
    """
    hooks = hooks or ReconcileHooks()
    outcome = await _run(steps, request, hooks)
    hooks.on_outcome(outcome)
    return outcome


async def _run(
    steps: ReconcileSteps, request: ReconcileRequest, hooks: ReconcileHooks
) -> ReconcileOutcome:
    with ExitStack() as run_lock:
        if request.apply and request.lock_scope is LockScope.RUN:
            locked = _take_lock(run_lock, hooks.lock)
            if locked is not None:
                nothing = Plan(desired_digest=request.desired.digest())
                return ReconcileOutcome(Ending.LOCKED, nothing, request, error=locked)
        if request.saved is not None:
            made = _windows(await _check_saved(steps, request, hooks), request, hooks)
        else:
            observed, made = await steps.plan(request.desired, request.targets, request.selector)
            hooks.on_observed(observed)
            made = _windows(made, request, hooks)
            hooks.on_plan(made)
            if hooks.hold_back is not None:
                made = hooks.hold_back(made)
        stop = _stop_before_apply(made, request)
        if stop is not None:
            return stop
        if hooks.confirm is not None and not hooks.confirm(made):
            return ReconcileOutcome(Ending.DECLINED, made, request)
        result = await _apply_locked(steps, made, request, hooks)
        if isinstance(result, ReconcileOutcome):
            return result  # another apply holds a lock
        if result.interrupted:
            return ReconcileOutcome(Ending.APPLIED, made, request, result)
        verified = await _verify(steps, request.desired, result, hooks)
        return ReconcileOutcome(Ending.APPLIED, made, request, result, verified)


def _windows(made: Plan, request: ReconcileRequest, hooks: ReconcileHooks) -> Plan:
    """`made` with the actions the sync windows hold back now marked (none when ignored)."""
    if not request.sync_windows:
        return release_plan(made)
    return hold_by_windows(made, request.desired, hooks.wall())


async def _apply_locked(
    steps: ReconcileSteps, planned: Plan, request: ReconcileRequest, hooks: ReconcileHooks
) -> ApplyResult | ReconcileOutcome:
    """Take the apply's locks and carry out the plan's actions no sync window holds; the LOCKED
    outcome when a lock is held."""
    made = planned.without_held()
    with ExitStack() as held:
        if request.lock_scope is LockScope.APPLY:
            locked = _take_lock(held, hooks.lock)
            if locked is not None:
                return ReconcileOutcome(Ending.LOCKED, planned, request, error=locked)
        plan_lock = hooks.apply_lock
        if plan_lock is not None:
            locked = _take_lock(held, lambda: plan_lock(made))
            if locked is not None:
                return ReconcileOutcome(Ending.LOCKED, planned, request, error=locked)
        hooks.on_apply(made)
        result: ApplyResult | None = None
        try:
            result = await steps.apply(made, request.desired, on_event=hooks.on_event)
        finally:
            hooks.on_applied(result)  # None when the apply raised
        return result


def _take_lock(held: ExitStack, lock: LockFactory | None) -> RefusedError | None:
    """Enter the lock; the refusal when another apply holds it."""
    if lock is None:
        return None
    try:
        held.enter_context(lock())
    except RefusedError as exc:
        return exc
    return None


async def _check_saved(
    steps: ReconcileSteps, request: ReconcileRequest, hooks: ReconcileHooks
) -> Plan:
    """The saved plan, once it is known fresh and allowed; raises RefusedError otherwise."""
    saved, desired = request.saved, request.desired
    assert saved is not None
    if saved.refused or not saved.has_changes:
        return saved  # refused or nothing to do: decided by `_stop_before_apply`
    observed = await steps.observe(planned_instances(saved, desired))
    hooks.on_observed(observed)
    check_fresh(saved, desired, observed)
    check_saved_actions(saved, desired, observed)
    return saved


def _stop_before_apply(made: Plan, request: ReconcileRequest) -> ReconcileOutcome | None:
    """The outcome of a run that ends before applying: refused, nothing to do, plan only."""
    saved = request.saved is not None
    if made.refused:
        error = None
        if request.apply:
            error = RefusedError(
                "the saved plan was refused by a safety guard when it was made"
                if saved
                else "the plan was refused by a safety guard: "
                + "; ".join(r.message for r in made.refusals)
            )
        return ReconcileOutcome(Ending.REFUSED, made, request, error=error)
    if not request.apply:
        enabled = [ip for ip in made.instances if ip.enabled]
        error = None
        if enabled and all(ip.blocked is not None for ip in enabled):
            error = RefusedError(
                "nothing could be planned: no enabled instance could be probed",
                hint="see the blocked instances above",
            )
        if made.has_changes:
            return ReconcileOutcome(Ending.DRIFT, made, request, error=error)
        ending = Ending.BLOCKED if made.blocked else Ending.SYNCED
        return ReconcileOutcome(ending, made, request, error=error)
    if made.without_held().has_changes:
        return None
    if made.has_changes:
        error = RefusedError(
            f"every change is held back by a sync window: {held_summary(made)}",
            hint="wait for the window, or pass --ignore-sync-windows to carry them out now",
        )
        return ReconcileOutcome(Ending.HELD, made, request, error=error)
    if made.blocked:
        error = RefusedError(
            "nothing could be done: no instance with changes could be reached",
            hint="see the blocked instances in the plan",
        )
        return ReconcileOutcome(Ending.BLOCKED, made, request, error=error)
    return ReconcileOutcome(Ending.SYNCED, made, request)


def held_summary(made: Plan, limit: int = 3) -> str:
    """`gpu-1/pull/llama3:latest held by sync window "x" until 18:00 UTC, ...` for messages."""
    held = made.held
    shown = [f"{a.id} {a.held.describe(made.created_at)}" for a in held[:limit] if a.held]
    more = f" and {len(held) - limit} more" if len(held) > limit else ""
    return ", ".join(shown) + more


async def _verify(
    steps: ReconcileSteps, desired: DesiredFleet, result: ApplyResult, hooks: ReconcileHooks
) -> Plan | None:
    """Probe the touched instances again and plan them; None when Ctrl-C cut the check short."""
    touched = sorted({r.action.instance for r in result.results})
    if not touched:
        return Plan(desired_digest=desired.digest())
    try:
        observed, again = await steps.plan(desired, touched)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()  # the run ends here, reporting what the apply did
        return None
    hooks.on_observed(observed)
    return again


def check_fresh(saved: Plan, desired: DesiredFleet, observed: ObservedFleet) -> None:
    """Refuse a saved plan when the manifests or a planned instance's inventory changed."""
    if saved.desired_digest != desired.digest():
        raise RefusedError(
            "the saved plan is stale: the manifests changed since it was made",
            hint="run `orc plan --out` again and review the new plan",
        )
    for ip in saved.instances:
        if not ip.actions:
            continue
        now = observed.instances.get(ip.instance)
        if now is None or not now.inventory_known or now.fingerprint() != ip.fingerprint:
            what = (
                "is not reachable now"
                if now is None or not now.inventory_known
                else ("has a different set of models now")
            )
            raise RefusedError(
                f"the saved plan is stale: instance {ip.instance} {what}",
                hint="run `orc plan --out` again and review the new plan",
            )


def check_saved_actions(saved: Plan, desired: DesiredFleet, observed: ObservedFleet) -> None:
    """Refuse a saved plan whose actions the manifests do not call for now, or that a guard
    refuses: a plan file is only a file, and nothing in it may delete what the rules protect."""
    instances = [ip.instance for ip in saved.instances if ip.actions]
    fresh = plan(desired, observed, targets=instances)
    wanted = {_action_key(a) for a in fresh.actions}
    stray = [
        a
        for a in saved.actions
        if _action_key(a) not in wanted and not _update_still_possible(a, desired, observed)
    ]
    if stray:
        shown = ", ".join(a.id for a in stray[:3]) + (" ..." if len(stray) > 3 else "")
        raise RefusedError(
            f"the saved plan has actions the manifests do not call for now: {shown}",
            hint="run `orc plan --out` again and review the new plan",
        )
    refusals = guards(desired, observed, saved.instances)
    if refusals:
        reasons = "; ".join(r.message for r in refusals)
        raise RefusedError(f"the saved plan is refused by a safety guard: {reasons}")


def _update_still_possible(action: Action, desired: DesiredFleet, observed: ObservedFleet) -> bool:
    """A saved `update` needs the registry to re-check; it stands while the model is declared,
    pulled (not built) and installed: applying it is a pull of what the registry has now."""
    if action.kind is not ActionKind.UPDATE:
        return False
    inst = desired.instance(action.instance)
    declared = inst.model(action.model) if inst is not None else None
    found = observed.instances.get(action.instance)
    return (
        declared is not None
        and declared.state == "present"
        and not declared.is_custom
        and found is not None
        and found.model(action.model) is not None
    )


def _action_key(action: Action) -> tuple[object, ...]:
    parameters = tuple(sorted((k, repr(v)) for k, v in action.parameters.items()))
    return (action.id, action.from_, action.system, action.template, parameters)


def planned_instances(saved: Plan, desired: DesiredFleet) -> DesiredFleet:
    """The declared instances a saved plan has actions for."""
    names = {ip.instance for ip in saved.instances if ip.actions}
    kept: tuple[DesiredInstance, ...] = tuple(i for i in desired.instances if i.name in names)
    return replace(desired, instances=kept)


def lock_servers(
    made: Plan, desired: DesiredFleet, timeout: float, command: str
) -> AbstractContextManager[list[LockHolder]]:
    """Hold the machine-wide lock of every server the plan changes, so that no other apply,
    from any working copy, changes one of them at the same time (see `ServerLocks`)."""
    from reconciler.state import ServerLocks, lock_dir_path

    keys: set[str] = set()
    for ip in made.instances:
        instance = desired.instance(ip.instance)
        if ip.actions and instance is not None:
            keys.add(instance.server)
    return ServerLocks(lock_dir_path()).acquire(keys, timeout, command)


def _history(results: Sequence[ActionResult], started: str) -> list[HistoryRecord]:
    from reconciler.state import HistoryRecord

    run_id = uuid.uuid4().hex[:12]
    finished = _now()
    return [
        HistoryRecord(
            run_id=run_id,
            started_at=started,
            finished_at=finished,
            instance=r.action.instance,
            kind=r.action.kind.value,
            model=r.action.model.display,
            outcome=r.outcome.value,
            error=r.error,
            attempts=r.attempts,
            seconds=round(r.seconds, 3),
        )
        for r in results
    ]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
