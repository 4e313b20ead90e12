"""The failover loop: try the candidates in order until one answers, remembering why others failed.

`ChatStream` is what `Fleet.chat_stream` returns: iterate it for the chunks as they arrive, then
read `result`. It fails over only while nothing has been handed to the caller: once a chunk went
out, a broken reply is an error (`ChatFailed`), never a second, different reply glued to the first.
`Fleet.chat` collects the whole reply before returning, so it may fail over at any point.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing

from reconciler.chat.attempt import Attempt, ChatRequest
from reconciler.chat.result import (
    ChatError,
    ChatFailed,
    Failover,
    FleetChatResult,
    NoInstanceAvailable,
    fails_over,
)
from reconciler.chat.selection import Selection
from reconciler.desired import DesiredInstance
from reconciler.errors import SecretError
from reconciler.ollama import ChatChunk, OllamaClient, OllamaError

Select = Callable[[], Awaitable[Selection]]
ClientFor = Callable[[DesiredInstance], OllamaClient]
OnFailure = Callable[[DesiredInstance, OllamaError], None]


class ChatStream:
    """A fleet chat in progress: `async for chunk in stream`, then `stream.result`.

    `instance` names the instance answering once the first chunk has arrived; `failovers` grows
    as instances fail. It is iterated once (a second loop sees no more chunks); a caller that
    stops early should `await stream.aclose()` to release the connection at once.
    """

    def __init__(
        self,
        request: ChatRequest,
        *,
        select: Select,
        client_for: ClientFor,
        clock: Callable[[], float],
        on_failure: OnFailure | None = None,
        restart_after_output: bool = False,
    ) -> None:
        self.request = request
        self.instance: str | None = None
        self.failovers: list[Failover] = []
        self._select = select
        self._client_for = client_for
        self._clock = clock
        self._on_failure = on_failure
        self._restart = restart_after_output
        self._result: FleetChatResult | None = None
        self._chunks: AsyncGenerator[ChatChunk, None] | None = None

    def __repr__(self) -> str:
        return f"ChatStream(model={str(self.request.model)!r}, instance={self.instance!r})"

    def __aiter__(self) -> AsyncGenerator[ChatChunk, None]:
        if self._chunks is None:
            self._chunks = self._run()
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

    async def _run(self) -> AsyncGenerator[ChatChunk, None]:
        selection = await self._select()
        for instance in selection.candidates:
            try:
                attempt = Attempt(instance, self._client_for(instance), self.request, self._clock)
            except (SecretError, OllamaError) as exc:  # the instance's settings are unusable
                self.failovers.append(Failover.from_error(instance, exc))
                continue
            try:
                async with aclosing(attempt.run()) as chunks:
                    async for chunk in chunks:
                        self.instance = instance.name
                        yield chunk
            except OllamaError as exc:
                if not fails_over(exc) or (attempt.delivered and not self._restart):
                    raise ChatFailed(exc, self.failovers) from exc
                self.failovers.append(Failover.from_error(instance, exc))
                self.instance = None
                if self._on_failure is not None:
                    self._on_failure(instance, exc)
                continue
            self._result = attempt.result(_moved_past(selection, instance, self.failovers))
            return
        raise NoInstanceAvailable(selection.model, selection.passed_over, self.failovers)


def _moved_past(
    selection: Selection, served: DesiredInstance, failed: list[Failover]
) -> list[Failover]:
    """The instances the chat moved past: those tried, and those down that would have come first."""
    down = [
        Failover.from_passed_over(p)
        for p in selection.passed_over
        if p.health is not None and p.priority <= served.priority
    ]
    return sorted([*down, *failed], key=lambda f: f.priority)
