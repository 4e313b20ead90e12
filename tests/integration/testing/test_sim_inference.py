"""Generate, chat and embed on the simulator: shapes, replies, metrics, load/unload, errors."""

from __future__ import annotations

import math
import re
from datetime import datetime

import pytest

UTC_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$")
SMOKE = "Reply with the single word OK."


async def test_generate_streams_tokens_then_final_metrics(sim, lines):
    _, client = sim
    events = lines(
        await client.post(
            "/api/generate", json={"model": "llama3.2:3b", "prompt": "Tell me a story."}
        )
    )
    chunks, final = events[:-1], events[-1]
    assert len(chunks) > 10
    assert all(
        set(c) == {"model", "created_at", "response", "done"} and c["done"] is False for c in chunks
    )
    assert all(UTC_STAMP.match(c["created_at"]) for c in events)
    assert final["done"] is True
    assert final["done_reason"] == "stop"
    assert final["response"] == ""
    assert isinstance(final["context"], list)
    assert final["eval_count"] == len(chunks)
    for key in (
        "total_duration",
        "load_duration",
        "prompt_eval_count",
        "prompt_eval_duration",
        "eval_duration",
    ):
        assert final[key] > 0


async def test_smoke_prompt_gets_the_word(sim):
    _, client = sim
    reply = await client.post(
        "/api/generate", json={"model": "llama3.2:3b", "prompt": SMOKE, "stream": False}
    )
    chat = await client.post(
        "/api/chat",
        json={
            "model": "llama3.2:3b",
            "messages": [{"role": "user", "content": SMOKE}],
            "stream": False,
        },
    )
    assert reply.json()["response"] == "OK"
    assert chat.json()["message"] == {"role": "assistant", "content": "OK"}


async def test_metrics_follow_token_rate_and_first_token_delay(make_sim):
    _, client = make_sim(models=("tinyllama",), token_rate=250.0, first_token_delay=0.02)
    final = (
        await client.post(
            "/api/generate", json={"model": "tinyllama", "prompt": "Hi", "stream": False}
        )
    ).json()
    assert final["eval_count"] / final["eval_duration"] * 1e9 == pytest.approx(250.0, rel=1e-3)
    assert final["prompt_eval_duration"] == 20_000_000
    expected_wall = 0.02 + (final["eval_count"] - 1) / 250.0
    assert final["total_duration"] / 1e9 == pytest.approx(expected_wall, rel=0.2)


async def test_chat_stream_shapes_and_non_stream_concatenation(sim, lines):
    _, client = sim
    body = {"model": "llama3.2:3b", "messages": [{"role": "user", "content": "Hello there"}]}
    events = lines(await client.post("/api/chat", json=body))
    whole = (await client.post("/api/chat", json={**body, "stream": False})).json()
    assert events[0]["message"]["role"] == "assistant"
    assert "context" not in events[-1]
    assert events[-1]["message"] == {"role": "assistant", "content": ""}
    assert whole["message"]["content"] == "".join(e["message"]["content"] for e in events)
    assert whole["done_reason"] == "stop"
    assert whole["model"] == "llama3.2:3b"


async def test_model_is_echoed_as_sent(sim):
    _, client = sim
    reply = await client.post(
        "/api/generate", json={"model": "LLAMA3.2:3b", "prompt": "x", "stream": False}
    )
    assert reply.json()["model"] == "LLAMA3.2:3b"


async def test_num_predict_and_stop_limit_the_reply(sim):
    _, client = sim
    short = await client.post(
        "/api/generate",
        json={
            "model": "llama3.2:3b",
            "prompt": "Tell me",
            "options": {"num_predict": 3},
            "stream": False,
        },
    )
    stopped = await client.post(
        "/api/generate",
        json={"model": "llama3.2:3b", "prompt": SMOKE, "options": {"stop": ["K"]}, "stream": False},
    )
    assert (short.json()["eval_count"], short.json()["done_reason"]) == (3, "length")
    assert stopped.json()["response"] == "O"


async def test_format_json_gets_a_json_object(sim):
    import json

    _, client = sim
    reply = await client.post(
        "/api/generate",
        json={"model": "llama3.2:3b", "prompt": SMOKE, "format": "json", "stream": False},
    )
    assert json.loads(reply.json()["response"]) == {"reply": "OK"}


async def test_preload_and_unload_replies(make_sim):
    server, client = make_sim(models=("tinyllama",))
    load = await client.post("/api/generate", json={"model": "tinyllama", "keep_alive": -1})
    assert load.headers["content-type"].startswith("application/json")
    assert {k: v for k, v in load.json().items() if k != "created_at"} == {
        "model": "tinyllama",
        "response": "",
        "done": True,
        "done_reason": "load",
    }
    runner = (await client.get("/api/ps")).json()["models"][0]
    assert datetime.fromisoformat(runner["expires_at"]).year >= 2318
    chat_unload = await client.post(
        "/api/chat", json={"model": "tinyllama", "messages": [], "keep_alive": 0}
    )
    assert chat_unload.json()["message"] == {"role": "assistant", "content": ""}
    assert chat_unload.json()["done_reason"] == "unload"
    assert server.state.loaded == {}
    again = await client.post("/api/generate", json={"model": "tinyllama", "keep_alive": "0"})
    assert again.json()["done_reason"] == "unload"


