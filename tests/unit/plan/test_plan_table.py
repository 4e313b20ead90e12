"""Table-driven tests of `plan()`: desired fleet + observed fleet → the expected actions.

Each case lists the whole plan in a compact form: action ids (`inst/kind/model`, a load through
/api/embed ends in `+embed`), blocked instances (`inst/blocked/Reason`), declined deletions
(`inst/skip/model`) and refusals (`refused/guard/instance`, `*` for the fleet).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.desired import DesiredFleet, DesiredInstance, DesiredModel, Safety
from reconciler.errors import UsageError
from reconciler.names import parse
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.plan import ActionKind, Plan, PlanFormatError, plan

# ---------------------------------------------------------------- factories


def dm(name: str, *, from_: str | None = None, **kw: Any) -> DesiredModel:
    """A declared model."""
    return DesiredModel(name=parse(name), from_=parse(from_) if from_ else None, **kw)


def di(name: str, *models: DesiredModel, **kw: Any) -> DesiredInstance:
    """A declared instance."""
    return DesiredInstance(name=name, url=f"http://{name}:11434", models=models, **kw)


def fleet(*instances: DesiredInstance, **safety: Any) -> DesiredFleet:
    """A desired fleet with the given safety settings."""
    return DesiredFleet(instances=instances, safety=Safety(**safety))


def om(name: str, **kw: Any) -> ObservedModel:
    """An installed model with a digest derived from its name."""
    digest = hashlib.sha256(parse(name).key.encode()).hexdigest()
    return ObservedModel(name=parse(name), digest=digest, **kw)


def oi(
    name: str, *models: ObservedModel, health: Health = Health.HEALTHY, **kw: Any
) -> ObservedInstance:
    """An observed instance."""
    kw.setdefault("enabled", health is not Health.DISABLED)
    return ObservedInstance(
        name=name, url=f"http://{name}:11434", health=health, models=models, **kw
    )


def seen(*instances: ObservedInstance) -> ObservedFleet:
    """An observed fleet."""
    return ObservedFleet(instances={i.name: i for i in instances})


def compact(result: Plan) -> list[str]:
    """The whole plan as short strings, in order."""
    out: list[str] = []
    for inst in result.instances:
        for action in inst.actions:
            out.append(action.id + ("+embed" if action.embedding else ""))
        if inst.blocked is not None:
            out.append(f"{inst.instance}/blocked/{inst.blocked.reason}")
        out.extend(f"{inst.instance}/skip/{s.model.display}" for s in inst.skipped)
    out.extend(f"refused/{r.guard}/{r.instance or '*'}" for r in result.refusals)
    return out


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    id: str
    desired: DesiredFleet
    observed: ObservedFleet
    expected: list[str]
    targets: Sequence[str] = ()
    selector: Mapping[str, str] = field(default_factory=dict)


# fmt: off
CODER: dict[str, Any] = {
    "from_": "qwen2.5-coder:7b", "system": "Review code.", "parameters": {"num_ctx": 8192}}
CODER_SEEN: dict[str, Any] = {
    "system": "Review code.", "parameters": {"num_ctx": "8192", "stop": ["<|im_end|>"]}}
BASE = om("qwen2.5-coder:7b")

CASES = [
    Case("missing is pulled",
         fleet(di("a", dm("llama3.2:3b"))), seen(oi("a")), ["a/pull/llama3.2:3b"]),
    Case("installed is no change",
         fleet(di("a", dm("llama3.2:3b"))), seen(oi("a", om("llama3.2:3b"))), []),
    Case("extra model kept without prune",
         fleet(di("a", dm("llama3.2:3b"))),
         seen(oi("a", om("llama3.2:3b"), om("mistral:7b"))), []),
    Case("extra model deleted with prune",
         fleet(di("a", dm("llama3.2:3b"), prune=True)),
         seen(oi("a", om("llama3.2:3b"), om("mistral:7b"))), ["a/delete/mistral:7b"]),
    Case("absent and installed is deleted",
         fleet(di("a", dm("llama3.2:3b"), dm("old:7b", state="absent"))),
         seen(oi("a", om("llama3.2:3b"), om("old:7b"))), ["a/delete/old:7b"]),
    Case("absent and not installed is no change",
         fleet(di("a", dm("llama3.2:3b"), dm("old:7b", state="absent"))),
         seen(oi("a", om("llama3.2:3b"))), []),
    Case("protected absent model is skipped, not deleted",
         fleet(di("a", dm("x:1"), dm("llama3:8b", state="absent"), protect=("llama3*",))),
         seen(oi("a", om("x:1"), om("llama3:8b"))), ["a/skip/llama3:8b"]),
    Case("protected model survives prune silently",
         fleet(di("a", dm("x:1"), prune=True, protect=("llama3*",))),
         seen(oi("a", om("x:1"), om("llama3:8b"), om("gemma:2b"))), ["a/delete/gemma:2b"]),
    Case("custom model unchanged",
         fleet(di("a", dm("coder", **CODER))),
         seen(oi("a", om("coder", **CODER_SEEN), om("qwen2.5-coder:7b"))), []),
    Case("custom model missing is created",
         fleet(di("a", dm("coder", **CODER))),
         seen(oi("a", om("qwen2.5-coder:7b"))), ["a/create/coder:latest"]),
    Case("custom model with another system prompt is re-created",
         fleet(di("a", dm("coder", **{**CODER, "system": "Be terse."}))),
         seen(oi("a", om("coder", **CODER_SEEN), om("qwen2.5-coder:7b"))),
         ["a/create/coder:latest"]),
    Case("custom model with another template is re-created",
         fleet(di("a", dm("coder", **CODER, template="{{ .Prompt }}"))),
         seen(oi("a", om("coder", **CODER_SEEN, template="{{ .System }}"), BASE)),
         ["a/create/coder:latest"]),
    Case("custom model with other parameters is re-created",
         fleet(di("a", dm("coder", **{**CODER, "parameters": {"num_ctx": 4096}}))),
         seen(oi("a", om("coder", **CODER_SEEN), BASE)), ["a/create/coder:latest"]),
    Case("re-creating a custom model whose base was removed pulls the base again",
         fleet(di("a", dm("coder", **{**CODER, "system": "Be terse."}))),
         seen(oi("a", om("coder", **CODER_SEEN))),
         ["a/pull/qwen2.5-coder:7b", "a/create/coder:latest"]),
    Case("an unchanged custom model does not need its base",
         fleet(di("a", dm("coder", **CODER))), seen(oi("a", om("coder", **CODER_SEEN))), []),
    Case("parameters compared by meaning: numeric strings, a stop string vs a list",
         fleet(di("a", dm("coder", **{**CODER, "parameters": {
             "num_ctx": 8192, "temperature": 0.2, "stop": "<|im_end|>"}}))),
         seen(oi("a", om("coder", system="Review code.", parameters={
             "num_ctx": "8192", "temperature": "0.2", "stop": ["<|im_end|>"]}))), []),
    Case("custom model whose base is missing: the base is pulled first",
         fleet(di("a", dm("coder", **CODER))), seen(oi("a")),
         ["a/pull/qwen2.5-coder:7b", "a/create/coder:latest"]),
    Case("declared base is pulled once",
         fleet(di("a", dm("coder", **CODER), dm("qwen2.5-coder:7b"))), seen(oi("a")),
         ["a/pull/qwen2.5-coder:7b", "a/create/coder:latest"]),
    Case("keepLoaded and not loaded is loaded",
         fleet(di("a", dm("llama3.2:3b", keep_loaded=True))),
         seen(oi("a", om("llama3.2:3b"))), ["a/load/llama3.2:3b"]),
    Case("keepLoaded and loaded is no change",
         fleet(di("a", dm("llama3.2:3b", keep_loaded=True))),
         seen(oi("a", om("llama3.2:3b", loaded=True))), []),
    Case("keepLoaded, ps failed: an installed model is left alone, a new one is loaded",
         fleet(di("a", dm("llama3.2:3b", keep_loaded=True), dm("gemma2:2b", keep_loaded=True))),
         seen(oi("a", om("llama3.2:3b"), health=Health.DEGRADED, loaded_known=False)),
         ["a/pull/gemma2:2b", "a/load/gemma2:2b", "a/skip/llama3.2:3b"]),
    Case("keepLoaded and missing is pulled then loaded",
         fleet(di("a", dm("llama3.2:3b", keep_loaded=True))), seen(oi("a")),
         ["a/pull/llama3.2:3b", "a/load/llama3.2:3b"]),
    Case("keepLoaded embedding model loads through /api/embed",
         fleet(di("a", dm("bge-m3", keep_loaded=True))),
         seen(oi("a", om("bge-m3", capabilities=("embedding",)))),
         ["a/load/bge-m3:latest+embed"]),
    Case("a model that also completes is not loaded as an embedding model",
         fleet(di("a", dm("hybrid", keep_loaded=True))),
         seen(oi("a", om("hybrid", capabilities=("embedding", "completion")))),
         ["a/load/hybrid:latest"]),
    Case("embedding model known from another instance, pulled and loaded",
         fleet(di("a", dm("bge-m3", keep_loaded=True)), di("b", dm("bge-m3"))),
         seen(oi("a"), oi("b", om("bge-m3", capabilities=("embedding",)))),
         ["a/pull/bge-m3:latest", "a/load/bge-m3:latest+embed"]),
    Case("unreachable instance is blocked and never deleted from",
         fleet(di("a", dm("x:1"), dm("old:1", state="absent"), prune=True)),
         seen(oi("a", health=Health.UNREACHABLE, reason="Unreachable")),
         ["a/blocked/Unreachable"]),
    Case("unauthorized instance is blocked",
         fleet(di("a", dm("x:1"))),
         seen(oi("a", health=Health.UNAUTHORIZED, reason="Unauthorized")),
         ["a/blocked/Unauthorized"]),
    Case("TLS failure blocks (reason falls back to the health)",
         fleet(di("a", dm("x:1"))), seen(oi("a", health=Health.TLS_ERROR)),
         ["a/blocked/TLSError"]),
    Case("missing secret blocks that instance only",
         fleet(di("a", dm("x:1")), di("b", dm("x:1"))),
         seen(oi("a", health=Health.UNKNOWN, reason="SecretMissing"), oi("b")),
         ["a/blocked/SecretMissing", "b/pull/x:1"]),
    Case("instance missing from the observation is blocked",
         fleet(di("a", dm("x:1"))), seen(), ["a/blocked/NotObserved"]),
    Case("degraded instance is still planned",
         fleet(di("a", dm("x:1"))), seen(oi("a", health=Health.DEGRADED)), ["a/pull/x:1"]),
    Case("disabled instance is never changed",
         fleet(di("a", dm("x:1"), dm("old:1", state="absent"), enabled=False)),
         seen(oi("a", om("old:1"), health=Health.DISABLED, reason="Reachable")), []),
    Case("unreachable disabled instance is neither changed nor blocked",
         fleet(di("a", dm("x:1"), enabled=False)),
         seen(oi("a", health=Health.DISABLED, reason="Unreachable")), []),
    Case("emptying an instance is refused",
         fleet(di("a", dm("x:1", state="absent"), dm("y:1", state="absent"))),
         seen(oi("a", om("x:1"), om("y:1"))),
         ["a/delete/x:1", "a/delete/y:1", "refused/allowEmpty/a"]),
    Case("prune deletes nothing from an instance that declares nothing",
         fleet(di("a", prune=True)), seen(oi("a", om("x:1"), om("y:1"))),
         ["a/skip/x:1", "a/skip/y:1"]),
    Case("a protected model does not let prune empty the rest of an empty declaration",
         fleet(di("a", prune=True, protect=("llama3*",))),
         seen(oi("a", om("llama3:8b"), om("x:1"), om("y:1"))),
         ["a/skip/x:1", "a/skip/y:1"]),
    Case("only absent declarations: those are deleted, prune deletes nothing",
         fleet(di("a", dm("old:1", state="absent"), prune=True)),
         seen(oi("a", om("old:1"), om("x:1"))),
         ["a/delete/old:1", "a/skip/x:1"]),
    Case("an empty declaration is pruned with allowEmpty, protect still holds",
         fleet(di("a", prune=True, protect=("llama3*",)), allow_empty=True),
         seen(oi("a", om("llama3:8b"), om("x:1"))), ["a/delete/x:1"]),
    Case("emptying an instance is allowed with allowEmpty",
         fleet(di("a", prune=True), allow_empty=True), seen(oi("a", om("x:1"))),
         ["a/delete/x:1"]),
    Case("replacing the last model is not emptying",
         fleet(di("a", dm("new:1"), dm("old:1", state="absent"))), seen(oi("a", om("old:1"))),
         ["a/pull/new:1", "a/delete/old:1"]),
    Case("more deletions than maxDeletions are refused",
         fleet(di("a", dm("k:1"), prune=True), di("b", dm("k:1"), prune=True), max_deletions=2),
         seen(oi("a", om("k:1"), om("x:1"), om("y:1")), oi("b", om("k:1"), om("z:1"))),
         ["a/delete/x:1", "a/delete/y:1", "b/delete/z:1", "refused/maxDeletions/*"]),
    Case("deletions at maxDeletions are allowed",
         fleet(di("a", dm("k:1"), prune=True), max_deletions=2),
         seen(oi("a", om("k:1"), om("x:1"), om("y:1"))), ["a/delete/x:1", "a/delete/y:1"]),
    Case("llama3 declared, llama3:latest installed",
         fleet(di("a", dm("llama3"))), seen(oi("a", om("llama3:latest"))), []),
    Case("names compare case-insensitively",
         fleet(di("a", dm("LLaMA3:Latest"), prune=True)), seen(oi("a", om("llama3:latest"))), []),
    Case("full registry form equals the short form",
         fleet(di("a", dm("registry.ollama.ai/library/llama3:latest"), prune=True)),
         seen(oi("a", om("llama3"))), []),
    Case("absent in another spelling is still deleted",
         fleet(di("a", dm("k:1"), dm("Old-Model:7B", state="absent"))),
         seen(oi("a", om("k:1"), om("old-model:7b"))), ["a/delete/Old-Model:7B"]),
    Case("another tag is another model",
         fleet(di("a", dm("llama3:8b"))), seen(oi("a", om("llama3:70b"))), ["a/pull/llama3:8b"]),
    Case("models declared by a ModelSet are pulled and never pruned",
         fleet(di("a", dm("qwen2.5-coder:7b", declared_by="modelset/coding"),
                   dm("nomic-embed-text", declared_by="modelset/coding"), prune=True)),
         seen(oi("a", om("nomic-embed-text"), om("stray:1"))),
         ["a/pull/qwen2.5-coder:7b", "a/delete/stray:1"]),
    Case("target an instance",
         fleet(di("a", dm("x:1")), di("b", dm("x:1"))), seen(oi("a"), oi("b")),
         ["b/pull/x:1"], targets=("b",)),
    Case("target one model of an instance",
         fleet(di("a", dm("x:1"), dm("y:1", keep_loaded=True))), seen(oi("a")),
         ["a/pull/y:1", "a/load/y:1"], targets=("a/y:1",)),
    Case("target a custom model keeps the pull of its base",
         fleet(di("a", dm("x:1"), dm("coder", **CODER))), seen(oi("a")),
         ["a/pull/qwen2.5-coder:7b", "a/create/coder:latest"], targets=("a/coder",)),
    Case("a whole-instance target wins over a model target",
         fleet(di("a", dm("x:1"), dm("y:1"))), seen(oi("a")),
         ["a/pull/x:1", "a/pull/y:1"], targets=("a/x:1", "a")),
    Case("selector keeps matching instances",
         fleet(di("a", dm("x:1"), labels={"tier": "gpu", "env": "prod"}),
               di("b", dm("x:1"), labels={"tier": "cpu", "env": "prod"})),
         seen(oi("a"), oi("b")), ["a/pull/x:1"], selector={"tier": "gpu", "env": "prod"}),
    Case("selector matching nothing gives an empty plan",
         fleet(di("a", dm("x:1"))), seen(oi("a")), [], selector={"tier": "tpu"}),
    Case("order within an instance: pulls, creates by dependency, loads, deletes",
         fleet(di("a",
                  dm("reviewer", from_="coder", system="Review.", keep_loaded=True),
                  dm("coder", **CODER),
                  dm("old:1", state="absent"),
                  dm("llama3.2:3b", keep_loaded=True),
                  dm("aaa:1", state="absent"))),
         seen(oi("a", om("old:1"), om("aaa:1"))),
         ["a/pull/llama3.2:3b", "a/pull/qwen2.5-coder:7b", "a/create/coder:latest",
          "a/create/reviewer:latest", "a/load/reviewer:latest", "a/load/llama3.2:3b",
          "a/delete/aaa:1", "a/delete/old:1"]),
    Case("the base of a declared custom model is never pruned",
         fleet(di("a", dm("coder", **CODER), prune=True)),
         seen(oi("a", om("coder", **CODER_SEEN), om("qwen2.5-coder:7b"))), []),
    Case("the base of a declared custom model is kept despite state: absent",
         fleet(di("a", dm("coder", **CODER), dm("qwen2.5-coder:7b", state="absent"))),
         seen(oi("a", om("coder", **CODER_SEEN), om("qwen2.5-coder:7b"))),
         ["a/skip/qwen2.5-coder:7b"]),
    Case("instances are planned in name order",
         fleet(di("zeta", dm("x:1")), di("alpha", dm("x:1"))), seen(oi("zeta"), oi("alpha")),
         ["alpha/pull/x:1", "zeta/pull/x:1"]),
]
# fmt: on


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_plan_table(case: Case) -> None:
    result = plan(case.desired, case.observed, targets=case.targets, selector=case.selector)
    assert compact(result) == case.expected


# ---------------------------------------------------------------- beyond the table


def test_unknown_target_names_the_known_instances() -> None:
    desired = fleet(di("gpu-1", dm("x:1")), di("dev", dm("x:1")))
    with pytest.raises(UsageError) as info:
        plan(desired, seen(oi("gpu-1"), oi("dev")), targets=("gpu-2/x:1",))
    assert "unknown target 'gpu-2/x:1'" in str(info.value)
    assert "known instances: dev, gpu-1" in str(info.value)


def test_a_target_with_an_invalid_model_name_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid target 'a/Bad!'"):
        plan(fleet(di("a")), seen(oi("a")), targets=("a/Bad!",))


def test_each_action_says_why() -> None:
    desired = fleet(
        di(
            "a",
            dm("llama3.2:3b", keep_loaded=True),
            dm("qwen2.5-coder:7b", declared_by="modelset/coding"),
            dm("coder", **{**CODER, "system": "Be terse.", "parameters": {"num_ctx": 1}}),
            dm("old:1", state="absent"),
            prune=True,
        )
    )
    observed = seen(oi("a", om("coder", **CODER_SEEN), om("old:1"), om("stray:1")))
    reasons = {a.id: a.reason for a in plan(desired, observed).actions}
    assert reasons == {
        "a/pull/llama3.2:3b": "declared, not installed",
        "a/pull/qwen2.5-coder:7b": "declared in modelset/coding, not installed",
        "a/create/coder:latest": "system prompt differs; parameters differ (num_ctx)",
        "a/load/llama3.2:3b": "keepLoaded, not loaded",
        "a/delete/old:1": "state: absent",
        "a/delete/stray:1": "not declared and prune: true",
    }


def test_a_missing_base_and_a_missing_custom_model_say_so() -> None:
    actions = plan(fleet(di("a", dm("coder", **CODER))), seen(oi("a"))).actions
    assert [a.reason for a in actions] == ["base of coder:latest", "custom model, not installed"]


def test_skipped_deletions_say_why() -> None:
    desired = fleet(di("a", dm("x:1"), dm("llama3:8b", state="absent"), protect=("llama3*",)))
    (inst,) = plan(desired, seen(oi("a", om("x:1"), om("llama3:8b")))).instances
    assert [s.reason for s in inst.skipped] == [
        "protected by 'llama3*'; not deleted despite state: absent"
    ]


def test_create_carries_what_api_create_needs() -> None:
    desired = fleet(
        di(
            "a",
            dm(
                "coder",
                **{**CODER, "template": "{{ .Prompt }}", "parameters": {"stop": ("a", "b")}},
            ),
        )
    )
    (create,) = plan(desired, seen(oi("a", BASE))).actions
    assert create.kind is ActionKind.CREATE
    assert create.from_ == parse("qwen2.5-coder:7b")
    assert (create.system, create.template) == ("Review code.", "{{ .Prompt }}")
    assert create.parameters == {"stop": ["a", "b"]}


def test_pull_size_comes_from_another_instance_when_seen_there() -> None:
    desired = fleet(di("a", dm("x:1"), dm("y:1")), di("b"))
    observed = seen(oi("a"), oi("b", om("x:1", size=4_700_000_000)))
    sizes = {a.model.display: a.size for a in plan(desired, observed).actions}
    assert sizes == {"x:1": 4_700_000_000, "y:1": None}


def test_blocked_instance_carries_the_observed_message() -> None:
    observed = seen(
        oi("a", health=Health.UNREACHABLE, reason="Unreachable", message="connection refused")
    )
    (inst,) = plan(fleet(di("a", dm("x:1"))), observed).instances
    assert inst.blocked is not None
    assert (inst.blocked.reason, inst.blocked.message) == ("Unreachable", "connection refused")
    assert inst.actions == ()


def test_refusal_messages_name_the_guard_setting() -> None:
    desired = fleet(di("a", dm("x:1", state="absent")), max_deletions=0)
    refusals = plan(desired, seen(oi("a", om("x:1")))).refusals
    assert [r.message for r in refusals] == [
        "the plan would leave a with no models (it has 1); set safety.allowEmpty: true in the "
        "Fleet manifest to allow it",
        "the plan would delete 1 models, more than safety.maxDeletions (0); raise it in the "
        "Fleet manifest or narrow the plan with --target",
    ]


def test_plan_records_what_it_was_made_from() -> None:
    desired = fleet(di("a", dm("x:1")), di("b", dm("x:1"), enabled=False))
    observed = seen(oi("a", om("y:1")), oi("b", health=Health.DISABLED))
    now = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    result = plan(desired, observed, now=now)
    assert result.desired_digest == desired.digest()
    assert result.created_at == now
    assert [(i.instance, i.enabled, i.fingerprint) for i in result.instances] == [
        ("a", True, observed.instances["a"].fingerprint()),
        ("b", False, observed.instances["b"].fingerprint()),
    ]
    assert plan(desired, observed).created_at is None


def test_a_planned_fleet_survives_a_json_round_trip_exactly() -> None:
    desired = fleet(
        di("a", dm("coder", **CODER, keep_loaded=True), dm("old:1", state="absent")),
        di(
            "b",
            dm("bge-m3", keep_loaded=True),
            dm("llama3:8b", state="absent"),
            protect=("llama3*",),
        ),
        di("c", dm("x:1")),
        di("d", prune=True),
        di("e", dm("k:1"), prune=True),
        max_deletions=1,
    )
    observed = seen(
        oi("a", om("old:1", size=10)),
        oi("b", om("bge-m3", capabilities=("embedding",)), om("llama3:8b")),
        oi("c", health=Health.UNAUTHORIZED, message="401 from the proxy"),
        oi("d", om("stray:1")),
        oi("e", om("k:1"), om("stray:1")),
    )
    result = plan(desired, observed, now=datetime(2025, 6, 1, tzinfo=UTC))
    assert result.refused
    assert result.blocked
    assert result.has_changes
    again = Plan.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again == result
    assert compact(again) == compact(result)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"format_version": "2"}, r"not a plan of format version 1 \(found '2'\)"),
        ([], r"not a plan of format version 1 \(found None\)"),
        ({"format_version": "1", "instances": []}, "the saved plan is damaged: KeyError"),
        (
            {"format_version": "1", "instances": [{"name": "a"}], "refusals": []},
            "the saved plan is damaged: KeyError",
        ),
    ],
)
def test_from_dict_refuses_what_is_not_a_plan(data: Any, message: str) -> None:
    with pytest.raises(PlanFormatError, match=message):
        Plan.from_dict(data)


def test_summary_lines() -> None:
    assert plan(fleet(di("a", dm("x:1"))), seen(oi("a", om("x:1")))).summary() == (
        "No changes. The fleet matches the manifests."
    )
    blocked = seen(oi("a", health=Health.UNREACHABLE), oi("b", health=Health.UNREACHABLE))
    assert plan(fleet(di("a"), di("b")), blocked).summary() == (
        "No changes. 2 instances could not be planned."
    )
    changes = plan(fleet(di("a", dm("x:1"), dm("y:1"), prune=True)), seen(oi("a", om("z:1"))))
    assert changes.summary() == "Plan: 2 to pull, 0 to create, 0 to load, 1 to delete."
