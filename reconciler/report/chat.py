"""Renderers of chat tests: the one-line summary of a chat, the smoke-test table, JSON, JUnit XML.

Strings and JSON-able dicts only; the CLI writes them. Times are shown as people read them
(`212 ms`, `1.84 s`), speeds as `48.1 tokens/s`. Error texts come from the client, which has
already masked every secret.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from reconciler.chat import (
    ChatFailed,
    CheckResult,
    Failover,
    FleetChatResult,
    NoInstanceAvailable,
    Verdict,
)
from reconciler.errors import ReconcilerError
from reconciler.report import style

CHECK_HEADERS = ("Instance", "Model", "Result", "First token", "Total", "Tokens/s", "Detail")
VERDICT_STYLES = {Verdict.PASS: "green", Verdict.FAIL: "bold red", Verdict.SKIP: "yellow"}
_SEP = " · "


def milliseconds(seconds: float | None) -> str:
    """`0.2121` → `212 ms`; None → `-`."""
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def elapsed(seconds: float | None) -> str:
    """`1.8412` → `1.84 s`, under a second in milliseconds; None → `-`."""
    if seconds is None:
        return "-"
    return milliseconds(seconds) if seconds < 1 else f"{seconds:.2f} s"


def speed(tokens_per_second: float | None) -> str:
    """`48.123` → `48.1 tokens/s`; None → `- tokens/s`."""
    shown = "-" if tokens_per_second is None else f"{tokens_per_second:.1f}"
    return f"{shown} tokens/s"


def chat_summary(result: FleetChatResult) -> str:
    """`via dev-box (priority 2) · first token 212 ms · total 1.84 s · 48.1 tokens/s · ...`."""
    parts = [
        f"via {result.instance} (priority {result.priority})",
        f"first token {milliseconds(result.time_to_first_token)}",
        f"total {elapsed(result.elapsed)}",
        speed(result.tokens_per_second),
    ]
    if result.failovers:
        moved = ", ".join(f"{f.instance}: {f.reason}" for f in result.failovers)
        parts.append(f"failed over from {moved}")
    return _SEP.join(parts)


def chat_json(result: FleetChatResult) -> dict[str, Any]:
    """One chat as a JSON object: content, instance, metrics, failovers."""
    metrics = result.metrics
    return {
        "content": result.content,
        "thinking": result.thinking,
        "instance": result.instance,
        "priority": result.priority,
        "model": result.model,
        "done_reason": result.done_reason,
        "metrics": {
            "time_to_first_token_ms": _ms(result.time_to_first_token),
            "total_ms": _ms(result.elapsed),
            "tokens_per_second": _rounded(result.tokens_per_second),
            "prompt_eval_count": metrics.prompt_eval_count,
            "eval_count": metrics.eval_count,
            "eval_duration_ns": metrics.eval_duration,
            "load_duration_ns": metrics.load_duration,
            "total_duration_ns": metrics.total_duration,
        },
        "failovers": [failover_json(f) for f in result.failovers],
    }


def chat_error_json(error: ReconcilerError, model: str | None) -> dict[str, Any]:
    """A failed `chat-test` as a JSON object: what failed, where, what to do, and per instance
    why it was passed over or failed, so a CI job can read a failure as it reads a success."""
    failovers = getattr(error, "failovers", ())
    document: dict[str, Any] = {
        "ok": False,
        "model": model,
        "error": {
            "type": type(error).__name__,
            "message": error.message,
            "where": error.where,
            "hint": error.hint,
            "exit_code": int(error.exit_code),
        },
        "failovers": [failover_json(f) for f in failovers],
        "passed_over": [],
    }
    if isinstance(error, NoInstanceAvailable):
        document["passed_over"] = [
            {"instance": p.instance, "priority": p.priority, "reason": p.reason, "health": p.health}
            for p in error.passed_over
        ]
    if isinstance(error, ChatFailed):
        document["error"]["server_error"] = type(error.error).__name__
    return document


def failover_json(failover: Failover) -> dict[str, Any]:
    """One failover: instance, priority, short reason, full message, whether it was tried."""
    return {
        "instance": failover.instance,
        "priority": failover.priority,
        "reason": failover.reason,
        "message": failover.message,
        "tried": failover.tried,
    }


def check_cells(result: CheckResult) -> tuple[str, ...]:
    """The cells of one smoke-test row, in `CHECK_HEADERS` order."""
    reply = result.reply
    return (
        result.check.instance,
        str(result.check.model),
        result.verdict.value,
        milliseconds(reply.time_to_first_token) if reply else "-",
        elapsed(reply.elapsed) if reply else "-",
        f"{reply.tokens_per_second:.1f}" if reply and reply.tokens_per_second else "-",
        result.detail,
    )


def checks_summary(results: Sequence[CheckResult]) -> str:
    """`3 passed, 1 failed, 1 skipped.`"""
    counts = {v: sum(r.verdict is v for r in results) for v in Verdict}
    return (
        f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
        f"{counts[Verdict.SKIP]} skipped."
    )


def render_checks_table(
    results: Sequence[CheckResult], *, color: bool = False, width: int = 120
) -> str:
    """The results table, then the summary line."""
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0), header_style=style.HEADER_STYLE
    )
    for header in CHECK_HEADERS:
        if header == "Detail":
            table.add_column(header, overflow="fold", min_width=12)
        else:
            table.add_column(header, no_wrap=True)
    for result in results:
        cells = [Text(cell) for cell in check_cells(result)]
        cells[2].stylize(VERDICT_STYLES[result.verdict])
        table.add_row(*cells)
    summary = Text(checks_summary(results), style=style.HEADER_STYLE)
    return style.to_text(table, summary, color=color, width=width, soft_wrap=False)


def checks_json(results: Sequence[CheckResult]) -> dict[str, Any]:
    """Every check with its verdict and reply, and the counts."""
    rows = []
    for result in results:
        check, reply = result.check, result.reply
        rows.append(
            {
                "instance": check.instance,
                "name": check.name,
                "model": str(check.model),
                "prompt": check.prompt,
                "expect": check.expect,
                "result": result.verdict.value,
                "detail": result.detail,
                "reply": chat_json(reply) if reply else None,
            }
        )
    counts = {v.value.lower(): sum(r.verdict is v for r in results) for v in Verdict}
    return {"checks": rows, "summary": counts}


def render_junit(results: Sequence[CheckResult]) -> str:
    """JUnit XML: a testsuite per instance, a testcase per check; failures and skips explained."""
    suites: dict[str, list[CheckResult]] = {}
    for result in results:
        suites.setdefault(result.check.instance, []).append(result)
    root = ET.Element("testsuites", {"name": "orc chat-test", **_counts(results)})
    for instance, members in suites.items():
        suite = ET.SubElement(root, "testsuite", {"name": instance, **_counts(members)})
        for result in members:
            _testcase(suite, result)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testcase(suite: ET.Element, result: CheckResult) -> None:
    reply = result.reply
    case = ET.SubElement(
        suite,
        "testcase",
        classname=f"chat-test.{result.check.instance}",
        name=result.check.name,
        time=f"{reply.elapsed:.3f}" if reply else "0",
    )
    if result.verdict is Verdict.FAIL:
        failure = ET.SubElement(case, "failure", message=result.detail, type="ChatTestFailure")
        failure.text = f"{result.check.prompt!r} on {result.check.instance}: {result.detail}"
    elif result.verdict is Verdict.SKIP:
        ET.SubElement(case, "skipped", message=result.detail)
    if reply is not None:
        ET.SubElement(case, "system-out").text = reply.content


def _counts(results: Sequence[CheckResult]) -> dict[str, str]:
    seconds = sum(r.reply.elapsed for r in results if r.reply)
    return {
        "tests": str(len(results)),
        "failures": str(sum(r.verdict is Verdict.FAIL for r in results)),
        "errors": "0",
        "skipped": str(sum(r.verdict is Verdict.SKIP for r in results)),
        "time": f"{seconds:.3f}",
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