async def test_chat_preload_with_empty_messages(make_sim):
    _, client = make_sim(models=("tinyllama",))
    reply = await client.post("/api/chat", json={"model": "tinyllama", "messages": []})
    assert reply.json()["done_reason"] == "load"
    assert reply.json()["message"] == {"role": "assistant", "content": ""}
    runner = (await client.get("/api/ps")).json()["models"][0]
    remaining = datetime.fromisoformat(runner["expires_at"]) - datetime.now().astimezone()
    assert 290 < remaining.total_seconds() <= 300


async def test_request_keep_alive_replaces_the_timer(sim):
    _, client = sim
    await client.post(
        "/api/generate", json={"model": "llama3.2:3b", "prompt": "x", "keep_alive": "1h30m"}
    )
    runner = (await client.get("/api/ps")).json()["models"][0]
    remaining = datetime.fromisoformat(runner["expires_at"]) - datetime.now().astimezone()
    assert 5390 < remaining.total_seconds() <= 5400


async def test_keep_alive_zero_with_prompt_unloads_after_answering(sim):
    server, client = sim
    reply = await client.post(
        "/api/generate", json={"model": "llama3.2:3b", "prompt": "x", "keep_alive": 0}
    )
    assert reply.status_code == 200
    assert server.state.loaded == {}


async def test_num_ctx_sets_the_loaded_context_length(make_sim):
    _, client = make_sim(models=("tinyllama",))
    await client.post("/api/generate", json={"model": "tinyllama", "options": {"num_ctx": 2048}})
    assert (await client.get("/api/ps")).json()["models"][0]["context_length"] == 2048


@pytest.mark.parametrize(
    ("keep_alive", "error"),
    [
        ("300", 'time: missing unit in duration "300"'),
        ("5x", 'time: unknown unit "x" in duration "5x"'),
        ("abc", 'time: invalid duration "abc"'),
        (True, "Unsupported type: 'bool'"),
    ],
)
async def test_bad_keep_alive_is_400_with_go_message(sim, keep_alive, error):
    _, client = sim
    reply = await client.post(
        "/api/generate", json={"model": "llama3.2:3b", "keep_alive": keep_alive}
    )
    assert (reply.status_code, reply.json()) == (400, {"error": error})


async def test_embedding_model_refuses_generate_and_chat_but_unloads(sim):
    _, client = sim
    generate = await client.post("/api/generate", json={"model": "nomic-embed-text", "prompt": "x"})
    chat = await client.post(
        "/api/chat",
        json={"model": "nomic-embed-text", "messages": [{"role": "user", "content": "x"}]},
    )
    preload = await client.post("/api/generate", json={"model": "nomic-embed-text"})
    unload = await client.post("/api/generate", json={"model": "nomic-embed-text", "keep_alive": 0})
    assert (generate.status_code, generate.json()) == (
        400,
        {"error": '"nomic-embed-text" does not support generate'},
    )
    assert (chat.status_code, chat.json()) == (
        400,
        {"error": '"nomic-embed-text" does not support chat'},
    )
    assert preload.status_code == 400
    assert unload.json()["done_reason"] == "unload"


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/api/generate", {"model": "", "prompt": "x"}, 404, "model '' not found"),
        ("/api/generate", {"model": "Bad!", "prompt": "x"}, 400, "invalid model name"),
        ("/api/generate", {"model": "nope", "prompt": "x"}, 404, "model 'nope' not found"),
        ("/api/chat", {"model": "", "messages": []}, 400, "model is required"),
        ("/api/chat", {"model": "Bad!", "messages": []}, 400, "invalid model name"),
        ("/api/chat", {"model": "nope", "messages": []}, 404, "model 'nope' not found"),
        ("/api/embed", {"model": "nope", "input": "x"}, 404, "model 'nope' not found"),
        ("/api/embed", {"model": "Bad!", "input": "x"}, 400, "invalid model name"),
        ("/api/generate", {"model": "nope", "keep_alive": 0}, 404, "model 'nope' not found"),
        (
            "/api/generate",
            {"model": "llama3.2:3b", "prompt": "x", "raw": True, "system": "s"},
            400,
            "raw mode does not support template, system, or context",
        ),
        (
            "/api/generate",
            {"model": "llama3.2:3b", "prompt": "x", "top_logprobs": 21},
            400,
            "top_logprobs must be between 0 and 20",
        ),
        (
            "/api/generate",
            {"model": "llama3.2:3b", "prompt": "x", "think": True},
            400,
            '"llama3.2:3b" does not support thinking',
        ),
        (
            "/api/generate",
            {"model": "llama3.2:3b", "prompt": "x", "suffix": "y"},
            400,
            "registry.ollama.ai/library/llama3.2:3b does not support insert",
        ),
    ],
)
async def test_inference_errors(sim, path, body, status, error):
    _, client = sim
    reply = await client.post(path, json=body)
    assert (reply.status_code, reply.json()) == (status, {"error": error})


