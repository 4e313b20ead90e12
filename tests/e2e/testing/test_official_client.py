"""The official `ollama` Python client against the simulator over real loopback sockets.

The official client was not written by us: if it works against the simulator, the simulator speaks
the real protocol (shapes it validates with pydantic, NDJSON streaming, status codes).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import ollama
import pytest

from reconciler.testing import SimFleet, SimInstanceConfig

FAST = {"token_rate": 2000.0, "first_token_delay": 0.001}
UNLOAD_DELAY = 0.1


@pytest.fixture
async def fleet() -> AsyncIterator[SimFleet]:
    configs = [
        SimInstanceConfig(
            "plain",
            models=("llama3.2:3b", "nomic-embed-text", "qwen2.5-coder:1.5b"),
            loaded=("llama3.2:3b",),
            path_prefix="/ollama",
            unload_delay=UNLOAD_DELAY,
            **FAST,
        ),
        SimInstanceConfig("locked", models=("tinyllama",), token="T0ken", **FAST),
        SimInstanceConfig("secure", models=("tinyllama",), tls=True, **FAST),
    ]
    async with SimFleet(configs) as running:
        yield running


@pytest.fixture
def client(fleet: SimFleet) -> ollama.AsyncClient:
    return ollama.AsyncClient(host=fleet.url("plain"))


async def test_list_show_ps(client):
    listed = await client.list()
    names = [m.model for m in listed.models]
    assert names == ["qwen2.5-coder:1.5b", "nomic-embed-text:latest", "llama3.2:3b"]
    assert listed.models[2].details.parameter_size == "3.2B"
    assert len(listed.models[2].digest) == 64
    shown = await client.show("llama3.2:3b")
    assert shown.capabilities == ["completion", "tools"]
    assert shown.modelinfo["llama.context_length"] == 131072
    assert shown.modified_at is not None
    running = await client.ps()
    assert [m.model for m in running.models] == ["llama3.2:3b"]
    assert running.models[0].expires_at.year >= 2318
    assert running.models[0].context_length == 4096


async def test_pull_streamed_and_not(client):
    statuses = [part.status async for part in await client.pull("tinyllama", stream=True)]
    assert statuses[0] == "pulling manifest"
    assert statuses[-1] == "success"
    again = await client.pull("gemma2:2b")
    assert again.status == "success"
    assert {"tinyllama:latest", "gemma2:2b"} <= {m.model for m in (await client.list()).models}


async def test_delete_copy_create(client):
    assert (await client.copy("llama3.2:3b", "backup")).status == "success"
    assert (await client.delete("backup")).status == "success"
    created = await client.create(
        model="reviewer",
        from_="qwen2.5-coder:1.5b",
        system="You are a careful code reviewer.",
        parameters={"num_ctx": 8192, "temperature": 0.2},
    )
    assert created.status == "success"
    shown = await client.show("reviewer")
    assert 'SYSTEM """You are a careful code reviewer."""' in (shown.modelfile or "")
    assert (
        shown.parameters
        == "num_ctx                        8192\ntemperature                    0.2"
    )
    streamed = [
        p.status async for p in await client.create(model="r2", from_="tinyllama", stream=True)
    ]
    assert streamed[0] == "pulling manifest"
    assert streamed[-1] == "success"


async def test_chat_streamed_generate_and_embed(client):
    parts = [
        part
        async for part in await client.chat(
            model="llama3.2:3b",
            messages=[{"role": "user", "content": "Reply with the single word OK."}],
            stream=True,
        )
    ]
    assert "".join(p.message.content or "" for p in parts) == "OK"
    assert parts[-1].done is True
    assert parts[-1].eval_count == 1
    generated = await client.generate(model="llama3.2:3b", prompt="Say hello")
    assert generated.response == "hello"
    assert generated.done_reason == "stop"
    embedded = await client.embed(model="nomic-embed-text", input=["a", "b"])
    assert [len(v) for v in embedded.embeddings] == [768, 768]


async def test_preload_and_unload_through_the_client(client):
    loaded = await client.generate(model="qwen2.5-coder:1.5b", keep_alive=-1)
    assert loaded.done_reason == "load"
    unloaded = await client.chat(model="qwen2.5-coder:1.5b", messages=[], keep_alive=0)
    assert unloaded.done_reason == "unload"
    # Unloading is asynchronous: ps lists the runner, expiring now, for the unload delay.
    leaving = (await client.ps()).models
    assert [m.model for m in leaving] == ["llama3.2:3b", "qwen2.5-coder:1.5b"]
    expires = leaving[1].expires_at
    assert expires is not None and expires <= datetime.now(UTC)
    await asyncio.sleep(UNLOAD_DELAY * 1.5)
    assert [m.model for m in (await client.ps()).models] == ["llama3.2:3b"]


async def test_errors_raise_response_error_with_real_status(client):
    cases = [
        (client.show("nope"), 404, "model 'nope' not found"),
        (client.pull("no-such-model"), 500, "pull model manifest: file does not exist"),
        (client.delete("nope"), 404, "model 'nope' not found"),
        (client.copy("nope", "x"), 404, 'model "nope" not found'),
        (
            client.generate(model="nomic-embed-text", prompt="x"),
            400,
            '"nomic-embed-text" does not support generate',
        ),
        (
            client.chat(model="nomic-embed-text", messages=[{"role": "user", "content": "x"}]),
            400,
            '"nomic-embed-text" does not support chat',
        ),
        (
            client.generate(model="llama3.2:3b", keep_alive="300"),
            400,
            'time: missing unit in duration "300"',
        ),
        (client.create(model="x"), 400, "neither 'from' or 'files' was specified"),
    ]
    for call, status, message in cases:
        with pytest.raises(ollama.ResponseError) as caught:
            await call
        assert (caught.value.status_code, caught.value.error) == (status, message)


async def test_error_inside_a_stream_has_status_minus_one(client):
    with pytest.raises(ollama.ResponseError) as caught:
        async for _ in await client.pull("no-such-model", stream=True):
            pass
    assert caught.value.status_code == -1
    assert caught.value.error == "pull model manifest: file does not exist"
    assert str(caught.value) == "pull model manifest: file does not exist (status code: -1)"


async def test_bearer_token_instance(fleet):
    anonymous = ollama.AsyncClient(host=fleet.url("locked"))
    with pytest.raises(ollama.ResponseError) as caught:
        await anonymous.list()
    assert (caught.value.status_code, caught.value.error) == (401, "unauthorized")
    authorised = ollama.AsyncClient(
        host=fleet.url("locked"), headers={"Authorization": "Bearer T0ken"}
    )
    assert [m.model for m in (await authorised.list()).models] == ["tinyllama:latest"]


async def test_tls_instance_with_the_fleet_ca(fleet):
    assert fleet.url("secure").startswith("https://")
    assert fleet.ca_file is not None
    trusted = ollama.AsyncClient(
        host=fleet.url("secure"), verify=ssl.create_default_context(cafile=str(fleet.ca_file))
    )
    reply = await trusted.chat(
        model="tinyllama", messages=[{"role": "user", "content": "Reply with the single word OK."}]
    )
    assert reply.message.content == "OK"
    untrusted = ollama.AsyncClient(host=fleet.url("secure"))
    with pytest.raises(ConnectionError) as caught:
        await untrusted.list()
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value.__context__)


async def test_sync_client_works_too(fleet):
    def use_sync_client() -> list[str]:
        with ollama.Client(host=fleet.url("plain")) as sync:
            return [m.model or "" for m in sync.list().models]

    assert "llama3.2:3b" in await asyncio.to_thread(use_sync_client)


async def test_stopped_instance_is_a_connection_error(fleet):
    client = ollama.AsyncClient(host=fleet.url("locked"), headers={"Authorization": "Bearer T0ken"})
    await fleet.stop("locked")
    with pytest.raises(ConnectionError):
        await client.list()
    await fleet.start("locked")
    assert (await client.list()).models
