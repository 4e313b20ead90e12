"""What a server was seen to keep loaded (plan/residency.py): when a limit is learned, kept,
raised or forgotten; how the plan holds back loads that would only evict; the Degraded report."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel
from reconciler.names import parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.plan import LoadLimit, plan
from reconciler.plan.residency import assess, learn

MODELS = ("a:1b", "b:1b", "c:1b", "d:1b", "e:1b")
ALL = frozenset(parse(m) for m in MODELS)


def desired(*keep: str, other: tuple[str, ...] = ()) -> DesiredInstance:
    models = tuple(DesiredModel(parse(m), keep_loaded=True) for m in keep)
    models += tuple(DesiredModel(parse(m)) for m in other)
    return DesiredInstance(name="gpu", url="http://gpu:11434", models=models)


def observed(
    loaded: tuple[str, ...], installed: tuple[str, ...] = MODELS, **kw: Any
) -> ObservedInstance:
    models = tuple(
        ObservedModel(parse(m), hashlib.sha256(m.encode()).hexdigest(), loaded=m in loaded)
        for m in installed
    )
    kw.setdefault("health", Health.HEALTHY)
    return ObservedInstance(name="gpu", url="http://gpu:11434", enabled=True, models=models, **kw)


def names(*models: str) -> frozenset:  # type: ignore[type-arg]
    return frozenset(parse(m) for m in models)


LIMIT3 = LoadLimit(3, ALL)


@pytest.mark.parametrize(
    ("case", "seen", "previous", "expected", "learned"),
    [
        ("evicted after an apply", ("c:1b", "d:1b", "e:1b"), None, MODELS, LIMIT3),
        ("all stuck", MODELS, None, MODELS, None),
        ("nothing expected, no limit", ("a:1b",), None, None, None),
        ("a limit is kept", ("a:1b", "b:1b", "c:1b"), LIMIT3, None, LIMIT3),
        (
            "a limit is lowered by new evictions",
            ("a:1b", "b:1b"),
            LIMIT3,
            MODELS,
            LoadLimit(2, ALL),
        ),
        ("held more: raised", ("a:1b", "b:1b", "c:1b", "d:1b"), LIMIT3, None, LoadLimit(4, ALL)),
        ("held all: forgotten", MODELS, LIMIT3, None, None),
        ("for other models: forgotten", ("a:1b",), LoadLimit(1, names("a:1b")), None, None),
    ],
)
def test_learn(case, seen, previous, expected, learned):
    got = learn(desired(*MODELS), observed(seen), previous, names(*expected) if expected else None)
    assert got == learned, case


def test_a_deleted_model_missing_from_ps_is_no_eviction():
    # b was expected loaded but is no longer installed: judged by tags, not counted as evicted
    got = learn(
        desired("a:1b", "b:1b"),
        observed(("a:1b",), installed=("a:1b",)),
        None,
        names("a:1b", "b:1b"),
    )
    assert got is None


def test_nothing_is_learned_while_ps_is_unknown():
    seen = observed(("a:1b",), loaded_known=False)
    assert learn(desired(*MODELS), seen, LIMIT3, names(*MODELS)) == LIMIT3


def fleet(inst: DesiredInstance) -> DesiredFleet:
    return DesiredFleet(instances=(inst,))


def test_the_plan_loads_only_up_to_what_the_server_held():
    made = plan(
        fleet(desired(*MODELS)), ObservedFleet({"gpu": observed(("a:1b",))}), limits={"gpu": LIMIT3}
    )
    (inst,) = made.instances
    assert [a.id for a in inst.actions] == ["gpu/load/b:1b", "gpu/load/c:1b"]
    assert [s.model.display for s in inst.skipped] == ["d:1b", "e:1b"]
    assert inst.skipped[0].reason == (
        "keepLoaded, but the server keeps at most 3 of 5 keepLoaded models loaded: "
        "loading it would evict another"
    )


def test_without_a_limit_every_missing_model_is_loaded():
    made = plan(fleet(desired(*MODELS)), ObservedFleet({"gpu": observed(("a:1b",))}))
    assert len(made.actions) == 4


def test_a_limit_learned_for_other_models_does_not_hold_back_loads():
    made = plan(
        fleet(desired(*MODELS[:4])),
        ObservedFleet({"gpu": observed(("a:1b",))}),
        limits={"gpu": LoadLimit(1, ALL)},
    )
    assert len(made.actions) == 3


def test_assess_reports_the_shortfall_as_degraded():
    seen = ObservedFleet({"gpu": observed(("a:1b", "b:1b", "c:1b"))})
    got = assess(fleet(desired(*MODELS)), seen, {"gpu": LIMIT3}).instances["gpu"]
    assert (got.health, got.reason, got.message) == (
        Health.DEGRADED,
        "KeepLoadedEvicted",
        "keeps 3 of 5 keepLoaded models loaded",
    )


def test_assess_adds_to_an_instance_already_degraded():
    seen = ObservedFleet(
        {
            "gpu": observed(
                ("a:1b",), health=Health.DEGRADED, reason="Reachable", message="odd names"
            )
        }
    )
    got = assess(fleet(desired(*MODELS)), seen, {"gpu": LIMIT3}).instances["gpu"]
    assert (got.health, got.message) == (
        Health.DEGRADED,
        "odd names; keeps 1 of 5 keepLoaded models loaded",
    )


def test_assess_leaves_a_disabled_instance_and_one_without_a_limit_alone():
    disabled = observed(("a:1b",), health=Health.DISABLED)
    limits = {"gpu": LIMIT3}
    assert (
        assess(fleet(desired(*MODELS)), ObservedFleet({"gpu": disabled}), limits).instances["gpu"]
        == disabled
    )
    plain = observed(("a:1b",))
    assert (
        assess(fleet(desired(*MODELS)), ObservedFleet({"gpu": plain}), {}).instances["gpu"] == plain
    )
