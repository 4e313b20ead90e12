"""What `orc chat-test` shows: the summary line, the smoke table, JSON and JUnit XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from reconciler.chat import CheckResult, Failover, FleetChatResult, SmokeCheck, Verdict
from reconciler.names import parse
from reconciler.ollama import Metrics
from reconciler.report.chat import (
    chat_json,
    chat_summary,
    checks_json,
    checks_summary,
    render_checks_table,
    render_junit,
)

UNREACHABLE = Failover(
    "prod-gpu-1", 1, "unreachable", "chat failed: cannot connect to https://gpu/api/chat"
)


def result(**changes: object) -> FleetChatResult:
    values: dict[str, object] = {
        "content": "OK",
        "instance": "dev-box",
        "priority": 2,
        "model": "llama3.2:3b",
        "metrics": Metrics(eval_count=481, eval_duration=10_000_000_000, prompt_eval_count=12),
        "elapsed": 1.8412,
        "time_to_first_token": 0.2121,
        "failovers": (UNREACHABLE,),
    }
    values.update(changes)
    return FleetChatResult(**values)  # type: ignore[arg-type]


def test_summary_line() -> None:
    assert chat_summary(result()) == (
        "via dev-box (priority 2) · first token 212 ms · total 1.84 s · 48.1 tokens/s"
        " · failed over from prod-gpu-1: unreachable"
    )


def test_summary_line_of_a_fast_reply_without_metrics_or_failovers() -> None:
    line = chat_summary(
        result(elapsed=0.64, time_to_first_token=None, metrics=Metrics(), failovers=())
    )
    assert line == "via dev-box (priority 2) · first token - · total 640 ms · - tokens/s"


def test_chat_json() -> None:
    data = chat_json(result())
    assert data["content"] == "OK"
    assert (data["instance"], data["priority"]) == ("dev-box", 2)
    assert data["metrics"]["time_to_first_token_ms"] == 212.1
    assert data["metrics"]["total_ms"] == 1841.2
    assert data["metrics"]["tokens_per_second"] == 48.1
    assert data["metrics"]["eval_count"] == 481
    assert data["failovers"] == [
        {
            "instance": "prod-gpu-1",
            "priority": 1,
            "reason": "unreachable",
            "message": UNREACHABLE.message,
            "tried": True,
        }
    ]


def smoke_results() -> list[CheckResult]:
    ok = SmokeCheck("gpu", parse("llama3.2:3b"), "Reply OK", "smoke 1: llama3.2:3b", r"\bOK\b")
    bad = SmokeCheck("dev", parse("llama3.2:3b"), "Reply OK", "smoke 1: llama3.2:3b", r"\bOK\b")
    emb = SmokeCheck("dev", parse("nomic-embed-text"), "Reply OK", "chat: nomic-embed-text:latest")
    skipped = "nomic-embed-text:latest is an embedding model and cannot chat"
    return [
        CheckResult(ok, Verdict.PASS, "'OK'", result(instance="gpu", failovers=())),
        CheckResult(
            bad, Verdict.FAIL, r"expected a match of \bOK\b, got 'No'", result(content="No")
        ),
        CheckResult(emb, Verdict.SKIP, skipped),
    ]


def test_checks_table() -> None:
    text = render_checks_table(smoke_results(), width=160)
    lines = text.splitlines()
    assert lines[0].split() == [
        "Instance", "Model", "Result", "First", "token", "Total", "Tokens/s", "Detail"
    ]  # fmt: skip
    assert lines[2].split() == [
        "gpu",
        "llama3.2:3b",
        "PASS",
        "212",
        "ms",
        "1.84",
        "s",
        "48.1",
        "'OK'",
    ]
    assert "FAIL" in lines[3] and r"expected a match of \bOK\b, got 'No'" in lines[3]
    assert lines[4].split()[:3] == ["dev", "nomic-embed-text:latest", "SKIP"]
    assert lines[-1] == "1 passed, 1 failed, 1 skipped."
    assert checks_summary([]) == "0 passed, 0 failed, 0 skipped."


def test_checks_json_counts_and_rows() -> None:
    data = checks_json(smoke_results())
    assert data["summary"] == {"pass": 1, "fail": 1, "skip": 1}
    assert [row["result"] for row in data["checks"]] == ["PASS", "FAIL", "SKIP"]
    assert data["checks"][2]["reply"] is None


def test_junit_has_a_suite_per_instance_and_explains_failures_and_skips() -> None:
    root = ET.fromstring(render_junit(smoke_results()))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == ["gpu", "dev"]
    assert suites["dev"].get("failures") == "1"
    failing = next(c for c in suites["dev"].iter("testcase") if c.find("failure") is not None)
    assert failing.get("name") == "smoke 1: llama3.2:3b"
    assert failing.get("classname") == "chat-test.dev"
    failure = failing.find("failure")
    assert failure is not None
    assert failure.get("message") == r"expected a match of \bOK\b, got 'No'"
    skipped = next(c for c in suites["dev"].iter("testcase") if c.find("skipped") is not None)
    assert skipped.get("name") == "chat: nomic-embed-text:latest"
    assert "embedding model" in (skipped.find("skipped").get("message") or "")  # type: ignore[union-attr]
    passing = next(suites["gpu"].iter("testcase"))
    assert passing.find("failure") is None and passing.find("skipped") is None
    assert passing.get("time") == "1.841"
