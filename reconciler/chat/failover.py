"""The failover loop: try the candidates until one answers, remembering why others failed.

Each try asks the fleet's `Admission` for the best instance at that moment (balanced within the
best priority tier, never one whose circuit is open, never one already tried), so a failure of one
chat steers the chats that start after it.

`ChatStream` is what `Fleet.chat_stream` returns: iterate it for the chunks as they arrive, then
read `result`. It fails over only while nothing has been handed to the caller: once a chunk went
out, a broken reply is an error (`ChatFailed`), never a second, different reply glued to the first.
`Fleet.chat` collects the whole reply before returning, so it may fail over at any point.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

from reconciler.chat.admission import Admission, Lease
from reconciler.chat.attempt import Attempt, ChatRequest
from reconciler.chat.balance import Balancer
from reconciler.chat.result import (
    ChatError,
    ChatFailed,
    Failover,
    FleetChatResult,
    NoInstanceAvailable,
    counts_against,
    fails_over,
    failure_reason,
)
from reconciler.chat.selection import PassedOver, Selection
from reconciler.desired import DesiredInstance
from reconciler.errors import SecretError
from reconciler.ollama import (
    ChatChunk,
    OllamaClient,
    OllamaError,
    OllamaUnreachable,
    ServerBusy,
)

Select = Callable[[], Awaitable[Selection]]
ClientFor = Callable[[DesiredInstance], OllamaClient]
# Told once how a stream ended: None when it answered, else the error it raised.
OnDone = Callable[["ChatStream", BaseException | None], None]


class ChatStream:
    """A fleet chat in progress: `async for chunk in stream`, then `stream.result`.

    `instance` names the instance answering once the first chunk has arrived; `failovers` grows
    as instances fail. It is iterated once (a second loop sees no more chunks); a caller that
    stops early should `await stream.aclose()` to release the connection at once. Without an
    `admission` (a fleet's), the candidates are tried in their order, with circuits of its own.
    """

    def __init__(
        self,
        request: ChatRequest,
        *,
        select: Select,
        client_for: ClientFor,
        clock: Callable[[], float],
        restart_after_output: bool = False,
        admission: Admission | None = None,
        on_done: OnDone | None = None,
    ) -> None:
        self.request = request
        self.instance: str | None = None
        self.last_tried: str | None = None  # the instance tried last (it refused, when failed)
        self.failovers: list[Failover] = []
        self._select = select
        self._client_for = client_for
        self._clock = clock
        self._admission = admission or Admission(Balancer(clock, policy="first"))
        self._passed: list[PassedOver] = []
        self._restart = restart_after_output
        self._result: FleetChatResult | None = None
        self._chunks: AsyncGenerator[ChatChunk, None] | None = None
        self._on_done = on_done

    def __repr__(self) -> str:
        return f"ChatStream(model={str(self.request.model)!r}, instance={self.instance!r})"

    def __aiter__(self) -> AsyncGenerator[ChatChunk, None]:
        if self._chunks is None:
            self._chunks = self._run() if self._on_done is None else self._reported()
        return self._chunks

    async def aclose(self) -> None:
        """Stop the chat now (closing its connection) if it is still running."""
        if self._chunks is not None:
            await self._chunks.aclose()

    @property
    def result(self) -> FleetChatResult:
        """The whole reply with its instance, timings and failovers (after the iteration)."""
        if self._result is None:
            raise ChatError("the chat stream has not finished yet", hint="iterate it to its end")
        return self._result

    async def _reported(self) -> AsyncGenerator[ChatChunk, None]:
        """`_run`, telling `on_done` how it ended (not when the caller stopped it early)."""
        assert self._on_done is not None
        try:
            async with aclosing(self._run()) as chunks:
                async for chunk in chunks:
                    yield chunk
        except Exception as exc:  # a caller's aclose or a cancellation is no ending to tell
            self._on_done(self, exc)
            raise
        self._on_done(self, None)

    async def _run(self) -> AsyncGenerator[ChatChunk, None]:
        selection = await self._select()
        tried: list[str] = []
        skipped: list[PassedOver] = []
        while True:
            admitted = await self._admission.admit(selection.candidates, selection.latency, tried)
            if not isinstance(admitted, Lease):
                skipped.extend(admitted)
                break
            instance = admitted.instance
            tried.append(instance.name)
            self.last_tried = instance.name
            skipped.extend(_open(admitted))
            self._passed = [*selection.passed_over, *skipped]
            try:
                async with aclosing(self._attempt(admitted)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            finally:
                self._admission.release(admitted)
            if self._result is not None:
                return
        passed = sorted([*selection.passed_over, *skipped], key=lambda p: p.priority)
        raise NoInstanceAvailable(selection.model, passed, self.failovers)

    async def _attempt(self, lease: Lease) -> AsyncGenerator[ChatChunk, None]:
        """One instance's try; sets `_result` when it answered, records why when it failed."""
        instance, balancer = lease.instance, self._admission.balancer
        try:
            attempt = Attempt(instance, self._client_for(instance), self.request, self._clock)
        except (SecretError, OllamaError) as exc:  # the instance's settings are unusable
            self.failovers.append(Failover.from_error(instance, exc))
            return
        answered = False
        try:
            async with aclosing(attempt.run()) as chunks:
                async for chunk in chunks:
                    if not answered:
                        answered = True
                        waited, trial = attempt.waited, lease.pick.trial
                        gained = balancer.answered(
                            instance.name, waited, trial=trial, in_flight=lease.in_flight
                        )
                        self._admission.widened(gained)
                    self.instance = instance.name
                    yield chunk
        except OllamaError as exc:
            if isinstance(exc, ServerBusy):
                balancer.busy(instance.name, lease.in_flight)
            if counts_against(exc):
                at_once = isinstance(exc, OllamaUnreachable)
                balancer.failed(instance.name, failure_reason(exc), at_once=at_once)
            if not fails_over(exc) or (attempt.delivered and not self._restart):
                raise ChatFailed(exc, self.failovers) from exc
            self.failovers.append(Failover.from_error(instance, exc))
            self.instance = None
            return
        self._result = attempt.result(_moved_past(self._passed, instance, self.failovers))
        generated = self._result.metrics.eval_duration
        balancer.replied(
            instance.name,
            self._result.elapsed,
            generating=None if not generated else generated / 1e9,
            in_flight=lease.in_flight,
        )


def _open(lease: Lease) -> list[PassedOver]:
    """The better instances skipped on the way to `lease` because their circuit is open."""
    return [PassedOver(i.name, i.priority, reason, "circuit open") for i, reason in lease.pick.open]


def _moved_past(
    passed: list[PassedOver], served: DesiredInstance, failed: list[Failover]
) -> list[Failover]:
    """The instances the chat moved past: those tried, and those down that would have come first."""
    down = [
        Failover.from_passed_over(p)
        for p in passed
        if p.health is not None and p.priority <= served.priority
    ]
    return sorted([*down, *failed], key=lambda f: f.priority)
