"""One reconcile: load → validate → observe → plan → apply, used by the CLI and by watch.

Each step is its own method so that `orc plan`, `orc apply`, `orc apply plan.json` and
`orc status` compose the same pieces. A saved plan is carried out only while it is fresh: the
manifests and every planned instance's model inventory must be what they were when it was made.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from reconciler.apply import ActionResult, ApplyResult, EventSink, Executor, RetryPolicy
from reconciler.errors import RefusedError, UsageError
from reconciler.manifest import load_fleet
from reconciler.manifest.desired import DesiredFleet, DesiredInstance
from reconciler.observe import DEFAULT_MAX_IN_FLIGHT, ClientFactory, Observer, client_config
from reconciler.observed import ObservedFleet
from reconciler.ollama import OllamaClient
from reconciler.plan import Action, Plan, guards, plan
from reconciler.state import HistoryRecord, LockHolder, ServerLocks, StateDir, lock_dir_path


def load_desired(paths: Sequence[Path]) -> DesiredFleet:
    """The desired fleet of these manifest paths; raises ManifestError when any is invalid."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise UsageError(f"no such file or directory: {missing[0]}")
    result = load_fleet(list(paths))
    result.raise_for_errors()
    assert result.fleet is not None
    return result.fleet


def select(
    desired: DesiredFleet, targets: Sequence[str] = (), selector: Mapping[str, str] | None = None
) -> DesiredFleet:
    """The part of the fleet that targets (`NAME` or `NAME/MODEL`) and a label selector name.

    An unknown target, or a selection that leaves no instance, is a usage error: a typo must
    not look like a fleet with nothing to do.
    """
    known = {inst.name for inst in desired.instances}
    wanted = {t.partition("/")[0] for t in targets}
    for name in sorted(wanted - known):
        raise UsageError(
            f"unknown target {name!r}: no instance has that name",
            hint=f"known instances: {', '.join(sorted(known)) or 'none'}",
        )
    labels = dict(selector or {})
    kept = tuple(
        inst
        for inst in desired.instances
        if (not wanted or inst.name in wanted)
        and all(inst.labels.get(k) == v for k, v in labels.items())
    )
    if labels and not kept:
        shown = ", ".join(f"{k}={v}" for k, v in labels.items())
        raise UsageError(f"no instance matches --selector {shown}")
    return replace(desired, instances=kept)


@dataclass
class Reconciler:
    """The dependencies of a reconcile: state directory, how to reach servers, environment."""

    state: StateDir | None = None
    client_factory: ClientFactory = OllamaClient
    env: Mapping[str, str] | None = None
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    parallelism: int | None = None  # instances worked on at once; default: the Fleet's

    async def observe(self, desired: DesiredFleet) -> ObservedFleet:
        """Probe every instance of `desired` concurrently."""
        observer = Observer(
            self.state,
            self.client_factory,
            self.max_in_flight,
            self.env,
            parallelism=self.parallelism,  # probing is bounded by requests in flight
        )
        return await observer.fleet(desired)

    async def plan(
        self,
        desired: DesiredFleet,
        targets: Sequence[str] = (),
        selector: Mapping[str, str] | None = None,
    ) -> tuple[ObservedFleet, Plan]:
        """Observe the selected instances and diff them against the manifests."""
        observed = await self.observe(select(desired, targets, selector))
        made = plan(
            desired, observed, targets=targets, selector=selector or {}, now=datetime.now(UTC)
        )
        return observed, made

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
        started = _now()
        executor = Executor(
            client_for=lambda name: self._client(desired, name),
            parallelism=parallelism or self.parallelism or desired.parallelism,
            retry=self.retry,
            on_event=on_event or (lambda event: None),
            pull_timeouts={i.name: i.pull_timeout for i in desired.instances},
        )
        result = await executor.run(made)
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

    def _client(self, desired: DesiredFleet, name: str) -> OllamaClient:
        instance = desired.instance(name)
        if instance is None:
            raise UsageError(f"the plan names instance {name!r}, which no manifest declares")
        return self.client_factory(client_config(instance, self.env))


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
    stray = [a for a in saved.actions if _action_key(a) not in wanted]
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
    keys: set[str] = set()
    for ip in made.instances:
        instance = desired.instance(ip.instance)
        if ip.actions and instance is not None:
            keys.add(server_key(instance.url))
    return ServerLocks(lock_dir_path()).acquire(keys, timeout, command)


def server_key(url: str) -> str:
    """One spelling per server: `HTTP://User:pw@GPU-1/` → `http://gpu-1:80`.

    Scheme and host lower-cased, credentials dropped, the scheme's default port made explicit,
    trailing slashes of the path removed.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # an IPv6 address
    try:
        port = str(parts.port or {"http": 80, "https": 443}.get(scheme) or "")
    except ValueError:  # not a number: keep it as written, it names the server all the same
        port = parts.netloc.rpartition("@")[2].rpartition(":")[2]
    authority = f"{host}:{port}" if port else host
    return f"{scheme}://{authority}{parts.path.rstrip('/')}"


def _history(results: Sequence[ActionResult], started: str) -> list[HistoryRecord]:
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
