"""`DesiredFleet.digest()`: the values saved plans and watch's state recorded stay the same.

The expected digests were computed by the first implementation (a canonical JSON document
hashed); a saved plan made by an older `orc` must still be found fresh by a newer one.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType

import pytest

from reconciler.desired import (
    DesiredFleet,
    DesiredInstance,
    DesiredModel,
    Receiver,
    Safety,
    SecretRef,
    SmokeTest,
    SourceLocation,
    SyncWindow,
    TLSSettings,
    WeightsFile,
    _canonical,
    _DigestText,
    _dumps,
    instance_digests,
)
from reconciler.names import parse

HERE = SourceLocation("fleet.yaml", 3, 5)


def shared_models() -> tuple[DesiredModel, ...]:
    """A ModelSet's models: one object each, listed by every instance it selects."""
    return (
        DesiredModel(parse("llama3.2:3b"), keep_loaded=True, declared_by="modelset/base"),
        DesiredModel(parse("qwen2.5:7b"), update="auto", declared_by="modelset/base"),
        DesiredModel(parse("old:1b"), state="absent", location=HERE),
    )


def rich_fleet() -> DesiredFleet:
    """Every kind of value the digest covers, and the settings it leaves out."""
    common = shared_models()
    custom = DesiredModel(
        parse("team/assistant:v2"),
        from_=parse("llama3.2:3b"),
        system="Réponds en français — briefly.",
        template="{{ .Prompt }}",
        parameters={"temperature": 0.2, "num_ctx": 8192, "stop": ["<|end|>", "\u2603"]},
        location=SourceLocation("models.yaml", 10, 7),
    )
    gguf = DesiredModel(
        parse("local/tiny:q4"),
        from_file=WeightsFile(Path("/srv/w/tiny.gguf"), "./w/tiny.gguf", "sha256:" + "ab" * 32, 42),
        parameters={"nested": {"b": 1, "a": [1.5, None, True]}},
    )
    first = DesiredInstance(
        name="gpu-1",
        url="https://user:pw@gpu-1.example:11434/ollama",
        priority=1,
        labels={"env": "prod", "tier": "gpu"},
        timeout=12.5,
        pull_timeout=3600,
        tls=TLSSettings(verify=False, ca_file=Path("/etc/ca.pem")),
        bearer_token=SecretRef(value="s3cr3t"),
        headers={"X-Team": "ml", "X-Api-Key": SecretRef(env="API_KEY")},
        endpoints={"health": "/healthz", "listModels": "/api/tags"},
        models=(*common, custom, gguf),
        prune=True,
        protect=("llama3*", "team/*"),
        smoke=(SmokeTest(parse("llama3.2:3b"), "Say hi", expect="hi", timeout=30.0),),
        location=HERE,
        weight=3,
        max_concurrent=2,
    )
    second = DesiredInstance(
        name="cpu-1",
        url="http://cpu-1:11434",
        enabled=False,
        bearer_token=SecretRef(file=Path("/run/secrets/token")),
        models=common,
    )
    return DesiredFleet(
        instances=(first, second),
        parallelism=4,
        interval=60.0,
        safety=Safety(allow_empty=True, max_deletions=3),
        name="prod",
        prune_delay=10.0,
        notifications=(Receiver("ops", "https://hooks.example/x"),),
        sync_windows=(SyncWindow("night", "allow", "0 22 * * *", 3600.0),),
    )


@pytest.mark.parametrize(
    ("fleet", "expected"),
    [
        (DesiredFleet(), "1e0f904333b11f47150e6fb0f0f9948d271342f6c30b74484bf2ea2e51f6bba5"),
        (rich_fleet(), "4f4abebad1d8f535e2e9070e52ccfa91523ae974a1d0504c17f5bbc0426d8510"),
        (
            DesiredFleet(instances=(DesiredInstance("a", "http://a:11434"),)),
            "e0d31e013e89c33bba3a92a57cfdb1d3453454fac1a294fd0fb3f70f988c78c2",
        ),
    ],
    ids=["empty", "rich", "one-instance"],
)
def test_digests_keep_the_values_saved_plans_recorded(fleet: DesiredFleet, expected: str) -> None:
    assert fleet.digest() == expected


def test_settings_no_plan_depends_on_leave_the_digest_alone() -> None:
    fleet = rich_fleet()
    first = fleet.instances[0]
    quieter = replace(
        fleet,
        prune_delay=0.0,
        notifications=(),
        sync_windows=(),
        instances=(replace(first, weight=1, max_concurrent=None), fleet.instances[1]),
    )
    moved = replace(first, location=SourceLocation("elsewhere.yaml", 99, 1))
    assert quieter.digest() == fleet.digest()
    assert replace(fleet, instances=(moved, fleet.instances[1])).digest() == fleet.digest()


