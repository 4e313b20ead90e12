"""Failover: which errors move on to the next instance, which stop, and what is remembered."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from reconciler.chat import (
    ChatError,
    ChatFailed,
    ChatRequest,
    ChatStream,
    NoInstanceAvailable,
    PassedOver,
    Selection,
)
from reconciler.desired import DesiredInstance
from reconciler.errors import SecretError
from reconciler.names import parse
from reconciler.ollama import (
    ChatChunk,
    ClientConfig,
    ModelNameRejected,
    ModelNotFound,
    OllamaClient,
    OllamaError,
    OllamaTimeout,
    OllamaUnauthorized,
    OllamaUnreachable,
    RequestRejected,
    ServerBusy,
    ServerError,
)

MODEL = parse("llama3.2:3b")
A = DesiredInstance(name="gpu-a", url="http://a", priority=1)
B = DesiredInstance(name="gpu-b", url="http://b", priority=2)


def chunk(text: str) -> ChatChunk:
    return ChatChunk.model_validate({"message": {"role": "assistant", "content": text}})


def final(eval_count: int = 4, eval_duration: int = 100_000_000) -> ChatChunk:
    return ChatChunk.model_validate(
        {
            "model": "llama3.2:3b",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "eval_count": eval_count,
            "eval_duration": eval_duration,
        }
    )


class FakeClock:
    """Monotonic seconds that move only when a script says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class ScriptedClient(OllamaClient):
    """A client whose chat plays a script: chunks, errors to raise, seconds to let pass, 'hang'."""

    def __init__(self, name: str, script: list[Any], clock: FakeClock) -> None:
        super().__init__(ClientConfig(instance=name, base_url=f"http://{name}"))
        self.script = script
        self.clock = clock
        self.calls = 0

    async def chat(self, model: Any, messages: Any, **options: Any) -> AsyncIterator[ChatChunk]:  # type: ignore[override]
        self.calls += 1
        for item in self.script:
            if isinstance(item, BaseException):
                raise item
            if isinstance(item, float):
                self.clock.now += item
            elif item == "hang":
                await asyncio.Event().wait()
            else:
                yield item


def error(cls: type[OllamaError], status: int | None = None, text: str = "boom") -> OllamaError:
    return cls(f"chat failed: {text}", instance="gpu-a", model="llama3.2:3b", status=status)


SERVES = [chunk("Hello"), chunk(" there"), final()]


def make_stream(
    scripts: dict[str, list[Any]],
    *,
    passed_over: tuple[PassedOver, ...] = (),
    restart: bool = False,
    timeout: float | None = None,
    client_for: Callable[[DesiredInstance], OllamaClient] | None = None,
) -> tuple[ChatStream, dict[str, ScriptedClient]]:
    clock = FakeClock()
    clients = {name: ScriptedClient(name, script, clock) for name, script in scripts.items()}
    candidates = tuple(i for i in (A, B) if i.name in scripts)

    async def select() -> Selection:
        return Selection(MODEL, candidates, passed_over)

    request = ChatRequest(MODEL, [{"role": "user", "content": "hi"}], timeout=timeout)
    stream = ChatStream(
        request,
        select=select,
        client_for=client_for or (lambda i: clients[i.name]),
        clock=clock,
        restart_after_output=restart,
    )
    return stream, clients


async def drain(stream: ChatStream) -> list[str]:
    return [c.content async for c in stream]


FAILS_OVER = [
    pytest.param(
        error(OllamaUnreachable, text="connection refused"), "unreachable", id="unreachable"
    ),
    pytest.param(error(ServerBusy, 503), "busy (HTTP 503)", id="503-busy"),
    pytest.param(error(ServerError, 500), "server error (HTTP 500)", id="500"),
    pytest.param(error(OllamaTimeout), "timed out", id="timeout"),
    pytest.param(error(OllamaUnauthorized, 401), "unauthorized (HTTP 401)", id="401"),
    pytest.param(error(ModelNotFound, 404), "model not found (HTTP 404)", id="model-gone"),
]


@pytest.mark.parametrize(("failure", "reason"), FAILS_OVER)
async def test_first_fails_then_second_serves(failure: OllamaError, reason: str) -> None:
    stream, clients = make_stream({"gpu-a": [failure], "gpu-b": SERVES})
    assert await drain(stream) == ["Hello", " there", ""]
    result = stream.result
    assert (result.instance, result.priority, result.content) == ("gpu-b", 2, "Hello there")
    assert [(f.instance, f.reason, f.tried) for f in result.failovers] == [("gpu-a", reason, True)]
    assert result.failovers[0].message == failure.message
    assert clients["gpu-a"].calls == clients["gpu-b"].calls == 1


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(error(RequestRejected, 400, "options are invalid"), id="400"),
        pytest.param(error(ModelNameRejected, 400), id="invalid-name"),
    ],
)
async def test_a_refused_request_stops_without_trying_the_next(failure: OllamaError) -> None:
    stream, clients = make_stream({"gpu-a": [failure], "gpu-b": SERVES})
    with pytest.raises(ChatFailed) as caught:
        await drain(stream)
    assert caught.value.error is failure
    assert caught.value.where == "gpu-a/llama3.2:3b"
    assert clients["gpu-b"].calls == 0


