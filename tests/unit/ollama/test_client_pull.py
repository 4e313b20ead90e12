"""Pull and create: typed progress, the `success` rule, mid-stream errors, stream time limits."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import pytest
import respx

from reconciler.ollama import (
    ClientConfig,
    CreateProgress,
    ModelNameRejected,
    ModelNotInRegistry,
    OllamaClient,
    OllamaTimeout,
    ProtocolError,
    PullProgress,
    RequestRejected,
    ServerError,
)

LAYER = "6a0746a1ec1aef3e7ec53868f220ff6e389f6f8ef87a01d77c96807de94ca2aa"
CONFIG_BLOB = "56bb8bd477a519ffa694fc449c2413c6f0e1d3b1c88fa7e3c9d88d3ae49d4dcb"
NDJSON = {"content-type": "application/x-ndjson"}
HANG = None  # a step of ScriptedStream that never delivers


async def collect(progress: AsyncIterator[Any], into: list[Any] | None = None) -> list[Any]:
    """Consume a stream to its end; what arrived is also kept in `into` if an error stops it."""
    items = [] if into is None else into
    async for item in progress:
        items.append(item)
    return items


class ScriptedStream(httpx.AsyncByteStream):
    """A reply body delivered in steps of (delay in seconds, bytes); HANG waits forever."""

    def __init__(self, steps: Sequence[tuple[float, bytes] | None]) -> None:
        self.steps = steps
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for step in self.steps:
            if step is HANG:
                await asyncio.Event().wait()
                continue
            delay, chunk = step
            if delay:
                await asyncio.sleep(delay)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Answers every request with 200 and a `ScriptedStream`."""

    def __init__(self, stream: ScriptedStream) -> None:
        self.stream = stream

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers=NDJSON, stream=self.stream)


def line(item: str) -> bytes:
    return item.encode() + b"\n"


async def test_pull_yields_the_real_status_sequence(
    client: OllamaClient,
    api: respx.MockRouter,
    ndjson: Callable[..., bytes],
    sent: Callable[..., Any],
) -> None:
    route = api.post("/api/pull").respond(
        200,
        headers=NDJSON,
        content=ndjson(
            {"status": "pulling manifest"},
            {"status": "pulling 6a0746a1ec1a", "digest": f"sha256:{LAYER}", "total": 2019377376},
            {
                "status": "pulling 6a0746a1ec1a",
                "digest": f"sha256:{LAYER}",
                "total": 2019377376,
                "completed": 241970,
            },
            {
                "status": "pulling 56bb8bd477a5",
                "digest": f"sha256:{CONFIG_BLOB.upper()}",
                "total": 96,
                "completed": 96,
            },
            {"status": "verifying sha256 digest"},
            {"status": "writing manifest"},
            {"status": "success"},
        ),
    )

    progress = await collect(client.pull("llama3.2"))

    assert sent(route) == {"model": "llama3.2", "insecure": False, "stream": True}
    assert all(isinstance(p, PullProgress) for p in progress)
    assert next(p.status for p in progress) == "pulling manifest"
    first_layer = progress[1]
    assert (first_layer.digest, first_layer.total, first_layer.completed) == (LAYER, 2019377376, 0)
    assert progress[2].completed == 241970
    assert progress[3].digest == CONFIG_BLOB
    assert progress[0].digest is None
    assert progress[0].total is None
    assert progress[-1].done
    assert not any(p.done for p in progress[:-1])


async def test_pull_of_a_safetensors_model(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/pull").respond(
        200,
        content=ndjson(
            {"status": "pulling model", "digest": "sha256:model", "total": 10, "completed": 5},
            {"status": "writing manifest"},
            {"status": "success"},
        ),
    )
    progress = await collect(client.pull("mlx-community/m:4bit"))
    assert progress[0].digest == "model"


async def test_insecure_pull_is_requested(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes], sent: Any
) -> None:
    route = api.post("/api/pull").respond(200, content=ndjson({"status": "success"}))
    await collect(client.pull("myreg:5000/team/m:1", insecure=True))
    assert sent(route)["insecure"] is True


