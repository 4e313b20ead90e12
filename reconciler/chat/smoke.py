"""Smoke tests of a whole fleet (`orc chat-test --all`): real chats, judged, one result each.

Every `smoke` entry runs on the instance that declares it, never elsewhere: a smoke test checks
that instance. With `every_model`, each declared model without a smoke entry of its own gets a
short default prompt on each enabled instance. Instances are tested in parallel (bounded), the
checks of one instance one after another, so that their timings are not disturbed by each other.
An embedding model, or a smoke entry of a disabled instance, is skipped with the reason.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.chat.fleet import Fleet
from reconciler.chat.result import ChatFailed, FleetChatResult, NoInstanceAvailable
from reconciler.chat.selection import chat_refusal
from reconciler.desired import DesiredInstance
from reconciler.names import ModelName
from reconciler.observed import ObservedFleet

DEFAULT_PROMPT = "Reply with the single word OK."
"""The prompt of `--every-model` checks; any non-empty reply passes."""

_PREVIEW = 60


class Verdict(StrEnum):
    """How one check ended."""

    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True, slots=True)
class SmokeCheck:
    """One chat to run on one instance, and what its reply must match (`expect`, a regex)."""

    instance: str
    model: ModelName
    prompt: str
    name: str
    expect: str | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of a check, a detail (the reason, or a preview of the reply), the reply."""

    check: SmokeCheck
    verdict: Verdict
    detail: str = ""
    reply: FleetChatResult | None = None


def plan_checks(
    instances: Iterable[DesiredInstance], *, every_model: bool, timeout: float | None = None
) -> list[SmokeCheck]:
    """The checks of every instance: its smoke entries, then (`every_model`) the other models.

    `timeout` (seconds) applies to the checks that have none of their own.
    """
    checks: list[SmokeCheck] = []
    for instance in instances:
        covered: set[ModelName] = set()
        for index, test in enumerate(instance.smoke, start=1):
            name = f"smoke {index}: {test.model}"
            limit = test.timeout if test.timeout is not None else timeout
            checks.append(
                SmokeCheck(instance.name, test.model, test.prompt, name, test.expect, limit)
            )
            covered.add(test.model)
        if not (every_model and instance.enabled):
            continue
        for model in instance.models:
            if model.state == "present" and model.name not in covered:
                name = f"chat: {model.name}"
                checks.append(
                    SmokeCheck(instance.name, model.name, DEFAULT_PROMPT, name, timeout=timeout)
                )
                covered.add(model.name)
    return checks


async def run_checks(
    fleet: Fleet, checks: Sequence[SmokeCheck], *, parallelism: int
) -> list[CheckResult]:
    """Run `checks`: instances in parallel (at most `parallelism`), each one's checks in order."""
    observed = await fleet.status()
    slots = asyncio.Semaphore(max(1, parallelism))
    results: list[CheckResult | None] = [None] * len(checks)
    by_instance: dict[str, list[int]] = {}
    for index, check in enumerate(checks):
        by_instance.setdefault(check.instance, []).append(index)

    async def instance_checks(indexes: list[int]) -> None:
        async with slots:
            for index in indexes:
                results[index] = await run_check(fleet, checks[index], observed)

    await asyncio.gather(*(instance_checks(group) for group in by_instance.values()))
    return [result for result in results if result is not None]


async def run_check(fleet: Fleet, check: SmokeCheck, observed: ObservedFleet) -> CheckResult:
    """Run one check on its own instance (no failover) and judge the reply."""
    if not fleet.instance(check.instance).enabled:
        return CheckResult(check, Verdict.SKIP, "the instance is disabled")
    seen = observed.instances.get(check.instance)
    found = seen.model(check.model) if seen is not None else None
    if found is not None and not found.can_chat:
        return CheckResult(check, Verdict.SKIP, chat_refusal(found))
    try:
        reply = await fleet.chat(
            model=check.model,
            messages=[{"role": "user", "content": check.prompt}],
            instance=check.instance,
            timeout=check.timeout,
        )
    except NoInstanceAvailable as exc:
        return CheckResult(check, Verdict.FAIL, "; ".join(exc.reasons))
    except ChatFailed as exc:
        return CheckResult(check, Verdict.FAIL, exc.error.message)
    return judge(check, reply)


def judge(check: SmokeCheck, reply: FleetChatResult) -> CheckResult:
    """PASS when the reply matches `expect` (or, without one, is not empty); FAIL otherwise."""
    shown = preview(reply.content)
    if check.expect is None:
        if reply.content.strip() or reply.tool_calls:
            return CheckResult(check, Verdict.PASS, shown, reply)
        return CheckResult(check, Verdict.FAIL, "the reply is empty", reply)
    try:
        matched = re.search(check.expect, reply.content) is not None
    except re.error as exc:
        return CheckResult(check, Verdict.FAIL, f"invalid expect regex {check.expect}: {exc}")
    if matched:
        return CheckResult(check, Verdict.PASS, shown, reply)
    detail = f"expected a match of {check.expect}, got {shown}"
    return CheckResult(check, Verdict.FAIL, detail, reply)


def preview(text: str) -> str:
    """The reply on one line, quoted, cut at about sixty characters."""
    flat = " ".join(text.split())
    if len(flat) > _PREVIEW:
        flat = flat[: _PREVIEW - 1] + "…"
    return repr(flat)
