"""The executor: order, dependencies, retries with backoff, outcomes, cancellation.

A scripted fake client stands in for Ollama, and sleep and clock are fakes: nothing waits.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.apply import (
    ActionFinished,
    ActionProgress,
    ActionRetry,
    ActionStarted,
    Executor,
    Outcome,
    RetryPolicy,
)
from reconciler.errors import ExitCode
from reconciler.names import parse
from reconciler.ollama import ModelNotInRegistry, OllamaUnreachable
from reconciler.plan import Action, ActionKind, InstancePlan, Plan


def act(instance: str, kind: str, model: str, from_: str | None = None) -> Action:
    return Action(
        instance=instance,
        kind=ActionKind(kind),
        model=parse(model),
        reason="test",
        from_=parse(from_) if from_ else None,
    )


def make_plan(*actions: Action) -> Plan:
    by_instance: dict[str, list[Action]] = {}
    for a in actions:
        by_instance.setdefault(a.instance, []).append(a)
    return Plan(
        instances=tuple(
            InstancePlan(instance=name, url=f"http://{name}", enabled=True, actions=tuple(acts))
            for name, acts in by_instance.items()
        )
    )


def unreachable(instance: str = "a") -> OllamaUnreachable:
    return OllamaUnreachable("connection refused", instance=instance)


@dataclass
class FakeClient:
    """Records calls; `failures[(kind, model)]` is a list of errors raised by successive calls."""

    instance: str
    failures: dict[tuple[str, str], list[Exception]] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    hang: set[tuple[str, str]] = field(default_factory=set)

    async def __aenter__(self) -> FakeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def _call(self, kind: str, model: str) -> None:
        self.calls.append((kind, model))
        if (kind, model) in self.hang:
            await asyncio.Event().wait()
        queue = self.failures.get((kind, model))
        if queue:
            raise queue.pop(0)

    async def pull(self, model: str, **_: Any) -> AsyncIterator[Any]:
        await self._call("pull", model)
        yield SimpleNamespace(status="pulling abc", digest="abc", total=100, completed=40)
        yield SimpleNamespace(status="pulling abc", digest="abc", total=100, completed=100)
        yield SimpleNamespace(status="success", digest=None, total=None, completed=None)

    async def create(self, model: str, **_: Any) -> AsyncIterator[Any]:
        await self._call("create", model)
        yield SimpleNamespace(status="success")

    async def load(self, model: str, **_: Any) -> None:
        await self._call("load", model)

    async def delete(self, model: str) -> None:
        await self._call("delete", model)


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def executor(clients: dict[str, FakeClient], time: FakeTime, **kw: Any) -> Executor:
    events: list[Any] = kw.pop("events", [])
    return Executor(
        client_for=lambda name: clients[name],  # type: ignore[arg-type,return-value]
        sleep=time.sleep,
        clock=time.clock,
        rng=random.Random(7),
        on_event=events.append,
        retry=kw.pop("retry", RetryPolicy(attempts=4, base_delay=1.0, max_delay=8.0, jitter=0.0)),
        **kw,
    )


async def test_actions_run_in_plan_order_and_all_succeed() -> None:
    client = FakeClient("a")
    plan = make_plan(
        act("a", "pull", "llama3"),
        act("a", "create", "coder", from_="llama3"),
        act("a", "load", "llama3"),
        act("a", "delete", "old:7b"),
    )
    result = await executor({"a": client}, FakeTime()).run(plan)
    assert client.calls == [
        ("pull", "llama3:latest"),
        ("create", "coder:latest"),
        ("load", "llama3:latest"),
        ("delete", "old:7b"),
    ]
    assert [r.outcome for r in result.results] == [Outcome.DONE] * 4
    assert result.exit_code is ExitCode.OK
    assert result.summary() == "Apply complete: 1 pulled, 1 created, 1 loaded, 1 deleted."


async def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    client = FakeClient("a", failures={("pull", "llama3:latest"): [unreachable(), unreachable()]})
    time = FakeTime()
    events: list[Any] = []
    result = await executor({"a": client}, time, events=events).run(
        make_plan(act("a", "pull", "llama3"))
    )
    (only,) = result.results
    assert only.outcome is Outcome.DONE
    assert only.attempts == 3
    assert time.slept == [1.0, 2.0]
    assert [type(e) for e in events if not isinstance(e, ActionProgress)] == [
        ActionStarted,
        ActionRetry,
        ActionRetry,
        ActionFinished,
    ]


async def test_jitter_stays_within_its_fraction() -> None:
    policy = RetryPolicy(base_delay=4.0, factor=2.0, max_delay=100.0, jitter=0.25)
    rng = random.Random(1)
    for attempt in (1, 2, 3):
        base = 4.0 * 2 ** (attempt - 1)
        for _ in range(50):
            assert base * 0.75 <= policy.delay(attempt, rng) <= base * 1.25


async def test_retries_stop_after_the_attempt_limit() -> None:
    client = FakeClient("a", failures={("pull", "m:latest"): [unreachable()] * 10})
    time = FakeTime()
    result = await executor({"a": client}, time).run(make_plan(act("a", "pull", "m")))
    (only,) = result.results
    assert only.outcome is Outcome.FAILED
    assert only.attempts == 4
    assert "after 4 attempts" in (only.error or "")
    assert time.slept == [1.0, 2.0, 4.0]
    assert result.exit_code is ExitCode.ERROR


async def test_retries_stop_when_the_total_time_bound_would_be_passed() -> None:
    client = FakeClient("a", failures={("pull", "m:latest"): [unreachable()] * 10})
    time = FakeTime()
    policy = RetryPolicy(attempts=10, base_delay=1.0, max_delay=8.0, max_total=5.0, jitter=0.0)
    result = await executor({"a": client}, time, retry=policy).run(make_plan(act("a", "pull", "m")))
    assert result.results[0].outcome is Outcome.FAILED
    assert time.slept == [1.0, 2.0]  # a third pause of 4 s would pass the 5 s bound


async def test_permanent_errors_are_not_retried_and_dependents_are_skipped() -> None:
    missing = ModelNotInRegistry("pull model manifest: file does not exist", instance="a")
    client = FakeClient("a", failures={("pull", "nope:latest"): [missing]})
    plan = make_plan(
        act("a", "pull", "nope"),
        act("a", "pull", "llama3"),
        act("a", "create", "coder", from_="nope"),
        act("a", "load", "nope"),
        act("a", "delete", "old"),
    )
    time = FakeTime()
    result = await executor({"a": client}, time).run(plan)
    outcomes = [(r.action.kind.value, r.outcome.value) for r in result.results]
    assert outcomes == [
        ("pull", "failed"),
        ("pull", "done"),
        ("create", "skipped"),
        ("load", "skipped"),
        ("delete", "skipped"),
    ]
    assert time.slept == []
    assert client.calls == [("pull", "nope:latest"), ("pull", "llama3:latest")]
    assert "base nope:latest could not be pulled" in (result.results[2].error or "")
    assert "did not succeed" in (result.results[4].error or "")
    assert result.exit_code is ExitCode.PARTIAL
    assert result.summary() == (
        "Apply complete: 1 pulled, 0 created, 0 loaded, 0 deleted, 1 failed, 3 skipped."
    )


async def test_one_instance_failing_does_not_stop_the_others() -> None:
    clients = {
        "a": FakeClient(
            "a", failures={("pull", "m:latest"): [ModelNotInRegistry("x", instance="a")]}
        ),
        "b": FakeClient("b"),
    }
    plan = make_plan(act("a", "pull", "m"), act("b", "pull", "m"), act("b", "delete", "old"))
    result = await executor(clients, FakeTime()).run(plan)
    assert [r.outcome for r in result.results] == [Outcome.FAILED, Outcome.DONE, Outcome.DONE]
    assert clients["b"].calls == [("pull", "m:latest"), ("delete", "old:latest")]


async def test_pull_progress_sums_layers() -> None:
    events: list[Any] = []
    await executor({"a": FakeClient("a")}, FakeTime(), events=events).run(
        make_plan(act("a", "pull", "m"))
    )
    progress = [(e.completed, e.total) for e in events if isinstance(e, ActionProgress)]
    assert progress == [(40, 100), (100, 100), (100, 100)]


async def test_parallelism_bounds_instances_worked_on_at_once() -> None:
    running: list[int] = [0]
    peak: list[int] = [0]

    class Counting(FakeClient):
        async def _call(self, kind: str, model: str) -> None:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            running[0] -= 1

    clients = {f"i{n}": Counting(f"i{n}") for n in range(6)}
    plan = make_plan(*(act(name, "delete", "m") for name in clients))
    result = await executor(clients, FakeTime(), parallelism=2).run(plan)
    assert result.count(Outcome.DONE) == 6
    assert peak[0] == 2


async def test_cancellation_marks_in_flight_and_remaining_actions() -> None:
    client = FakeClient("a", hang={("pull", "big:latest")})
    plan = make_plan(act("a", "pull", "small"), act("a", "pull", "big"), act("a", "load", "small"))
    run = asyncio.create_task(executor({"a": client}, FakeTime()).run(plan))
    for _ in range(20):
        await asyncio.sleep(0)
    run.cancel()
    result = await run
    assert result.interrupted
    assert result.exit_code is ExitCode.INTERRUPTED
    assert [r.outcome for r in result.results] == [Outcome.DONE, Outcome.CANCELLED, Outcome.SKIPPED]
    assert result.summary().startswith("Apply interrupted: 1 pulled")


async def test_blocked_instances_are_not_touched() -> None:
    from reconciler.plan import Blocked

    plan = Plan(
        instances=(
            InstancePlan(
                instance="a",
                url="http://a",
                enabled=True,
                actions=(act("a", "pull", "m"),),
                blocked=Blocked("a", "Unreachable", "down"),
            ),
        )
    )
    result = await executor({}, FakeTime()).run(plan)
    assert result.results == ()
    assert result.exit_code is ExitCode.OK


@pytest.mark.parametrize("transient", [True, False])
async def test_the_error_class_decides_about_retries(transient: bool) -> None:
    from reconciler.ollama import OllamaError, ServerBusy

    error: OllamaError = (
        ServerBusy("busy", instance="a") if transient else ModelNotInRegistry("gone", instance="a")
    )
    client = FakeClient("a", failures={("pull", "m:latest"): [error]})
    result = await executor({"a": client}, FakeTime()).run(make_plan(act("a", "pull", "m")))
    assert result.results[0].outcome is (Outcome.DONE if transient else Outcome.FAILED)
