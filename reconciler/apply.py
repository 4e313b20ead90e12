"""Carry out a Plan: instances in parallel, each instance's actions in the plan's order.

Retries are decided here and only here: a transient error (unreachable, timeout, 5xx, busy, a pull
cut off mid-stream) is retried with exponential backoff and jitter, within a bound on attempts and
on total time; a permanent one is not. A pull that is retried resumes, as Ollama resumes partial
downloads. Every action ends as an outcome; an action that depends on a failed one is skipped, and
an instance's deletions run only when all its pulls and creates succeeded. Clock, sleep and
randomness are injected so tests never wait in real time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from reconciler.errors import ExitCode
from reconciler.names import ModelName
from reconciler.ollama import OllamaClient, OllamaError
from reconciler.plan import Action, ActionKind, Plan
from reconciler.retry import RetryPolicy

ClientFor = Callable[[str], OllamaClient]


class Outcome(StrEnum):
    """How one action ended."""

    DONE = "done"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """The end of one action: its outcome, the error or skip reason, attempts and time taken."""

    action: Action
    outcome: Outcome
    error: str | None = None
    attempts: int = 0
    seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class ActionStarted:
    """Progress event: an action began (attempt 1)."""

    action: Action


@dataclass(frozen=True, slots=True)
class ActionProgress:
    """Progress event: bytes of a pull action so far, summed over its layers (built from the
    client's `reconciler.ollama.PullProgress` lines)."""

    action: Action
    status: str
    completed: int
    total: int


@dataclass(frozen=True, slots=True)
class ActionRetry:
    """Progress event: an attempt failed with a transient error; the next one comes after delay."""

    action: Action
    attempt: int
    delay: float
    error: str


@dataclass(frozen=True, slots=True)
class ActionFinished:
    """Progress event: an action ended."""

    result: ActionResult


Event = ActionStarted | ActionProgress | ActionRetry | ActionFinished
EventSink = Callable[[Event], None]

_PAST = {
    ActionKind.PULL: "pulled",
    ActionKind.CREATE: "created",
    ActionKind.LOAD: "loaded",
    ActionKind.DELETE: "deleted",
    ActionKind.UPDATE: "updated",
}


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """Every action's outcome, in plan order."""

    results: tuple[ActionResult, ...]
    interrupted: bool = False

    def count(self, outcome: Outcome, kind: ActionKind | None = None) -> int:
        """How many actions (of a kind) ended with that outcome."""
        return sum(
            1
            for r in self.results
            if r.outcome is outcome and (kind is None or r.action.kind is kind)
        )

    @property
    def exit_code(self) -> ExitCode:
        """0 all done, 3 some failed but something was done, 1 nothing done, 130 interrupted."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        failed = self.count(Outcome.FAILED) + self.count(Outcome.SKIPPED)
        if not failed:
            return ExitCode.OK
        return ExitCode.PARTIAL if self.count(Outcome.DONE) else ExitCode.ERROR

    def summary(self) -> str:
        """`Apply complete: 3 pulled, 1 created, 1 loaded, 2 deleted, 1 failed.`"""
        parts = [
            f"{self.count(Outcome.DONE, kind)} {past}"
            for kind, past in _PAST.items()
            if kind is not ActionKind.UPDATE or self.count(Outcome.DONE, kind)
        ]
        for outcome in (Outcome.FAILED, Outcome.SKIPPED, Outcome.CANCELLED):
            if n := self.count(outcome):
                parts.append(f"{n} {outcome.value}")
        head = "Apply interrupted" if self.interrupted else "Apply complete"
        return f"{head}: {', '.join(parts)}."


@dataclass
class Executor:
    """Runs a plan against clients; see the module docstring for the rules."""

    client_for: ClientFor
    parallelism: int = 10
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    on_event: EventSink = lambda event: None
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    pull_timeouts: Mapping[str, float] = field(default_factory=dict)

    async def run(self, plan: Plan) -> ApplyResult:
        """Carry out every action of the plan; Ctrl-C (cancellation) ends it cleanly."""
        groups = [ip.actions for ip in plan.instances if ip.actions and ip.blocked is None]
        slots = asyncio.Semaphore(max(1, self.parallelism))
        results: dict[int, list[ActionResult]] = {i: [] for i in range(len(groups))}
        tasks = [
            asyncio.create_task(self._instance(actions, slots, results[i]))
            for i, actions in enumerate(groups)
        ]
        interrupted = False
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            interrupted = True
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        ordered = [r for i in range(len(groups)) for r in results[i]]
        return ApplyResult(tuple(ordered), interrupted)

    async def _instance(
        self, actions: Sequence[Action], slots: asyncio.Semaphore, out: list[ActionResult]
    ) -> None:
        async with slots, AsyncExitStack() as stack:
            client: OllamaClient | None = None
            failed: set[ModelName] = set()
            for index, action in enumerate(actions):
                blocker = _blocker(action, failed, out)
                if blocker is not None:
                    out.append(self._finish(ActionResult(action, Outcome.SKIPPED, blocker)))
                    failed.add(action.model)
                    continue
                if client is None:
                    client = await stack.enter_async_context(self.client_for(action.instance))
                try:
                    result = await self._attempts(client, action)
                except asyncio.CancelledError:
                    out.append(self._finish(ActionResult(action, Outcome.CANCELLED, "interrupted")))
                    for rest in actions[index + 1 :]:
                        out.append(self._finish(ActionResult(rest, Outcome.SKIPPED, "interrupted")))
                    raise
                out.append(self._finish(result))
                if result.outcome is not Outcome.DONE:
                    failed.add(action.model)

    async def _attempts(self, client: OllamaClient, action: Action) -> ActionResult:
        started = self.clock()
        self.on_event(ActionStarted(action))
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._once(client, action)
                return ActionResult(action, Outcome.DONE, None, attempt, self.clock() - started)
            except TimeoutError:
                limit = self.pull_timeouts.get(action.instance, 0.0)
                error = f"the pull did not finish within its pullTimeout ({limit:g}s)"
                return ActionResult(action, Outcome.FAILED, error, attempt, self.clock() - started)
            except OllamaError as exc:
                delay = self.retry.delay(attempt, self.rng)
                spent = self.clock() - started
                final = (
                    not exc.transient
                    or attempt >= self.retry.attempts
                    or spent + delay > self.retry.max_total
                )
                if final:
                    error = _with_attempts(str(exc), attempt)
                    return ActionResult(action, Outcome.FAILED, error, attempt, spent)
                self.on_event(ActionRetry(action, attempt, delay, str(exc)))
                await self.sleep(delay)

    async def _once(self, client: OllamaClient, action: Action) -> None:
        model = action.model.display
        if action.kind in (ActionKind.PULL, ActionKind.UPDATE):
            await self._pull(client, action)  # an update is a pull of the newer build
        elif action.kind is ActionKind.CREATE:
            files = await self._upload(client, action) if action.file is not None else None
            async for _ in client.create(
                model,
                from_=action.from_.display if action.from_ is not None else None,
                files=files,
                system=action.system,
                template=action.template,
                parameters=dict(action.parameters) or None,
            ):
                pass
        elif action.kind is ActionKind.LOAD:
            await client.load(model, keep_alive=-1, embedding=action.embedding)
        else:
            await client.delete(model)

    async def _upload(self, client: OllamaClient, action: Action) -> dict[str, str]:
        """Push the action's weights file unless the server has the blob; the create's `files`.

        A retried create asks again, so an upload cut off midway is sent again whole (Ollama
        keeps no partial blobs from a push).
        """
        assert action.file is not None
        assert action.file_digest is not None
        path = Path(action.file)
        digest = action.file_digest
        if not await client.has_blob(digest):

            def progress(sent: int, total: int) -> None:
                self.on_event(ActionProgress(action, "uploading", sent, total))

            await client.push_blob(digest, path, progress=progress)
        return {path.name: digest}

    async def _pull(self, client: OllamaClient, action: Action) -> None:
        layers: dict[str, tuple[int, int]] = {}
        timeout = self.pull_timeouts.get(action.instance)
        async with asyncio.timeout(timeout):
            async for progress in client.pull(action.model.display):
                if progress.digest and progress.total:
                    layers[progress.digest] = (progress.completed or 0, progress.total)
                done = sum(c for c, _ in layers.values())
                total = sum(t for _, t in layers.values())
                self.on_event(ActionProgress(action, progress.status, done, total))

    def _finish(self, result: ActionResult) -> ActionResult:
        self.on_event(ActionFinished(result))
        return result


def _blocker(action: Action, failed: set[ModelName], done: list[ActionResult]) -> str | None:
    """Why an action must be skipped because of what failed before it, or None."""
    if action.kind is ActionKind.DELETE:
        bad = [r for r in done if r.outcome is not Outcome.DONE and r.action.kind in _BUILDS]
        if bad:
            return f"skipped: {bad[0].action.kind} {bad[0].action.model} did not succeed"
        return None
    if action.kind is ActionKind.CREATE and action.from_ in failed:
        return f"skipped: its base {action.from_} could not be pulled"
    if action.model in failed:
        return f"skipped: {action.model} could not be pulled or created"
    return None


_BUILDS = (ActionKind.PULL, ActionKind.CREATE)


def _with_attempts(message: str, attempts: int) -> str:
    return message if attempts == 1 else f"{message} (after {attempts} attempts)"
