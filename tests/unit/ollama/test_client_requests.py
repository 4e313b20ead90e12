"""Every method sends what Ollama expects (path, method, body, headers) and types the reply."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx

from reconciler.names import parse
from reconciler.ollama import (
    ClientConfig,
    EmbedResult,
    ModelEntry,
    OllamaClient,
    RequestRejected,
    RunningModel,
    ShowResponse,
)
from reconciler.ollama.config import DEFAULT_USER_AGENT

MISTRAL = "2ae6f6dd7a3dd734790bbbf58b8909a606e0e7e97e94b7604e0aa7ae4490e6d8"
TAGS = {
    "models": [
        {
            "name": "llama3.2:latest",
            "model": "llama3.2:latest",
            "modified_at": "2025-05-04T17:37:44.706015396-07:00",
            "size": 2019393189,
            "digest": "A80C4F17ACD55265FEEC403C7AEF86BE0C25983AB279D83F3BCD3ABBCB5B8B72",
            "details": {
                "parent_model": "",
                "format": "gguf",
                "family": "llama",
                "families": None,
                "parameter_size": "3.2B",
                "quantization_level": "Q4_K_M",
            },
        },
        {
            "name": "nomic-embed-text:latest",
            "model": "nomic-embed-text:latest",
            "modified_at": "2025-05-01T09:00:00Z",
            "size": 274302450,
            "digest": "sha256:0a109f422b47e3a30ba2b10eca18548e944e8a23073ee3f3e947efcf3c45e59f",
            "details": {"family": "nomic-bert", "families": ["nomic-bert"], "context_length": 2048},
            "capabilities": ["embedding"],
        },
    ]
}


async def test_headers_carry_token_custom_headers_and_user_agent(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    route = api.get("/api/version").respond(200, json={"version": "0.33.0"})

    assert await client.version() == "0.33.0"

    headers = route.calls[0].request.headers
    assert headers["Authorization"] == "Bearer tok-SECRET-7f3a9"
    assert headers["X-Client-ID"] == "ai-coder"
    assert headers["X-API-Key"] == "key-SECRET-51c2e"
    assert headers["User-Agent"] == DEFAULT_USER_AGENT
    assert DEFAULT_USER_AGENT.startswith("ollama-reconciler/")


async def test_the_bearer_token_replaces_an_authorization_header_of_any_spelling(
    api: respx.MockRouter, base: str
) -> None:
    route = api.get("/api/version").respond(200, json={"version": "0.0.0"})
    config = ClientConfig(
        instance="dev", base_url=base, bearer_token="T", headers={"authorization": "Basic abc"}
    )
    async with OllamaClient(config) as client:
        await client.version()
    assert route.calls[0].request.headers.get_list("authorization") == ["Bearer T"]


async def test_no_authorization_header_without_a_token(api: respx.MockRouter, base: str) -> None:
    route = api.get("/api/version").respond(200, json={"version": "0.0.0"})
    async with OllamaClient(ClientConfig(instance="dev", base_url=base)) as client:
        assert await client.version() == "0.0.0"
    assert "Authorization" not in route.calls[0].request.headers


async def test_one_connection_pool_is_reused(client: OllamaClient, api: respx.MockRouter) -> None:
    api.get("/").respond(200, text="Ollama is running")
    pools = set()
    for _ in range(3):
        await client.health()
        pools.add(id(client._session._transport))
    assert len(pools) == 1


async def test_endpoint_overrides_are_relative_to_the_prefixed_base() -> None:
    config = ClientConfig(
        instance="prod",
        base_url="https://h.example/ollama/",
        endpoints={"chat": "/api/v1/chat", "health": "api/ollama/health"},
    )
    with respx.mock(assert_all_called=True) as router:
        health = router.get("https://h.example/ollama/api/ollama/health").respond(200)
        chat = router.post("https://h.example/ollama/api/v1/chat").respond(
            200, content=b'{"message":{"role":"assistant","content":"ok"},"done":true}\n'
        )
        tags = router.get("https://h.example/ollama/api/tags").respond(200, json={"models": []})
        async with OllamaClient(config) as client:
            await client.health()
            assert (await client.chat_complete("m", [{"role": "user", "content": "x"}])).content
            assert await client.list_models() == []
    assert health.called
    assert chat.called
    assert tags.called


async def test_health_returns_the_measured_latency(
    config: ClientConfig, api: respx.MockRouter
) -> None:
    api.get("/").respond(200, text="Ollama is running")
    ticks = iter([10.0, 10.25])
    async with OllamaClient(config, clock=lambda: next(ticks)) as client:
        assert await client.health() == pytest.approx(0.25)


async def test_list_models_types_every_entry(client: OllamaClient, api: respx.MockRouter) -> None:
    api.get("/api/tags").respond(200, json=TAGS)

    llama, embed = await client.list_models()

    assert isinstance(llama, ModelEntry)
    assert llama.name == "llama3.2:latest"
    assert llama.digest == "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f3bcd3abbcb5b8b72"
    pacific = timezone(timedelta(hours=-7))
    assert llama.modified_at == datetime(2025, 5, 4, 17, 37, 44, 706015, tzinfo=pacific)
    assert llama.details.family == "llama"
    assert llama.details.families == ()
    assert llama.details.parent_model is None
    assert llama.details.quantization_level == "Q4_K_M"
    assert embed.digest.startswith("0a109f422b47")
    assert embed.capabilities == ("embedding",)
    assert embed.context_length == 2048


async def test_running_parses_expiry_far_in_the_future(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.get("/api/ps").respond(
        200,
        json={
            "models": [
                {
                    "name": "mistral:latest",
                    "model": "mistral:latest",
                    "size": 5137025024,
                    "digest": f"sha256-{MISTRAL.upper()}",
                    "details": {"family": "llama"},
                    "expires_at": "2318-09-21T03:12:58.123456789-07:00",
                    "size_vram": 5137025024,
                    "context_length": 4096,
                },
                {
                    "name": "qwen3:8b",
                    "model": "qwen3:8b",
                    "expires_at": "2025-06-04T14:38:31.83753-07:00",
                },
            ]
        },
    )

    forever, soon = await client.running()

    assert isinstance(forever, RunningModel)
    assert forever.digest == MISTRAL
    assert forever.expires_at is not None
    assert forever.expires_at.year == 2318
    assert forever.expires_at.utcoffset() == timedelta(hours=-7)
    assert forever.kept_forever
    assert forever.context_length == 4096
    assert forever.size_vram == forever.size
    assert not soon.kept_forever


async def test_empty_inventories(client: OllamaClient, api: respx.MockRouter) -> None:
    api.get("/api/tags").respond(200, json={"models": []})
    api.get("/api/ps").respond(200, json={"models": None})
    assert await client.list_models() == []
    assert await client.running() == []


async def test_show_sends_the_model_and_types_the_reply(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    route = api.post("/api/show").respond(
        200,
        json={
            "license": "LLAMA 3.2 COMMUNITY LICENSE",
            "parameters": f'num_ctx{" " * 24}8192\nstop{" " * 27}"<|eot_id|>"',
            "template": "{{ .Prompt }}",
            "system": "Be brief.",
            "details": {"family": "qwen2", "parameter_size": "7.6B"},
            "model_info": {
                "general.architecture": "qwen2",
                "qwen2.context_length": 32768,
                "qwen2.embedding_length": 3584,
            },
            "capabilities": ["completion", "tools"],
            "tensors": [{"name": "token_embd.weight", "type": "Q4_K", "shape": [3584, 152064]}],
            "modified_at": "2025-03-01T10:00:00.5+01:00",
        },
    )

    show = await client.show(parse("qwen2.5-coder:7b"))

    assert sent(route) == {"model": "qwen2.5-coder:7b"}
    assert isinstance(show, ShowResponse)
    assert show.context_length == 32768
    assert show.embedding_length == 3584
    assert show.parameters == {"num_ctx": 8192, "stop": ["<|eot_id|>"]}
    assert show.parameters_text.startswith("num_ctx")
    assert show.system == "Be brief."
    assert show.capabilities == ("completion", "tools")
    assert show.modified_at is not None
    assert show.modified_at.tzinfo is not None


async def test_show_with_minimal_reply(client: OllamaClient, api: respx.MockRouter) -> None:
    api.post("/api/show").respond(200, json={"model_info": {}, "details": {}})
    show = await client.show("tiny")
    assert show.context_length is None
    assert show.parameters == {}
    assert show.capabilities == ()


async def test_delete_and_copy_accept_an_empty_body(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    delete = api.delete("/api/delete").respond(200)
    copy = api.post("/api/copy").respond(200)

    assert await client.delete("llama3:13b") is None
    assert await client.copy("llama3.2", "llama3-backup") is None

    assert delete.calls[0].request.method == "DELETE"
    assert sent(delete) == {"model": "llama3:13b"}
    assert sent(copy) == {"source": "llama3.2", "destination": "llama3-backup"}


@pytest.mark.parametrize(
    ("keep_alive", "expected"),
    [(-1, -1), (300, 300), (1.5, 1.5), (300.0, 300), ("5m", "5m"), ("1h30m", "1h30m"),
     ("-1m", "-1m"), ("0", 0), ("300", 300), ("2.5", 2.5)],
)  # fmt: skip
async def test_load_encodes_keep_alive(
    client: OllamaClient,
    api: respx.MockRouter,
    sent: Callable[..., Any],
    keep_alive: float | str,
    expected: object,
) -> None:
    route = api.post("/api/generate").respond(
        200, json={"model": "m", "response": "", "done": True, "done_reason": "load"}
    )

    await client.load("m", keep_alive=keep_alive)

    raw = route.calls[0].request.content
    assert sent(route) == {"model": "m", "keep_alive": expected}
    assert type(json.loads(raw)["keep_alive"]) is type(expected)


async def test_load_defaults_to_forever_and_never_sends_a_prompt(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    route = api.post("/api/generate").respond(200, json={"done": True, "done_reason": "load"})
    await client.load("llama3.2:3b")
    assert sent(route) == {"model": "llama3.2:3b", "keep_alive": -1}


@pytest.mark.parametrize("bad", ["5 minutes", "forever", "", "1d", True])
async def test_unusable_keep_alive_is_refused_before_sending(
    client: OllamaClient, api: respx.MockRouter, bad: str | bool
) -> None:
    route = api.post("/api/generate").respond(200, json={"done": True})
    with pytest.raises(RequestRejected, match="keep_alive") as caught:
        await client.load("m", keep_alive=bad)
    assert not caught.value.transient
    assert not route.called


async def test_embedding_models_preload_through_embed(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    generate = api.post("/api/generate")
    embed = api.post("/api/embed").respond(200, json={"model": "nomic", "embeddings": []})

    await client.load("nomic-embed-text", embedding=True)

    assert sent(embed) == {"model": "nomic-embed-text", "keep_alive": -1}
    assert not generate.called


async def test_unload_uses_generate_with_keep_alive_zero(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    route = api.post("/api/generate").respond(
        200, json={"model": "m", "response": "", "done": True, "done_reason": "unload"}
    )
    await client.unload("llama3.2:3b")
    assert sent(route) == {"model": "llama3.2:3b", "keep_alive": 0}


async def test_embedding_models_unload_through_generate_too(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    # /api/embed would load the model before unloading it; generate unloads first.
    embed = api.post("/api/embed")
    generate = api.post("/api/generate").respond(
        200, json={"model": "nomic", "response": "", "done": True, "done_reason": "unload"}
    )
    await client.unload("nomic-embed-text")
    assert sent(generate) == {"model": "nomic-embed-text", "keep_alive": 0}
    assert not embed.called


async def test_embed_sends_input_and_returns_vectors(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    route = api.post("/api/embed").respond(
        200,
        json={
            "model": "nomic-embed-text",
            "embeddings": [[0.6, 0.8], [1.0, 0.0]],
            "total_duration": 14143917,
            "load_duration": 1019500,
            "prompt_eval_count": 8,
        },
    )

    result = await client.embed("nomic-embed-text", ["a", "b"], dimensions=2, keep_alive="10m")

    assert sent(route) == {
        "model": "nomic-embed-text",
        "input": ["a", "b"],
        "dimensions": 2,
        "keep_alive": "10m",
    }
    assert isinstance(result, EmbedResult)
    assert result.embeddings == [[0.6, 0.8], [1.0, 0.0]]
    assert result.metrics.prompt_eval_count == 8
    assert result.metrics.total_duration == 14143917


async def test_a_single_embed_input_stays_a_string(
    client: OllamaClient, api: respx.MockRouter, sent: Callable[..., Any]
) -> None:
    route = api.post("/api/embed").respond(200, json={"embeddings": [[1.0]]})
    await client.embed("e", "hello")
    assert sent(route) == {"model": "e", "input": "hello"}


async def test_custom_transport_replaces_the_network(config: ClientConfig) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"version": "0.9.0"})

    async with OllamaClient(config, transport=httpx.MockTransport(handler)) as client:
        assert await client.version() == "0.9.0"
    assert str(seen[0].url) == "https://ollama.example.com/prefix/api/version"
