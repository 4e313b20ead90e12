"""`PruneDelay`: which deletions wait, how long, and when they are dropped (pure, fake times)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
from reconciler.names import parse
from reconciler.plan import Action, ActionKind, Blocked, InstancePlan, Plan, Refusal
from reconciler.watch.prunedelay import PruneDelay

WALL = datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
LLAMA, CODER, EMBED = "llama3.2:3b", "qwen2.5-coder:7b", "nomic-embed-text:latest"


def fleet(delay: float = 30.0, **absent: list[str]) -> DesiredFleet:
    """Instances a and b keep LLAMA; `a=[CODER]` declares CODER absent on a."""
    instances = tuple(
        DesiredInstance(
            name,
            f"http://{name}:11434",
            models=(
                DesiredModel(parse(LLAMA)),
                *(DesiredModel(parse(m), state="absent") for m in absent.get(name, [])),
            ),
        )
        for name in ("a", "b")
    )
    return DesiredFleet(instances=instances, prune_delay=delay)


def act(instance: str, kind: ActionKind, model: str) -> Action:
    return Action(instance, kind, parse(model), "state absent" if kind is ActionKind.DELETE else "")


def made(*actions: Action, blocked: tuple[str, ...] = (), refused: bool = False) -> Plan:
    plans = [
        InstancePlan(
            name,
            f"http://{name}:11434",
            True,
            actions=tuple(a for a in actions if a.instance == name),
            blocked=Blocked(name, "Unreachable", "connection refused") if name in blocked else None,
        )
        for name in ("a", "b")
    ]
    refusals = (Refusal(None, "maxDeletions", "too many"),) if refused else ()
    return Plan(instances=tuple(plans), refusals=refusals)


def kinds(plan: Plan) -> list[tuple[str, str, str]]:
    return [(a.instance, str(a.kind), a.model.display) for a in plan.actions]


def test_deletions_caused_by_a_change_wait_while_additions_go_ahead() -> None:
    delays = PruneDelay()
    delays.hold(made(), fleet(), 0.0, WALL)  # the state every instance was planned with
    changed = fleet(a=[CODER])
    plan = made(act("a", ActionKind.PULL, EMBED), act("a", ActionKind.DELETE, CODER))
    kept = delays.hold(plan, changed, 10.0, WALL + timedelta(seconds=10))
    assert kinds(kept) == [("a", "pull", EMBED)]
    [pending] = delays.pending
    assert (pending.instance, pending.model, pending.due) == ("a", CODER, 40.0)
    assert pending.to_dict() == {
        "instance": "a",
        "model": CODER,
        "reason": "state absent",
        "dueAt": "2025-06-01T12:00:40+00:00",
    }
    assert delays.next_due(after=10.0) == 40.0
    assert delays.note("Plan: x.") == (
        f"Plan: x. Pending deletions: a/{CODER} (due at 2025-06-01T12:00:40+00:00)."
    )


def test_a_deletion_still_planned_after_the_delay_is_made_then() -> None:
    delays = PruneDelay()
    delays.hold(made(), fleet(), 0.0, WALL)
    changed, delete = fleet(a=[CODER]), act("a", ActionKind.DELETE, CODER)
    delays.hold(made(delete), changed, 10.0, WALL)
    assert kinds(delays.hold(made(delete), changed, 39.9, WALL)) == []  # not due yet
    assert kinds(delays.hold(made(delete), changed, 40.0, WALL)) == [("a", "delete", CODER)]
    assert delays.pending == ()
    assert delays.next_due(after=40.0) is None


def test_a_deletion_the_new_plan_no_longer_has_is_dropped() -> None:
    delays = PruneDelay()
    delays.hold(made(), fleet(), 0.0, WALL)
    delays.hold(made(act("a", ActionKind.DELETE, CODER)), fleet(a=[CODER]), 10.0, WALL)
    assert kinds(delays.hold(made(), fleet(), 20.0, WALL)) == []  # the edit was reverted
    assert delays.pending == ()
    assert delays.note("No changes.") == "No changes."


def test_deletions_found_while_the_manifests_are_unchanged_go_ahead_at_once() -> None:
    delays = PruneDelay()
    desired, delete = fleet(a=[CODER]), act("a", ActionKind.DELETE, CODER)
    delays.hold(made(), desired, 0.0, WALL)
    # someone pulled the model declared absent by hand; the interval resync finds it
    assert kinds(delays.hold(made(delete), desired, 300.0, WALL)) == [("a", "delete", CODER)]
    assert delays.pending == ()


def test_the_first_plan_of_an_instance_counts_as_a_change() -> None:
    delays = PruneDelay()
    plan = made(act("a", ActionKind.DELETE, CODER), act("b", ActionKind.DELETE, CODER))
    assert kinds(delays.hold(plan, fleet(a=[CODER], b=[CODER]), 0.0, WALL)) == []
    assert [(p.instance, p.due) for p in delays.pending] == [("a", 30.0), ("b", 30.0)]


def test_only_the_instance_whose_desired_state_changed_waits() -> None:
    delays = PruneDelay()
    delays.hold(made(), fleet(b=[CODER]), 0.0, WALL)
    plan = made(act("a", ActionKind.DELETE, CODER), act("b", ActionKind.DELETE, CODER))
    kept = delays.hold(plan, fleet(a=[CODER], b=[CODER]), 5.0, WALL)
    assert kinds(kept) == [("b", "delete", CODER)]
    assert [p.instance for p in delays.pending] == ["a"]


def test_a_zero_delay_deletes_at_once() -> None:
    delays = PruneDelay()
    plan = made(act("a", ActionKind.DELETE, CODER))
    assert kinds(delays.hold(plan, fleet(0.0, a=[CODER]), 0.0, WALL)) == [("a", "delete", CODER)]
    assert delays.pending == ()


def test_an_unreachable_instance_keeps_its_pending_deletions_and_its_change() -> None:
    delays = PruneDelay()
    delays.hold(made(), fleet(), 0.0, WALL)
    delete = act("a", ActionKind.DELETE, CODER)
    delays.hold(made(delete), fleet(a=[CODER]), 1.0, WALL)
    delays.hold(made(blocked=("a",)), fleet(a=[CODER]), 50.0, WALL)  # down when it was due
    [pending] = delays.pending
    assert pending.due == 31.0
    assert delays.next_due(after=50.0) is None, "an overdue entry must not spin the loop"
    assert kinds(delays.hold(made(delete), fleet(a=[CODER]), 60.0, WALL)) == [
        ("a", "delete", CODER)
    ]
    # a change planned while the instance was down still counts once it is back
    delays.hold(made(blocked=("b",)), fleet(a=[CODER], b=[EMBED]), 70.0, WALL)
    kept = delays.hold(
        made(act("b", ActionKind.DELETE, EMBED)), fleet(a=[CODER], b=[EMBED]), 80.0, WALL
    )
    assert kinds(kept) == []
    assert [(p.instance, p.due) for p in delays.pending] == [("b", 110.0)]


def test_a_refused_plan_holds_nothing() -> None:
    delays = PruneDelay()
    plan = made(act("a", ActionKind.DELETE, CODER), refused=True)
    assert delays.hold(plan, fleet(a=[CODER]), 0.0, WALL) is plan
    assert delays.pending == ()


def test_an_instance_no_longer_declared_loses_its_pending_deletions() -> None:
    delays = PruneDelay()
    delays.hold(made(act("b", ActionKind.DELETE, CODER)), fleet(b=[CODER]), 0.0, WALL)
    only_a = DesiredFleet(instances=fleet().instances[:1])
    delays.hold(Plan(instances=made().instances[:1]), only_a, 5.0, WALL)
    assert delays.pending == ()
