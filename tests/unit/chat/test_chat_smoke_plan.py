"""Which smoke checks `orc chat-test --all` runs, and how a reply is judged."""

from __future__ import annotations

import pytest

from reconciler.chat import DEFAULT_PROMPT, FleetChatResult, SmokeCheck, Verdict, plan_checks
from reconciler.chat.smoke import judge
from reconciler.desired import DesiredInstance, DesiredModel, SmokeTest
from reconciler.names import parse
from reconciler.ollama import Metrics


def instance(
    name: str,
    models: tuple[str, ...] = (),
    smoke: tuple[SmokeTest, ...] = (),
    *,
    enabled: bool = True,
    absent: tuple[str, ...] = (),
) -> DesiredInstance:
    declared = tuple(DesiredModel(parse(m)) for m in models) + tuple(
        DesiredModel(parse(m), state="absent") for m in absent
    )
    return DesiredInstance(
        name=name, url=f"http://{name}", enabled=enabled, models=declared, smoke=smoke
    )


OK_TEST = SmokeTest(parse("llama3.2:3b"), "Reply with the single word OK.", r"(?i)\bok\b", 20.0)


def test_smoke_entries_run_on_their_own_instance_in_order() -> None:
    other = SmokeTest(parse("qwen2.5:7b"), "Say hi", None, None)
    checks = plan_checks(
        [instance("gpu", smoke=(OK_TEST, other)), instance("dev", smoke=(OK_TEST,))],
        every_model=False,
    )
    assert [(c.instance, c.name, c.timeout) for c in checks] == [
        ("gpu", "smoke 1: llama3.2:3b", 20.0),
        ("gpu", "smoke 2: qwen2.5:7b", None),
        ("dev", "smoke 1: llama3.2:3b", 20.0),
    ]


def test_every_model_adds_the_declared_models_without_a_smoke_entry() -> None:
    gpu = instance(
        "gpu",
        models=("llama3.2:3b", "nomic-embed-text", "qwen2.5:7b"),
        smoke=(OK_TEST,),
        absent=("old:7b",),
    )
    off = instance("off", models=("llama3.2:3b",), enabled=False)
    checks = plan_checks([gpu, off], every_model=True, timeout=45.0)
    assert [(c.instance, c.name, c.prompt, c.timeout) for c in checks] == [
        ("gpu", "smoke 1: llama3.2:3b", OK_TEST.prompt, 20.0),
        ("gpu", "chat: nomic-embed-text:latest", DEFAULT_PROMPT, 45.0),
        ("gpu", "chat: qwen2.5:7b", DEFAULT_PROMPT, 45.0),
    ]


def test_a_disabled_instance_keeps_its_smoke_entries_to_report_them_skipped() -> None:
    checks = plan_checks([instance("off", smoke=(OK_TEST,), enabled=False)], every_model=True)
    assert [c.name for c in checks] == ["smoke 1: llama3.2:3b"]


def reply(content: str) -> FleetChatResult:
    return FleetChatResult(
        content=content,
        instance="gpu",
        priority=1,
        model="llama3.2:3b",
        metrics=Metrics(),
        elapsed=1,
    )


def check(expect: str | None) -> SmokeCheck:
    return SmokeCheck("gpu", parse("llama3.2:3b"), "Reply OK", "smoke 1: llama3.2:3b", expect)


@pytest.mark.parametrize(
    ("expect", "content", "verdict", "detail"),
    [
        (r"(?i)\bok\b", "Ok.", Verdict.PASS, "'Ok.'"),
        (
            r"(?i)\bok\b",
            "Sure thing",
            Verdict.FAIL,
            r"expected a match of (?i)\bok\b, got 'Sure thing'",
        ),
        (None, "  anything \n at all", Verdict.PASS, "'anything at all'"),
        (None, "  ", Verdict.FAIL, "the reply is empty"),
        (
            "(unclosed",
            "x",
            Verdict.FAIL,
            "invalid expect regex (unclosed: missing ), unterminated subpattern at position 0",
        ),
        (None, "word " * 40, Verdict.PASS, repr(("word " * 12)[:59] + "…")),
    ],
)
def test_judge(expect: str | None, content: str, verdict: Verdict, detail: str) -> None:
    result = judge(check(expect), reply(content))
    assert (result.verdict, result.detail) == (verdict, detail)