async def test_a_non_streamed_reply_is_accepted(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.post("/api/pull").respond(
        200, headers={"content-type": "application/json; charset=utf-8"}, json={"status": "success"}
    )
    assert [p.status for p in await collect(client.pull("llama3"))] == ["success"]


async def test_model_missing_from_registry_mid_stream(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/pull").respond(
        200,
        headers=NDJSON,
        content=ndjson(
            {"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}
        ),
    )
    seen: list[PullProgress] = []
    with pytest.raises(ModelNotInRegistry) as caught:
        await collect(client.pull("llama9:70b"), seen)

    error = caught.value
    assert [p.status for p in seen] == ["pulling manifest"]
    assert not error.transient
    assert (error.instance, error.model, error.status) == ("gpu-1", "llama9:70b", None)
    assert error.detail == "pull model manifest: file does not exist"
    assert str(error).startswith("gpu-1/llama9:70b: pull failed: llama9:70b is not in the registry")
    assert "ollama.com/library" in str(error)


async def test_model_missing_from_registry_without_streaming(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.post("/api/pull").respond(500, json={"error": "pull model manifest: file does not exist"})
    with pytest.raises(ModelNotInRegistry) as caught:
        await collect(client.pull("nope"))
    assert caught.value.status == 500


async def test_other_mid_stream_failures_are_transient_server_errors(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    message = (
        'Get "https://registry.ollama.ai/v2/library/llama3/manifests/latest": dial tcp: i/o timeout'
    )
    api.post("/api/pull").respond(
        200, content=ndjson({"status": "pulling manifest"}, {"error": message})
    )
    with pytest.raises(ServerError) as caught:
        await collect(client.pull("llama3"))
    assert caught.value.transient
    assert caught.value.detail == message


@pytest.mark.parametrize("code", [401, 403])
async def test_a_registry_that_refuses_access_is_not_retried(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes], code: int
) -> None:
    message = f'pull model manifest: {code}: {{"errors":[{{"code":"UNAUTHORIZED"}}]}}'
    api.post("/api/pull").respond(
        200, content=ndjson({"status": "pulling manifest"}, {"error": message})
    )
    with pytest.raises(RequestRejected, match="the registry refused the pull") as caught:
        await collect(client.pull("someone/private"))
    assert not caught.value.transient
    assert "retrying will not help" in str(caught.value)


async def test_an_http_registry_needs_insecure(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/pull").respond(
        200, content=ndjson({"status": "pulling manifest"}, {"error": "insecure protocol http"})
    )
    with pytest.raises(RequestRejected, match="insecure") as caught:
        await collect(client.pull("myreg.local/team/m:1"))
    assert not caught.value.transient


async def test_invalid_name_is_reported(client: OllamaClient, api: respx.MockRouter) -> None:
    api.post("/api/pull").respond(400, json={"error": "invalid model name"})
    with pytest.raises(ModelNameRejected) as caught:
        await collect(client.pull("bad!name"))
    assert (caught.value.status, caught.value.transient) == (400, False)


async def test_a_stream_that_ends_without_success_is_a_transient_protocol_error(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/pull").respond(
        200,
        content=ndjson(
            {"status": "pulling manifest"},
            {"status": "pulling 6a0746a1ec1a", "digest": f"sha256:{LAYER}", "total": 5},
        ),
    )
    with pytest.raises(ProtocolError, match="ended before 'success'") as caught:
        await collect(client.pull("llama3"))
    assert caught.value.transient


async def test_a_stream_cut_in_the_middle_of_a_line_is_transient(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.post("/api/pull").respond(200, content=b'{"status":"pulling manifest"}\n{"status":"pull')
    with pytest.raises(ProtocolError, match="cut off") as caught:
        await collect(client.pull("llama3"))
    assert caught.value.transient


async def test_a_line_that_is_not_json_is_a_lasting_protocol_error(
    client: OllamaClient, api: respx.MockRouter
) -> None:
    api.post("/api/pull").respond(200, content=b"<html>Sign in</html>\n")
    with pytest.raises(ProtocolError, match="not JSON") as caught:
        await collect(client.pull("llama3"))
    assert not caught.value.transient


async def test_lines_split_across_network_chunks_are_reassembled(config: ClientConfig) -> None:
    body = b'{"status":"pulling manifest"}\n{"status":"writing manifest"}\n{"status":"success"}\n'
    stream = ScriptedStream([(0, body[i : i + 7]) for i in range(0, len(body), 7)])
    async with OllamaClient(config, transport=ScriptedTransport(stream)) as client:
        statuses = [p.status for p in await collect(client.pull("llama3"))]
    assert statuses == ["pulling manifest", "writing manifest", "success"]


async def test_stopping_early_closes_the_reply(config: ClientConfig) -> None:
    stream = ScriptedStream([(0, line('{"status":"pulling manifest"}')), HANG])
    async with OllamaClient(config, transport=ScriptedTransport(stream)) as client:
        pull = client.pull("llama3")
        async for _ in pull:
            break
        await pull.aclose()
    assert stream.closed


async def test_a_pull_that_keeps_streaming_past_the_timeout_is_fine(config: ClientConfig) -> None:
    quick = dataclasses.replace(config, timeout=0.05)
    steps = [(0.01, line(f'{{"status":"pulling {i}","completed":{i}}}')) for i in range(9)]
    stream = ScriptedStream([*steps, (0.01, line('{"status":"success"}'))])
    async with OllamaClient(quick, transport=ScriptedTransport(stream)) as client:
        progress = await collect(client.pull("llama3"))
    assert len(progress) == 10
    assert progress[-1].done


async def test_a_silent_pull_times_out(config: ClientConfig) -> None:
    silent = dataclasses.replace(config, timeout=30.0, read_timeout_stream=0.03)
    stream = ScriptedStream([(0, line('{"status":"pulling manifest"}')), HANG])
    async with OllamaClient(silent, transport=ScriptedTransport(stream)) as client:
        with pytest.raises(OllamaTimeout, match=r"sent nothing for 0\.03s") as caught:
            await collect(client.pull("llama3"))
    assert caught.value.transient
    assert caught.value.model == "llama3"
    assert stream.closed


async def test_a_pull_over_its_whole_time_limit_times_out(config: ClientConfig) -> None:
    limited = dataclasses.replace(config, timeout=0.05, pull_timeout=0.06)
    steps = [(0.01, line('{"status":"pulling 1","total":9}')) for _ in range(100)]
    async with OllamaClient(limited, transport=ScriptedTransport(ScriptedStream(steps))) as client:
        with pytest.raises(OllamaTimeout, match=r"not finished after 0\.06s") as caught:
            await collect(client.pull("llama3"))
    assert "pullTimeout" in str(caught.value)


async def test_create_sends_the_json_form_and_streams_progress(
    client: OllamaClient,
    api: respx.MockRouter,
    ndjson: Callable[..., bytes],
    sent: Callable[..., Any],
) -> None:
    route = api.post("/api/create").respond(
        200,
        content=ndjson(
            {"status": f"using existing layer sha256:{LAYER}"},
            {"status": "creating new layer sha256:abc"},
            {"status": "writing manifest"},
            {"status": "success"},
        ),
    )

    progress = await collect(
        client.create(
            "coder",
            from_="qwen2.5-coder:7b",
            system="You are a careful code reviewer.",
            parameters={"num_ctx": 8192, "temperature": 0.2, "stop": ["<|im_end|>"]},
            quantize="q4_K_M",
        )
    )

    assert sent(route) == {
        "model": "coder",
        "from": "qwen2.5-coder:7b",
        "stream": True,
        "system": "You are a careful code reviewer.",
        "parameters": {"num_ctx": 8192, "temperature": 0.2, "stop": ["<|im_end|>"]},
        "quantize": "q4_K_M",
    }
    assert all(isinstance(p, CreateProgress) for p in progress)
    assert progress[-1].done


async def test_create_leaves_out_what_is_not_given(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes], sent: Any
) -> None:
    route = api.post("/api/create").respond(200, content=ndjson({"status": "success"}))
    await collect(client.create("copy-of-llama", from_="llama3.2"))
    assert sent(route) == {"model": "copy-of-llama", "from": "llama3.2", "stream": True}


async def test_create_whose_base_is_not_in_the_registry(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/create").respond(
        200,
        content=ndjson(
            {"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}
        ),
    )
    with pytest.raises(ModelNotInRegistry, match="the base model 'qwen9:7b'") as caught:
        await collect(client.create("coder", from_="qwen9:7b"))
    assert caught.value.model == "coder"


async def test_create_ends_only_after_success(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    api.post("/api/create").respond(200, content=ndjson({"status": "writing manifest"}))
    with pytest.raises(ProtocolError) as caught:
        await collect(client.create("coder", from_="llama3"))
    assert caught.value.transient


BASE_PULL = (
    {"status": "pulling manifest"},
    {
        "status": "pulling 6a0746a1ec1a",
        "digest": "sha256:" + "6a" * 32,
        "total": 10,
        "completed": 10,
    },
    {"status": "verifying sha256 digest"},
    {"status": "writing manifest"},
    {"status": "success"},
)


async def test_a_create_cut_after_its_base_pull_said_success_is_not_done(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    # The server passes the base pull's own `success` on before the create's layers.
    api.post("/api/create").respond(200, content=ndjson(*BASE_PULL))
    with pytest.raises(ProtocolError, match="after the base model's pull") as caught:
        await collect(client.create("coder", from_="llama3"))
    assert caught.value.transient


async def test_a_create_that_pulls_its_base_first_ends_with_its_own_success(
    client: OllamaClient, api: respx.MockRouter, ndjson: Callable[..., bytes]
) -> None:
    own = ({"status": "using existing layer sha256:" + "ab" * 32},
           {"status": "writing manifest"}, {"status": "success"})  # fmt: skip
    api.post("/api/create").respond(200, content=ndjson(*BASE_PULL, *own))
    progress = await collect(client.create("coder", from_="llama3"))
    assert [p.status for p in progress][-2:] == ["writing manifest", "success"]
