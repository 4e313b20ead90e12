"""The safety guards as `guards()` applies them to any instance plans: a fresh plan, a saved plan
file (which is only a file: its actions may say anything) and every reconcile of `orc watch`."""

from __future__ import annotations

from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel, Safety
from reconciler.names import parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.plan import Action, ActionKind, InstancePlan, guards, plan


def installed(name: str, *models: str, url: str = "") -> ObservedInstance:
    return ObservedInstance(
        name=name,
        url=url or f"http://{name}:11434",
        enabled=True,
        health=Health.HEALTHY,
        models=tuple(ObservedModel(name=parse(m), digest=f"sha256:{m}") for m in models),
    )


def deleting(name: str, *models: str) -> InstancePlan:
    """An instance plan, as a saved plan file may carry it, deleting these models."""
    actions = tuple(
        Action(name, ActionKind.DELETE, parse(m), "not declared and prune: true") for m in models
    )
    return InstancePlan(instance=name, url=f"http://{name}:11434", enabled=True, actions=actions)


def test_a_saved_plan_pruning_an_instance_that_declares_nothing_is_refused() -> None:
    """A protected model keeps the instance from being emptied: that must not let the rest go."""
    desired = DesiredFleet(
        instances=(DesiredInstance(name="a", url="http://a:11434", prune=True, protect=("l*",)),)
    )
    observed = ObservedFleet(instances={"a": installed("a", "llama3:8b", "x:1", "y:1")})

    refusals = guards(desired, observed, (deleting("a", "x:1", "y:1"),))

    assert [(r.guard, r.instance) for r in refusals] == [("allowEmpty", "a")]
    assert refusals[0].message == (
        "a declares no models, so prune must delete nothing there, but the plan deletes 2 "
        "undeclared (x:1, y:1); declare its models, or set safety.allowEmpty: true in the "
        "Fleet manifest to allow it"
    )


def test_allow_empty_lets_such_a_plan_through() -> None:
    desired = DesiredFleet(
        instances=(DesiredInstance(name="a", url="http://a:11434", prune=True),),
        safety=Safety(allow_empty=True),
    )
    observed = ObservedFleet(instances={"a": installed("a", "llama3:8b", "x:1")})
    assert guards(desired, observed, (deleting("a", "x:1"),)) == ()


def test_explicit_absent_deletions_are_not_prune() -> None:
    absent = DesiredModel(name=parse("Old:1"), state="absent")
    desired = DesiredFleet(
        instances=(DesiredInstance(name="a", url="http://a:11434", models=(absent,)),)
    )
    observed = ObservedFleet(instances={"a": installed("a", "old:1", "keep:1")})
    assert guards(desired, observed, (deleting("a", "old:1"),)) == ()


def test_max_deletions_counts_per_server_whatever_the_urls_spelling() -> None:
    """Two instances reaching one server (validation refuses them; guards hold regardless)."""
    keep = (DesiredModel(name=parse("k:1")),)
    desired = DesiredFleet(
        instances=(
            DesiredInstance(name="a", url="http://127.0.0.1:11434", models=keep, prune=True),
            DesiredInstance(name="b", url="http://LOCALHOST:11434/", models=keep, prune=True),
            DesiredInstance(name="c", url="http://c:11434", models=keep, prune=True),
        ),
        safety=Safety(max_deletions=4),
    )
    observed = ObservedFleet(
        instances={
            "a": installed("a", "k:1", "x:1", "y:1", "z:1"),
            "b": installed("b", "k:1", "v:1", "w:1"),
            "c": installed("c", "k:1"),
        }
    )

    result = plan(desired, observed)

    assert len([a for a in result.actions if a.kind is ActionKind.DELETE]) == 5
    assert [r.message for r in result.refusals] == [
        "the plan would delete 5 models from one server, localhost:11434 (instances a, b), "
        "more than safety.maxDeletions (4); declare each server once",
        "the plan would delete 5 models, more than safety.maxDeletions (4); raise it in the "
        "Fleet manifest or narrow the plan with --target",
    ]


def test_instances_of_different_servers_are_not_counted_together() -> None:
    keep = (DesiredModel(name=parse("k:1")),)
    desired = DesiredFleet(
        instances=(
            DesiredInstance(name="a", url="http://127.0.0.1:11434", models=keep, prune=True),
            DesiredInstance(name="b", url="http://127.0.0.1:11435", models=keep, prune=True),
        ),
        safety=Safety(max_deletions=3),
    )
    observed = ObservedFleet(
        instances={"a": installed("a", "k:1", "x:1", "y:1"), "b": installed("b", "k:1", "z:1")}
    )
    assert plan(desired, observed).refusals == ()


def test_a_declared_instance_carries_its_server_key() -> None:
    inst = DesiredInstance(name="a", url="http://[::1]:11434/ollama/")
    assert inst.server == "localhost:11434/ollama"
    assert DesiredInstance(name="b", url="not a url").server == "not a url"
