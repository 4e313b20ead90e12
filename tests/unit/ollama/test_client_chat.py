"""Chat and generate: streamed chunks, the final metrics, client-side timings, stream errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import respx

from reconciler.ollama import (
    ChatChunk,
    ChatMessage,
    ClientConfig,
    GenerateChunk,
    Metrics,
    ModelNotFound,
    OllamaClient,
    ProtocolError,
    RequestRejected,
    ServerError,
)

FINAL_METRICS = {
    "total_duration": 10706818083,
    "load_duration": 6338219291,
    "prompt_eval_count": 26,
    "prompt_eval_duration": 130079000,
    "eval_count": 259,
    "eval_duration": 4232710000,
}
CREATED = "2025-05-04T17:37:44.706015396Z"


def chat_line(content: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": "llama3.2",
        "created_at": CREATED,
        "message": {"role": "assistant", "content": content},
        "done": False,
        **extra,
    }


async def consume(items: AsyncIterator[Any], into: list[Any]) -> None:
    """Consume a stream to its end, keeping what arrived in `into`."""
    async for item in items:
        into.append(item)


def final_chat_line() -> dict[str, Any]:
    return chat_line("", done=True, done_reason="stop", **FINAL_METRICS)


async def test_chat_streams_chunks_and_ends_with_metrics(
    client: OllamaClient,
    api: respx.MockRouter,
    ndjson: Callable[..., bytes],
    sent: Callable[..., Any],
) -> None:
    route = api.post("/api/chat").respond(
        200, content=ndjson(chat_line("The"), chat_line(" sky"), final_chat_line())
    )

    chunks = [
        chunk
        async for chunk in client.chat(
            "llama3.2",
            [ChatMessage(role="user", content="Why is the sky blue?")],
            options={"temperature": 0.2, "num_ctx": 4096},
            keep_alive="10m",
        )
    ]

    assert sent(route) == {
        "model": "llama3.2",
        "messages": [{"role": "user", "content": "Why is the sky blue?"}],
        "stream": True,
        "options": {"temperature": 0.2, "num_ctx": 4096},
        "keep_alive": "10m",
    }
    assert all(isinstance(c, ChatChunk) for c in chunks)
    assert [c.content for c in chunks] == ["The", " sky", ""]
    assert [c.done for c in chunks] == [False, False, True]
    assert chunks[0].metrics is None
    final = chunks[-1]
    assert final.done_reason == "stop"
    assert final.metrics == Metrics(**FINAL_METRICS)
    assert final.metrics.tokens_per_second == pytest.approx(259 / 4.23271)
    assert final.created_at is not None
    assert final.created_at.year == 2025


async def test_system_think_and_format_are_sent(
    client: OllamaClient,
    api: respx.MockRouter,
    ndjson: Callable[..., bytes],
    sent: Callable[..., Any],
) -> None:
    route = api.post("/api/chat").respond(200, content=ndjson(final_chat_line()))
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}}

    await client.chat_complete(
        "qwen3:8b",
        [{"role": "user", "content": "hi"}],
        system="Answer in JSON.",
        think="low",
        format=schema,
        keep_alive=-1,
    )

    assert sent(route) == {
        "model": "qwen3:8b",
        "messages": [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "hi"},
        ],
        "stream": True,
        "keep_alive": -1,
        "think": "low",
        "format": schema,
    }


async def test_chat_complete_joins_content_and_times_the_first_token(
    config: ClientConfig, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    thinking = chat_line("")
    thinking["message"]["thinking"] = "Hmm."
    api.post("/api/chat").respond(
        200, content=ndjson(thinking, chat_line("O"), chat_line("K"), final_chat_line())
    )
    ticks = iter([100.0, 100.4, 101.0])
    async with OllamaClient(config, clock=lambda: next(ticks)) as client:
        result = await client.chat_complete("llama3.2", [{"role": "user", "content": "Say OK"}])

    assert result.content == "OK"
    assert result.thinking == "Hmm."
    assert result.done_reason == "stop"
    assert result.time_to_first_token == pytest.approx(0.4)
    assert result.elapsed == pytest.approx(1.0)
    assert result.metrics.eval_count == 259
    assert result.model == "llama3.2"


async def test_chat_collects_tool_calls(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    call = {
        "id": "call_1",
        "function": {"index": 0, "name": "get_weather", "arguments": {"city": "Tokyo"}},
    }
    with_tool = chat_line("")
    with_tool["message"]["tool_calls"] = [call]
    api.post("/api/chat").respond(200, content=ndjson(with_tool, final_chat_line()))

    result = await client.chat_complete("llama3.2", [{"role": "user", "content": "weather?"}])

    assert result.tool_calls == (call,)
    assert result.time_to_first_token is None


async def test_a_chat_stream_without_done_is_a_transient_protocol_error(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/chat").respond(200, content=ndjson(chat_line("The"), chat_line(" sky")))
    with pytest.raises(ProtocolError, match="ended before 'done'") as caught:
        await client.chat_complete("llama3.2", [{"role": "user", "content": "x"}])
    assert caught.value.transient


async def test_an_error_line_mid_chat_is_a_server_error(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/chat").respond(
        200,
        content=ndjson(
            chat_line("The"),
            {"error": "an error was encountered while running the model: unexpected EOF"},
        ),
    )
    received: list[ChatChunk] = []
    with pytest.raises(ServerError) as caught:
        await consume(client.chat("llama3.2", [{"role": "user", "content": "x"}]), received)
    assert [chunk.content for chunk in received] == ["The"]
    assert caught.value.transient
    assert caught.value.status is None
    assert "unexpected EOF" in str(caught.value)


async def test_models_that_cannot_chat_are_rejected(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.post("/api/chat").respond(400, json={"error": '"nomic-embed-text" does not support chat'})
    with pytest.raises(RequestRejected, match="does not support chat") as caught:
        await client.chat_complete("nomic-embed-text", [{"role": "user", "content": "x"}])
    assert (caught.value.status, caught.value.transient) == (400, False)
    assert caught.value.model == "nomic-embed-text"


async def test_chat_with_a_missing_model(client: OllamaClient, api: respx.MockRouter) -> None:
    api.post("/api/chat").respond(404, json={"error": "model 'ghost' not found"})
    with pytest.raises(ModelNotFound) as caught:
        await client.chat_complete("ghost", [{"role": "user", "content": "x"}])
    assert str(caught.value).startswith("gpu-1/ghost: chat failed: model not found (HTTP 404)")


async def test_generate_streams_and_completes(
    config: ClientConfig,
    api: respx.MockRouter,
    ndjson: Callable[..., bytes],
    sent: Callable[..., Any],
) -> None:
    route = api.post("/api/generate").respond(
        200,
        content=ndjson(
            {"model": "llama3.2", "created_at": CREATED, "response": "Blue", "done": False},
            {
                "model": "llama3.2",
                "created_at": CREATED,
                "response": "",
                "done": True,
                "done_reason": "length",
                "context": [1, 2, 3],
                **FINAL_METRICS,
            },
        ),
    )
    ticks = iter([0.0, 0.3, 0.5])
    async with OllamaClient(config, clock=lambda: next(ticks)) as client:
        result = await client.generate_complete(
            "llama3.2", "Why is the sky blue?", system="Be brief.", options={"num_predict": 1}
        )

    assert sent(route) == {
        "model": "llama3.2",
        "prompt": "Why is the sky blue?",
        "stream": True,
        "system": "Be brief.",
        "options": {"num_predict": 1},
    }
    assert result.content == "Blue"
    assert result.done_reason == "length"
    assert result.context == (1, 2, 3)
    assert result.metrics.total_duration == 10706818083
    assert result.time_to_first_token == pytest.approx(0.3)
    assert result.elapsed == pytest.approx(0.5)


async def test_generate_chunks_are_typed(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/generate").respond(
        200,
        content=ndjson(
            {"response": "4", "thinking": None, "done": False},
            {"response": "", "done": True, "done_reason": "stop"},
        ),
    )
    chunks = [c async for c in client.generate("m", "2+2?")]
    assert all(isinstance(c, GenerateChunk) for c in chunks)
    assert chunks[-1].metrics == Metrics()
    assert chunks[-1].metrics is not None
    assert chunks[-1].metrics.tokens_per_second is None


async def test_generate_without_done_is_a_transient_protocol_error(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/generate").respond(200, content=ndjson({"response": "4", "done": False}))
    with pytest.raises(ProtocolError) as caught:
        await client.generate_complete("m", "2+2?")
    assert caught.value.transient
