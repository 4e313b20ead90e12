"""Servers and proxies that bend the protocol: no digests, mixed versions, odd names, a health
endpoint of their own. Each is observed for what it is, and no instance's answer leaks into
another's."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.observed import Health
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.probe import Observer
from reconciler.state import StateDir

LLAMA = {"capabilities": ["completion", "tools"], "model_info": {"general.architecture": "llama",
         "llama.context_length": 131072}}  # fmt: skip
EMBED = {"capabilities": ["embedding"], "model_info": {"general.architecture": "nomic-bert",
         "nomic-bert.context_length": 2048}}  # fmt: skip


def server(
    version: str, tags: list[dict[str, Any]], shows: dict[str, dict[str, Any]]
) -> Callable[[httpx.Request], httpx.Response]:
    """A tiny fake Ollama behind a proxy: version, tags, ps and show, nothing else."""

    def handle(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/api/version":
            return httpx.Response(200, json={"version": version})
        if path == "/api/tags":
            return httpx.Response(200, json={"models": tags})
        if path == "/api/ps":
            return httpx.Response(200, json={"models": []})
        if path == "/api/show":
            name = json.loads(request.content)["model"]
            return httpx.Response(200, json={"modelfile": "", **shows[name]})
        return httpx.Response(404, text="404 page not found")

    return handle


def tag(name: str, digest: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "model": name, "size": 1, "details": {}}
    if digest is not None:
        entry["digest"] = digest
    return entry


def fleet(*names: str) -> DesiredFleet:
    return DesiredFleet(
        instances=tuple(DesiredInstance(name=n, url=f"http://{n}.test") for n in names)
    )


def observer(handlers: dict[str, Callable[..., httpx.Response]], state: StateDir | None = None):
    def factory(config: ClientConfig) -> OllamaClient:
        return OllamaClient(config, transport=httpx.MockTransport(handlers[config.instance]))

    return Observer(state, factory, env={})


async def test_models_without_digests_do_not_share_a_show_reply(tmp_path: Path) -> None:
    tags = [tag("llama3.2:latest", None), tag("nomic-embed-text:latest", None)]
    shows = {"llama3.2:latest": LLAMA, "nomic-embed-text:latest": EMBED}
    with StateDir(tmp_path) as state:
        seen = await observer({"p": server("0.12.6", tags, shows)}, state).fleet(fleet("p"))
        models = {m.name.display: m for m in seen.instances["p"].models}
        assert models["llama3.2:latest"].capabilities == ("completion", "tools")
        assert models["nomic-embed-text:latest"].capabilities == ("embedding",)
        assert models["nomic-embed-text:latest"].context_length == 2048
        assert state.cached_shows(["@0.12.6", ""]) == {}


async def test_one_digest_on_two_server_versions_keeps_each_servers_answer() -> None:
    digest = "ab" * 32
    old = server("0.6.0", [tag("llama3.2:latest", digest)], {"llama3.2:latest": {
        "model_info": LLAMA["model_info"]}})  # fmt: skip
    new = server("0.33.0", [tag("llama3.2:latest", digest)], {"llama3.2:latest": LLAMA})
    seen = await observer({"old": old, "new": new}).fleet(fleet("old", "new"))
    (on_old,) = seen.instances["old"].models
    (on_new,) = seen.instances["new"].models
    assert on_old.capabilities == ()
    assert on_new.capabilities == ("completion", "tools")


async def test_a_name_orc_cannot_parse_degrades_only_its_instance() -> None:
    odd = server("0.12.6", [tag("my.team/m:latest", "cd" * 32), tag("llama3.2:latest", "ab" * 32)],
                 {"llama3.2:latest": LLAMA})  # fmt: skip
    fine = server("0.12.6", [tag("llama3.2:latest", "ab" * 32)], {"llama3.2:latest": LLAMA})
    seen = await observer({"odd": odd, "fine": fine}).fleet(fleet("odd", "fine"))
    assert seen.instances["fine"].health is Health.HEALTHY
    assert seen.instances["odd"].health is Health.DEGRADED
    assert "my.team/m:latest" in seen.instances["odd"].message
    assert [m.name.display for m in seen.instances["odd"].models] == ["llama3.2:latest"]


async def test_an_explicit_health_endpoint_is_probed_and_must_answer(world) -> None:
    server_ = world.instance(
        "gw", models=["llama3.2:3b"], endpoints={"health": "/hc"}, spec="endpoints: {health: /hc}"
    )

    seen = await world.observe()
    assert seen.instances["gw"].health is Health.HEALTHY
    assert ("GET", "/hc") in world.requests("gw")

    server_.faults.fail_next(1, status=502, message="bad gateway", path="/hc")
    seen = await world.observe()
    assert seen.instances["gw"].health is Health.UNREACHABLE
    assert "health" in seen.instances["gw"].message
