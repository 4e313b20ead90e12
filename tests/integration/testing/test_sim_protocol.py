"""The simulator's HTTP conventions: routing texts, body errors, prefix, custom paths, auth, log."""

from __future__ import annotations

import httpx
import pytest

from reconciler.testing import SimInstanceConfig, SimServer


async def test_root_says_ollama_is_running_and_head_has_no_body(sim):
    _, client = sim
    get = await client.get("/")
    head = await client.head("/")
    assert (get.status_code, get.text) == (200, "Ollama is running")
    assert get.headers["content-type"].startswith("text/plain")
    assert (head.status_code, head.content) == (200, b"")


async def test_version_reports_configured_version(make_sim):
    _, client = make_sim(version="0.33.0")
    reply = await client.get("/api/version")
    assert reply.json() == {"version": "0.33.0"}
    assert reply.text == '{"version":"0.33.0"}'


async def test_unknown_path_is_plain_text_404(sim):
    _, client = sim
    reply = await client.get("/api/nothing")
    assert (reply.status_code, reply.text) == (404, "404 page not found")
    assert reply.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/pull"), ("POST", "/api/tags"), ("POST", "/api/delete")]
)
async def test_known_path_wrong_method_is_plain_text_405(sim, method, path):
    _, client = sim
    reply = await client.request(method, path)
    assert (reply.status_code, reply.text) == (405, "405 method not allowed")


@pytest.mark.parametrize(
    "path", ["/api/show", "/api/pull", "/api/create", "/api/chat", "/api/generate", "/api/copy"]
)
async def test_empty_body_is_missing_request_body(sim, path):
    _, client = sim
    reply = await client.post(path, content=b"")
    assert reply.status_code == 400
    assert reply.json() == {"error": "missing request body"}


async def test_wrong_field_type_gets_go_decoder_message(sim):
    _, client = sim
    reply = await client.post("/api/pull", json={"model": 5})
    assert reply.status_code == 400
    expected = "json: cannot unmarshal number into Go struct field PullRequest.model of type string"
    assert reply.json() == {"error": expected}


async def test_non_object_body_and_broken_json_are_400(sim):
    _, client = sim
    array = await client.post("/api/show", content=b"[1]")
    broken = await client.post("/api/show", content=b'{"model": ')
    assert array.json() == {
        "error": "json: cannot unmarshal array into Go value of type api.ShowRequest"
    }
    assert (broken.status_code, broken.json()) == (400, {"error": "unexpected EOF"})


async def test_path_prefix_serves_routes_only_under_it(make_sim):
    server, client = make_sim(models=("tinyllama",), path_prefix="/ollama/")
    assert server.config.path_prefix == "/ollama"
    assert (await client.get("/ollama")).text == "Ollama is running"
    assert (await client.get("/ollama/api/tags")).json()["models"][0]["name"] == "tinyllama:latest"
    bare = await client.get("/api/tags")
    assert (bare.status_code, bare.text) == (404, "404 page not found")
    assert server.path("listModels") == "/ollama/api/tags"


async def test_custom_endpoints_are_served_besides_the_defaults(make_sim):
    endpoints = {"chat": "/api/v1/chat", "listModels": "/api/v1/models", "health": "/api/v1/health"}
    server, client = make_sim(models=("tinyllama",), endpoints=endpoints, path_prefix="/p")
    health = await client.get("/p/api/v1/health")
    listed = await client.get("/p/api/v1/models")
    chat = await client.post(
        "/p/api/v1/chat",
        json={
            "model": "tinyllama",
            "messages": [{"role": "user", "content": "Say hi"}],
            "stream": False,
        },
    )
    assert health.text == "Ollama is running"
    assert listed.json() == (await client.get("/p/api/tags")).json()
    assert chat.json()["message"]["content"] == "hi"
    wrong = await client.get("/p/api/v1/chat")
    assert wrong.status_code == 405
    assert server.path("chat") == "/p/api/v1/chat"
    assert server.state.endpoint_count("listModels") == 2


def test_unknown_endpoint_name_is_refused():
    with pytest.raises(ValueError, match="unknown endpoint 'listmodels'"):
        SimInstanceConfig(name="x", endpoints={"listmodels": "/m"})


async def test_token_is_required_on_every_path(make_sim):
    _, client = make_sim(models=("tinyllama",), token="s3cret")
    for path in ("/", "/api/tags", "/nothing"):
        reply = await client.get(path)
        assert (reply.status_code, reply.json()) == (401, {"error": "unauthorized"})
    wrong = await client.get("/api/tags", headers={"Authorization": "Bearer nope"})
    right = await client.get("/api/tags", headers={"Authorization": "Bearer s3cret"})
    assert wrong.status_code == 401
    assert right.status_code == 200


def test_token_never_appears_in_config_repr():
    config = SimInstanceConfig(name="x", token="s3cret-value")
    assert "s3cret-value" not in repr(config)


async def test_requests_are_logged_relative_to_the_prefix(make_sim):
    server, client = make_sim(path_prefix="/ollama")
    await client.get("/ollama/api/tags")
    await client.get("/ollama/api/tags")
    await client.post("/ollama/api/show", json={"model": "x"})
    assert server.state.requests == [
        ("GET", "/api/tags"),
        ("GET", "/api/tags"),
        ("POST", "/api/show"),
    ]
    assert server.state.count("/api/tags") == 2
    assert server.state.count("/api/ps") == 0


async def test_latency_is_added_to_every_request(make_sim):
    import time

    _, client = make_sim(latency=0.05)
    began = time.monotonic()
    await client.get("/api/version")
    assert time.monotonic() - began >= 0.05


async def test_unknown_initial_model_is_refused():
    with pytest.raises(ValueError, match="'no-such-model' is not in the registry"):
        SimServer(SimInstanceConfig(name="x", models=("no-such-model",)))


async def test_app_needs_no_lifespan():
    server = SimServer(SimInstanceConfig(name="x"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.app), base_url="http://h"
    ) as client:
        assert (await client.get("/api/tags")).json() == {"models": []}