@pytest.mark.parametrize(
    "change",
    [
        lambda i: replace(i, url="http://other:11434"),
        lambda i: replace(i, labels={"env": "dev", "tier": "gpu"}),
        lambda i: replace(i, bearer_token=SecretRef(value="another")),
        lambda i: replace(i, models=i.models[:-1]),
        lambda i: replace(i, models=(replace(i.models[0], keep_loaded=False), *i.models[1:])),
        lambda i: replace(i, models=(*i.models[:3], replace(i.models[3], parameters={}))),
        lambda i: replace(i, tls=TLSSettings()),
        lambda i: replace(i, timeout=12.0),
    ],
)
def test_a_changed_setting_changes_the_digest(change) -> None:  # type: ignore[no-untyped-def]
    fleet = rich_fleet()
    changed = replace(fleet, instances=(change(fleet.instances[0]), fleet.instances[1]))
    assert changed.digest() != fleet.digest()


def test_a_model_shared_by_instances_counts_for_each() -> None:
    """One model object listed by two instances is in both instances' part of the digest."""
    model = DesiredModel(parse("llama3.2:3b"))
    both = DesiredFleet(
        instances=(
            DesiredInstance("a", "http://a:11434", models=(model,)),
            DesiredInstance("b", "http://b:11434", models=(model,)),
        )
    )
    copied = DesiredFleet(
        instances=(
            DesiredInstance("a", "http://a:11434", models=(model,)),
            DesiredInstance("b", "http://b:11434", models=(DesiredModel(parse("llama3.2:3b")),)),
        )
    )
    only_a = replace(both, instances=(both.instances[0], replace(both.instances[1], models=())))
    assert both.digest() == copied.digest()
    assert both.digest() != only_a.digest()


def test_a_tuple_of_models_shared_by_instances_counts_for_each() -> None:
    """The loader gives every instance a ModelSet selects the very same tuple of its models: the
    digest writes its text once and uses it for each, as it would for equal, separate tuples."""
    models = shared_models()
    a = DesiredInstance("a", "http://a:11434", models=models)
    b = DesiredInstance("b", "http://b:11434", models=models)
    shared = DesiredFleet(instances=(a, b))
    copied = DesiredFleet(instances=(a, replace(b, models=(*models,))))
    fewer = DesiredFleet(instances=(a, replace(b, models=models[1:])))
    assert shared.instances[0].models is shared.instances[1].models
    assert copied.instances[0].models is not copied.instances[1].models
    assert shared.digest() == copied.digest() != fewer.digest()
    assert instance_digests(shared, shared.instances) == instance_digests(copied, copied.instances)


def test_the_digest_is_worked_out_once_per_fleet() -> None:
    fleet = rich_fleet()
    first = fleet.digest()
    assert fleet.digest() is first
    assert replace(fleet, name="other").digest() != first
    assert fleet == replace(fleet, name="prod")  # the remembered digest is no part of equality


def test_each_instance_alone_digests_as_a_fleet_of_that_instance() -> None:
    """What watch's pruneDelay compares between rounds, instance by instance."""
    fleet = rich_fleet()
    both = fleet.instances
    assert instance_digests(fleet, both) == {
        i.name: replace(fleet, instances=(i,)).digest() for i in both
    }
    assert instance_digests(fleet, both[1:]) == {
        "cpu-1": replace(fleet, instances=both[1:]).digest()
    }
    assert instance_digests(fleet, []) == {}


class Tier(enum.StrEnum):
    GPU = "gpu"


class Rank(enum.IntEnum):
    FIRST = 1


@dataclass(frozen=True, slots=True)
class NamedSecret(SecretRef):
    """A reference of a kind the vocabulary may grow: still a reference, never a value."""


@pytest.mark.parametrize(
    "value",
    [
        NamedSecret(value="s3cr3t"),
        {"token": NamedSecret(env="TOKEN"), "plain": "x"},
        MappingProxyType({"b": 1, "a": [Path("/x"), None]}),
        {1: "one", "2": 2.5},
        [float("nan"), float("inf"), -0.0, 1e100],
        (Tier.GPU, Rank.FIRST, True, "ünïcødé \u2028"),
        {"nested": {"z": [SourceLocation("f", 1, 1)], "a": parse("Llama3")}},
    ],
    ids=["secret-kind", "headers", "mapping-proxy", "other-keys", "floats", "enums", "nested"],
)
def test_the_digest_text_is_the_canonical_json_of_any_value(value: object) -> None:
    """The digest writes the JSON text of the canonical form directly: whatever the value, the
    text is what serialising the canonical form gives."""
    assert _DigestText().text(value) == _dumps(_canonical(value))