async def test_when_all_fail_one_error_lists_every_instance_and_why() -> None:
    down = PassedOver("cpu-c", 3, "does not have llama3.2:3b")
    stream, _ = make_stream(
        {"gpu-a": [error(OllamaUnreachable)], "gpu-b": [error(ServerBusy, 503)]},
        passed_over=(down,),
    )
    with pytest.raises(NoInstanceAvailable) as caught:
        await drain(stream)
    text = str(caught.value)
    assert text.startswith("no instance could serve a chat with llama3.2:3b: ")
    assert "gpu-a (priority 1) failed: unreachable" in text
    assert "gpu-b (priority 2) failed: busy (HTTP 503)" in text
    assert "cpu-c (priority 3) passed over: does not have llama3.2:3b" in text
    assert caught.value.reasons == ("unreachable", "busy (HTTP 503)", "does not have llama3.2:3b")


async def test_a_stream_never_fails_over_once_text_went_out() -> None:
    broken = [chunk("Hel"), error(OllamaUnreachable, text="the connection was lost")]
    stream, clients = make_stream({"gpu-a": broken, "gpu-b": SERVES})
    seen: list[str] = []

    async def read() -> None:
        async for piece in stream:
            seen.append(piece.content)

    with pytest.raises(ChatFailed):
        await read()
    assert seen == ["Hel"]
    assert clients["gpu-b"].calls == 0


async def test_a_whole_reply_may_start_again_on_the_next_instance() -> None:
    broken = [chunk("Hel"), error(OllamaUnreachable, text="the connection was lost")]
    stream, _ = make_stream({"gpu-a": broken, "gpu-b": SERVES}, restart=True)
    await drain(stream)
    assert stream.result.content == "Hello there"
    assert [f.instance for f in stream.result.failovers] == ["gpu-a"]


async def test_a_reply_slower_than_the_timeout_fails_over() -> None:
    stream, _ = make_stream({"gpu-a": ["hang"], "gpu-b": SERVES}, timeout=0.05)
    await drain(stream)
    (failover,) = stream.result.failovers
    assert failover.reason == "timed out"
    assert "no complete reply within 0.05s" in failover.message


async def test_timings_come_from_the_clock_of_the_answering_instance() -> None:
    script = [0.25, chunk("Hi"), 0.5, chunk("!"), final(eval_count=48, eval_duration=10**9)]
    stream, _ = make_stream({"gpu-a": [1.0, error(OllamaUnreachable)], "gpu-b": script})
    await drain(stream)
    result = stream.result
    assert result.time_to_first_token == pytest.approx(0.25)
    assert result.elapsed == pytest.approx(0.75)
    assert result.tokens_per_second == pytest.approx(48.0)


async def test_instances_found_down_before_the_one_that_served_count_as_failovers() -> None:
    down = PassedOver("gpu-0", 1, "unreachable: cannot connect", health="unreachable")
    later = PassedOver("gpu-z", 9, "unreachable: cannot connect", health="unreachable")
    stream, _ = make_stream({"gpu-b": SERVES}, passed_over=(down, later))
    await drain(stream)
    assert [(f.instance, f.reason, f.tried) for f in stream.result.failovers] == [
        ("gpu-0", "unreachable", False)
    ]


async def test_an_instance_whose_secret_is_missing_is_skipped() -> None:
    clock = FakeClock()
    serving = ScriptedClient("gpu-b", SERVES, clock)

    def client_for(instance: DesiredInstance) -> OllamaClient:
        if instance.name == "gpu-a":
            raise SecretError("environment variable GPU_TOKEN is not set")
        return serving

    stream, _ = make_stream({"gpu-a": [], "gpu-b": SERVES}, client_for=client_for)
    await drain(stream)
    assert [(f.instance, f.reason) for f in stream.result.failovers] == [
        ("gpu-a", "secret missing")
    ]


async def test_the_result_is_there_only_after_the_stream_ended() -> None:
    stream, _ = make_stream({"gpu-a": SERVES})
    with pytest.raises(ChatError, match="has not finished"):
        _ = stream.result
    await drain(stream)
    assert stream.instance == "gpu-a"


async def test_a_stream_is_iterated_once_and_can_be_closed_early() -> None:
    stream, clients = make_stream({"gpu-a": SERVES})
    async for _ in stream:
        break
    await stream.aclose()
    assert [c.content async for c in stream] == []
    assert clients["gpu-a"].calls == 1
