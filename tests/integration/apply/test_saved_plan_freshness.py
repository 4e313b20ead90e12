"""A saved plan is applied only while fresh: check_fresh and planned_instances in process."""

from __future__ import annotations

import json

import pytest

from reconciler.errors import RefusedError
from reconciler.names import parse
from reconciler.plan import Plan
from reconciler.reconcile import check_fresh, planned_instances
from reconciler.testing import CATALOG

SMALL = "all-minilm:latest"


async def saved_plan(rig):
    """Plan a (a pull) and b (nothing to do), and read the plan back as `orc apply` would."""
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    return reconciler, Plan.from_dict(json.loads(json.dumps(made.to_dict())))


@pytest.fixture
def two(rig):
    rig.declare("a", ["llama3.2:3b", SMALL], installed=("llama3.2:3b",))
    rig.declare("b", ["llama3.2:3b"], installed=("llama3.2:3b",))
    return rig


async def test_planned_instances_are_those_with_actions(two):
    _, saved = await saved_plan(two)

    kept = planned_instances(saved, two.desired())

    assert [i.name for i in kept.instances] == ["a"]


async def test_an_unchanged_fleet_keeps_the_plan_fresh_and_it_applies(two):
    reconciler, saved = await saved_plan(two)
    desired = two.desired()
    observed = await reconciler.observe(planned_instances(saved, desired))

    check_fresh(saved, desired, observed)
    result = await reconciler.apply(saved, desired)

    assert [r.action.id for r in result.results] == [f"a/pull/{SMALL}"]
    assert SMALL in two.servers["a"].state.models


async def test_a_model_added_behind_the_plans_back_makes_it_stale(two):
    reconciler, saved = await saved_plan(two)
    two.servers["a"].state.install(parse("tinyllama"), CATALOG["tinyllama:latest"])
    desired = two.desired()
    observed = await reconciler.observe(planned_instances(saved, desired))

    with pytest.raises(RefusedError, match="instance a has a different set of models now"):
        check_fresh(saved, desired, observed)


async def test_a_new_digest_of_the_same_model_makes_it_stale(two):
    reconciler, saved = await saved_plan(two)
    server = two.servers["a"]
    server.state.install(parse("llama3.2:3b"), server.registry.bump("llama3.2:3b"))
    desired = two.desired()
    observed = await reconciler.observe(planned_instances(saved, desired))

    with pytest.raises(RefusedError, match="instance a has a different set of models now"):
        check_fresh(saved, desired, observed)


async def test_an_instance_without_actions_may_change(two):
    reconciler, saved = await saved_plan(two)
    two.servers["b"].state.install(parse("tinyllama"), CATALOG["tinyllama:latest"])
    desired = two.desired()
    observed = await reconciler.observe(planned_instances(saved, desired))

    check_fresh(saved, desired, observed)


async def test_changed_manifests_make_the_plan_stale(two):
    reconciler, saved = await saved_plan(two)
    two.declare("b", ["llama3.2:3b", "smollm2:135m"], installed=("llama3.2:3b",))
    desired = two.desired()
    observed = await reconciler.observe(planned_instances(saved, desired))

    with pytest.raises(RefusedError, match="the manifests changed since it was made"):
        check_fresh(saved, desired, observed)
