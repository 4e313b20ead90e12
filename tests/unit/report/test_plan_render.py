"""The plan renderers on small plans: colours, refusals, empty plans, Markdown folding."""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.names import parse
from reconciler.plan import Action, ActionKind, Blocked, InstancePlan, Plan, Refusal
from reconciler.report import render_plan_markdown, render_plan_text
from reconciler.report.plan_text import action_line

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def act(kind: ActionKind, model: str, reason: str = "why", **kw: Any) -> Action:
    return Action("a", kind, parse(model), reason, **kw)


def one_instance(*actions: Action, **kw: Any) -> Plan:
    inst = InstancePlan("a", "http://a:11434", True, actions=actions, fingerprint="f")
    return Plan(instances=(inst,), **kw)


def test_action_lines() -> None:
    assert action_line(act(ActionKind.PULL, "llama3.2:3b", size=2_019_393_189)) == (
        "+ pull llama3.2:3b (2.0 GB; why)"
    )
    assert action_line(act(ActionKind.CREATE, "coder", from_=parse("qwen2.5-coder:7b"))) == (
        "~ create coder:latest from qwen2.5-coder:7b (why)"
    )
    assert action_line(act(ActionKind.LOAD, "bge-m3", embedding=True)) == (
        "* load bge-m3:latest via /api/embed (why)"
    )
    assert action_line(act(ActionKind.DELETE, "old:1")) == "- delete old:1 (why)"


def test_empty_plan_says_no_changes() -> None:
    assert render_plan_text(Plan()) == "No changes. The fleet matches the manifests.\n"
    assert render_plan_text(one_instance()) == (
        "No changes on a.\n\nNo changes. The fleet matches the manifests.\n"
    )


def test_colour_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    result = one_instance(act(ActionKind.PULL, "x:1"), act(ActionKind.DELETE, "y:1"))
    plain = render_plan_text(result)
    coloured = render_plan_text(result, color=True)
    assert not ANSI.search(plain)
    assert "\x1b[31m  - delete y:1 (why)" in coloured
    assert "\x1b[32m  + pull x:1 (why)" in coloured
    assert ANSI.sub("", coloured) == plain


def test_refusals_are_errors_before_the_summary() -> None:
    result = one_instance(
        act(ActionKind.DELETE, "y:1"),
        refusals=(Refusal(None, "maxDeletions", "too many deletions"),),
    )
    assert render_plan_text(result).splitlines()[-2:] == [
        "Error: refused (maxDeletions): too many deletions",
        "Plan: 0 to pull, 0 to create, 0 to load, 1 to delete.",
    ]
    assert "> **Refused (maxDeletions)**: too many deletions" in render_plan_markdown(result)


def test_blocked_message_is_escaped_in_the_markdown_table() -> None:
    inst = InstancePlan(
        "a", "http://a", True, blocked=Blocked("a", "Unauthorized", "401 | bad\ntoken")
    )
    text = render_plan_markdown(Plan(instances=(inst,)))
    assert "| blocked (Unauthorized): 401 \\| bad token |" in text
    assert "No changes. 1 instance could not be planned." in text


def test_long_markdown_plans_fold_each_instance() -> None:
    short = render_plan_markdown(one_instance(act(ActionKind.PULL, "x:1")))
    assert "<details>" not in short
    assert "#### `a`\n\n```diff\n+ pull x:1 (why)\n```" in short
    many = tuple(act(ActionKind.PULL, f"m{i}:1") for i in range(21))
    long = render_plan_markdown(one_instance(*many))
    assert "<details><summary><code>a</code>: 21 changes</summary>" in long
    assert long.count("+ pull m") == 21
