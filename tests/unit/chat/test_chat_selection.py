"""Candidate selection: who may serve a chat with a model, in what order, and why not others."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from reconciler.chat import Selection, select_candidates
from reconciler.desired import DesiredInstance
from reconciler.names import parse
from reconciler.observed import Health, ObservedInstance, ObservedModel

LLAMA = ObservedModel(parse("llama3.2:3b"), "aa", capabilities=("completion", "tools"))
EMBED = ObservedModel(parse("nomic-embed-text:latest"), "bb", capabilities=("embedding",))
VISION_ONLY = ObservedModel(parse("clip:latest"), "cc", capabilities=("vision",))


@dataclass
class Inst:
    """One row of a table: the instance as declared and as probed."""

    name: str
    priority: int = 5
    enabled: bool = True
    health: Health = Health.HEALTHY
    latency: float | None = 10.0
    models: tuple[ObservedModel, ...] = (LLAMA,)
    message: str = ""
    reason: str = "Reachable"

    def desired(self) -> DesiredInstance:
        return DesiredInstance(
            name=self.name, url=f"http://{self.name}", enabled=self.enabled, priority=self.priority
        )

    def observed(self) -> ObservedInstance:
        return ObservedInstance(
            name=self.name,
            url=f"http://{self.name}",
            enabled=self.enabled,
            health=self.health,
            reason=self.reason,
            message=self.message,
            latency_ms=self.latency,
            models=self.models,
        )


def choose(rows: list[Inst], model: str = "llama3.2:3b", forced: str | None = None) -> Selection:
    return select_candidates(
        [r.desired() for r in rows],
        {r.name: r.observed() for r in rows},
        parse(model),
        forced=forced,
    )


CASES = [
    pytest.param(
        [Inst("c", priority=3), Inst("a", priority=1), Inst("b", priority=2)],
        "llama3.2:3b",
        ["a", "b", "c"],
        {},
        id="lower-priority-first",
    ),
    pytest.param(
        [
            Inst(
                "down",
                priority=1,
                health=Health.UNREACHABLE,
                reason="Unreachable",
                message="down: list models failed: cannot connect to http://down: refused",
                models=(),
            ),
            Inst("up", priority=2),
        ],
        "llama3.2:3b",
        ["up"],
        {"down": "unreachable: list models failed: cannot connect to http://down: refused"},
        id="unhealthy-passed-over",
    ),
    pytest.param(
        [Inst("none", priority=1, models=()), Inst("has", priority=2)],
        "llama3.2:3b",
        ["has"],
        {"none": "does not have llama3.2:3b"},
        id="missing-model",
    ),
    pytest.param(
        [Inst("emb", models=(EMBED,))],
        "nomic-embed-text",
        [],
        {
            "emb": "nomic-embed-text:latest is an embedding model and cannot chat "
            "(capabilities: embedding)"
        },
        id="embedding-model-never-chats",
    ),
    pytest.param(
        [Inst("vis", models=(VISION_ONLY,))],
        "clip",
        [],
        {"vis": "clip:latest cannot chat: no 'completion' capability (capabilities: vision)"},
        id="no-completion-capability",
    ),
    pytest.param(
        [
            Inst("off", priority=1, enabled=False, health=Health.DISABLED),
            Inst("on", priority=9),
        ],
        "llama3.2:3b",
        ["on"],
        {"off": "disabled"},
        id="disabled",
    ),
    pytest.param(
        [Inst("slow", latency=80.0), Inst("fast", latency=4.0), Inst("unknown", latency=None)],
        "llama3.2:3b",
        ["fast", "slow", "unknown"],
        {},
        id="latency-breaks-priority-ties",
    ),
    pytest.param(
        [
            Inst("fast-but-low", priority=2, latency=1.0),
            Inst("slow-but-high", priority=1, latency=500.0),
        ],
        "llama3.2:3b",
        ["slow-but-high", "fast-but-low"],
        {},
        id="priority-beats-latency",
    ),
    pytest.param(
        [Inst("degraded", health=Health.DEGRADED)],
        "LLAMA3.2:3B",
        ["degraded"],
        {},
        id="degraded-still-serves-and-names-ignore-case",
    ),
    pytest.param(
        [Inst("latest", models=(ObservedModel(parse("qwen2.5:latest"), "dd"),))],
        "qwen2.5",
        ["latest"],
        {},
        id="implicit-latest-tag",
    ),
]


@pytest.mark.parametrize(("rows", "model", "order", "reasons"), CASES)
def test_candidates_and_reasons(
    rows: list[Inst], model: str, order: list[str], reasons: dict[str, str]
) -> None:
    selection = choose(rows, model)
    assert [i.name for i in selection.candidates] == order
    passed = {p.instance: p.reason for p in selection.passed_over}
    assert passed == reasons


def test_forced_instance_is_the_only_one_considered_and_may_be_disabled() -> None:
    rows = [
        Inst("best", priority=1),
        Inst("off", priority=5, enabled=False, health=Health.DISABLED, reason="Reachable"),
    ]
    selection = choose(rows, forced="off")
    assert [i.name for i in selection.candidates] == ["off"]
    assert selection.passed_over == ()


def test_forced_instance_that_is_down_is_passed_over_with_its_health() -> None:
    rows = [Inst("gpu", health=Health.UNAUTHORIZED, reason="Unauthorized", models=())]
    selection = choose(rows, forced="gpu")
    assert selection.candidates == ()
    (passed,) = selection.passed_over
    assert (passed.reason, passed.health) == ("unauthorized (Unauthorized)", "unauthorized")


def test_an_instance_never_probed_is_not_a_candidate() -> None:
    selection = select_candidates(
        [DesiredInstance(name="new", url="http://new")], {}, parse("llama3.2:3b")
    )
    assert selection.candidates == ()
    assert [p.reason for p in selection.passed_over] == ["not probed"]


def test_missing_secret_is_named_as_such() -> None:
    rows = [Inst("cloud", health=Health.UNKNOWN, reason="SecretMissing", models=())]
    selection = choose(rows)
    assert [p.health for p in selection.passed_over] == ["secret missing"]


def test_refused_secret_is_named_as_such() -> None:
    rows = [Inst("evil", health=Health.UNKNOWN, reason="SecretRefused", models=())]
    selection = choose(rows)
    assert [p.health for p in selection.passed_over] == ["secret refused"]