async def test_tools_on_a_model_without_tool_support(make_sim):
    _, client = make_sim(models=("gemma2:2b",))
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    reply = await client.post(
        "/api/chat",
        json={"model": "gemma2:2b", "messages": [{"role": "user", "content": "x"}], "tools": tools},
    )
    assert (reply.status_code, reply.json()) == (
        400,
        {"error": "registry.ollama.ai/library/gemma2:2b does not support tools"},
    )


async def test_tool_named_by_the_user_is_called_with_object_arguments(sim):
    _, client = sim
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    body = {
        "model": "llama3.2:3b",
        "messages": [{"role": "user", "content": "Use get_weather for Tokyo"}],
        "tools": [tool],
        "stream": False,
    }
    message = (await client.post("/api/chat", json=body)).json()["message"]
    call = message["tool_calls"][0]
    assert call["id"].startswith("call_")
    assert call["function"] == {"index": 0, "name": "get_weather", "arguments": {"city": "example"}}


async def test_thinking_model_thinks_first_unless_told_not_to(make_sim, lines):
    _, client = make_sim(models=("qwen3:8b",), token_rate=5000.0)
    body = {"model": "qwen3:8b", "messages": [{"role": "user", "content": SMOKE}]}
    events = lines(await client.post("/api/chat", json=body))
    plain = (await client.post("/api/chat", json={**body, "think": False, "stream": False})).json()
    whole = (await client.post("/api/chat", json={**body, "stream": False})).json()
    assert events[0]["message"]["thinking"]
    assert events[0]["message"]["content"] == ""
    assert whole["message"]["content"] == "OK"
    assert whole["message"]["thinking"]
    assert "thinking" not in plain["message"]
    generated = (
        await client.post(
            "/api/generate",
            json={"model": "qwen3:8b", "prompt": SMOKE, "think": "high", "stream": False},
        )
    ).json()
    assert list(generated)[:4] == ["model", "created_at", "response", "thinking"]


async def test_embed_returns_normalised_vectors(sim):
    _, client = sim
    reply = (
        await client.post("/api/embed", json={"model": "nomic-embed-text", "input": ["a", "b"]})
    ).json()
    vectors = reply["embeddings"]
    assert reply["model"] == "nomic-embed-text"
    assert [len(v) for v in vectors] == [768, 768]
    assert math.sqrt(sum(x * x for x in vectors[0])) == pytest.approx(1.0, abs=1e-5)
    assert vectors[0] != vectors[1]
    assert reply["prompt_eval_count"] == 2
    again = (
        await client.post("/api/embed", json={"model": "nomic-embed-text", "input": "a"})
    ).json()
    assert again["embeddings"][0] == vectors[0]


async def test_embed_dimensions_and_input_validation(sim):
    _, client = sim
    short = (
        await client.post(
            "/api/embed", json={"model": "nomic-embed-text", "input": "a", "dimensions": 64}
        )
    ).json()
    bad = await client.post("/api/embed", json={"model": "nomic-embed-text", "input": [1, 2]})
    assert len(short["embeddings"][0]) == 64
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid input type"})


async def test_embed_without_input_loads_the_model(sim):
    server, client = sim
    reply = await client.post("/api/embed", json={"model": "nomic-embed-text"})
    assert reply.json() == {"model": "nomic-embed-text", "embeddings": []}
    assert "nomic-embed-text:latest" in server.state.loaded


async def test_legacy_embeddings(sim):
    _, client = sim
    vector = (
        await client.post("/api/embeddings", json={"model": "nomic-embed-text", "prompt": "a"})
    ).json()
    empty = (await client.post("/api/embeddings", json={"model": "nomic-embed-text"})).json()
    missing = await client.post("/api/embeddings", json={"model": "nope", "prompt": "a"})
    assert len(vector["embedding"]) == 768
    assert empty == {"embedding": []}
    assert missing.json() == {"error": 'model "nope" not found, try pulling it first'}


async def test_load_delay_applies_only_when_not_loaded(make_sim):
    _, client = make_sim(models=("tinyllama",), load_delay=0.1)
    cold = (
        await client.post(
            "/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}
        )
    ).json()
    warm = (
        await client.post(
            "/api/generate", json={"model": "tinyllama", "prompt": "x", "stream": False}
        )
    ).json()
    assert cold["load_duration"] >= 100_000_000
    assert warm["load_duration"] < 50_000_000
