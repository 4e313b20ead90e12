"""Observing simulated instances: healthy, unreachable, wrong token, wrong CA, disabled, custom
endpoints, path prefix, missing secrets; each becomes a value and the others go on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import trustme

from reconciler.observed import Health, ObservedFleet
from reconciler.plan import plan
from reconciler.testing import SimFleet, SimInstanceConfig

TOKEN = "obs-SECRET-token-c41d"


def _plan(world, observed: ObservedFleet):  # type: ignore[no-untyped-def]
    return plan(world.desired(), observed, now=datetime(2026, 1, 1, tzinfo=UTC))


async def test_a_healthy_instance_reports_its_models_with_show_details(world) -> None:
    world.instance(
        "gpu-1",
        models=("llama3.2:3b", "nomic-embed-text"),
        loaded=("llama3.2:3b",),
        version="0.33.0",
    )
    observed = await world.observe()
    gpu = observed.instances["gpu-1"]
    assert (gpu.health, gpu.reason, gpu.message) == (Health.HEALTHY, "Reachable", "")
    assert gpu.version == "0.33.0"
    assert gpu.latency_ms is not None
    assert gpu.checked_at is not None
    by_name = {m.name.display: m for m in gpu.models}
    llama, embed = by_name["llama3.2:3b"], by_name["nomic-embed-text:latest"]
    assert (llama.family, llama.parameter_size, llama.quantization) == ("llama", "3.2B", "Q4_K_M")
    assert llama.context_length == 131072  # model_info["llama.context_length"]
    assert llama.capabilities == ("completion", "tools")
    assert llama.loaded and llama.loaded_until is not None
    assert (embed.context_length, embed.capabilities, embed.loaded) == (2048, ("embedding",), False)
    assert not _plan(world, observed).has_changes


async def test_an_unreachable_instance_is_a_value_and_the_others_go_on(
    world, closed_port: int
) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    url = f"http://127.0.0.1:{closed_port}"
    world.instance("down-1", models=("llama3.2:3b",), url=url, sim=False)
    observed = await world.observe()
    down = observed.instances["down-1"]
    assert (down.health, down.reason) == (Health.UNREACHABLE, "Unreachable")
    assert down.message.startswith(f"list models failed: cannot connect to {url}/api/tags")
    assert "connection refused" in down.message
    assert down.models == ()
    assert observed.instances["gpu-1"].health is Health.HEALTHY
    assert observed.health is Health.UNREACHABLE
    made = _plan(world, observed)
    blocked = {p.instance: p.blocked for p in made.blocked}
    assert list(blocked) == ["down-1"]
    assert blocked["down-1"] is not None
    assert blocked["down-1"].reason == "Unreachable"


async def test_a_wrong_token_is_unauthorized_and_never_shows_a_token(world) -> None:
    world.instance(
        "gw-1",
        models=("llama3.2:3b",),
        token=TOKEN,
        spec="auth: {bearerToken: {env: GW_TOKEN}}",
    )
    wrong = "obs-WRONG-token-99"
    observed = await world.observe(env={"GW_TOKEN": wrong})
    gw = observed.instances["gw-1"]
    assert (gw.health, gw.reason) == (Health.UNAUTHORIZED, "Unauthorized")
    assert "the server wants credentials (HTTP 401)" in gw.message
    assert "auth.bearerToken" in gw.message
    assert wrong not in repr(gw) and TOKEN not in repr(gw)
    assert _plan(world, observed).blocked[0].blocked.reason == "Unauthorized"  # type: ignore[union-attr]

    right = await world.observe(env={"GW_TOKEN": TOKEN})
    assert right.instances["gw-1"].health is Health.HEALTHY


async def test_a_ca_that_did_not_sign_the_certificate_is_a_tls_error(world, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    configs = [  # two servers, one CA: two instances must not share one server
        SimInstanceConfig(name=name, models=("llama3.2:3b",), tls=True)
        for name in ("tls-1", "good-1")
    ]
    async with SimFleet(configs, cert_dir=tmp_path / "certs") as fleet:
        url = fleet.url("tls-1")
        world.instance("tls-1", url=url, sim=False, spec=f"tls: {{caFile: {other}}}")
        good_spec = f"tls: {{caFile: {fleet.ca_file}}}"
        world.instance("good-1", url=fleet.url("good-1"), sim=False, spec=good_spec)
        observed = await world.observe()
    bad = observed.instances["tls-1"]
    assert (bad.health, bad.reason) == (Health.TLS_ERROR, "TLSError")
    assert bad.message.startswith(
        f"list models failed: the TLS certificate of {url}/api/tags is not trusted"
    )
    assert "tls.caFile" in bad.message
    good = observed.instances["good-1"]
    assert good.health is Health.HEALTHY
    assert [m.name.display for m in good.models] == ["llama3.2:3b"]


async def test_a_disabled_instance_is_observed_but_never_planned(world) -> None:
    world.instance(
        "old-1",
        models=("llama3.2:3b",),
        declared=("llama3.2:3b", "qwen2.5:7b"),
        spec="enabled: false",
    )
    observed = await world.observe()
    old = observed.instances["old-1"]
    assert (old.health, old.reason, old.enabled) == (Health.DISABLED, "Reachable", False)
    assert [m.name.display for m in old.models] == ["llama3.2:3b"]
    assert old.version == "0.12.6"
    made = _plan(world, observed)
    assert (made.has_changes, made.blocked, made.refused) == (False, (), False)


async def test_an_unreachable_disabled_instance_is_not_an_error(world, closed_port: int) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    url = f"http://127.0.0.1:{closed_port}"
    world.instance("spare-1", url=url, sim=False, spec="enabled: false")
    observed = await world.observe()
    spare = observed.instances["spare-1"]
    assert (spare.health, spare.reason) == (Health.DISABLED, "Unreachable")
    assert "cannot connect" in spare.message
    assert observed.health is Health.HEALTHY
    made = _plan(world, observed)
    assert (made.has_changes, made.blocked) == (False, ())
    assert made.summary() == "No changes. The fleet matches the manifests."


async def test_custom_endpoints_are_used_for_every_probe(world) -> None:
    paths = {
        "health": "/gw/health",
        "version": "/gw/version",
        "listModels": "/gw/models",
        "show": "/gw/show",
        "ps": "/gw/ps",
    }
    endpoints = "".join(f"\n  {name}: {path}" for name, path in paths.items())
    world.instance("gw-1", models=("llama3.2:3b",), endpoints=paths, spec=f"endpoints:{endpoints}")
    observed = await world.observe()
    gw = observed.instances["gw-1"]
    assert gw.health is Health.HEALTHY
    assert gw.models[0].context_length == 131072
    asked = {path for _, path in world.requests("gw-1")}
    assert asked <= set(paths.values())
    assert {"/gw/version", "/gw/models", "/gw/ps", "/gw/show"} <= asked


async def test_custom_endpoints_the_server_lacks_are_named_in_the_message(world) -> None:
    world.instance("gw-1", models=("llama3.2:3b",), spec="endpoints: {listModels: /gw/models}")
    gw = (await world.observe()).instances["gw-1"]
    assert gw.health is Health.UNREACHABLE
    assert gw.reason == "RequestRejected"
    assert "GET http://gw-1.sim.test:11434/gw/models does not exist on the server" in gw.message
    assert "endpoints.listModels" in gw.message


async def test_a_path_prefix_in_the_url_reaches_the_server(world) -> None:
    world.instance("cloud-1", models=("mistral:7b",), path_prefix="/ollama")
    observed = await world.observe()
    cloud = observed.instances["cloud-1"]
    assert cloud.url == "http://cloud-1.sim.test:11434/ollama"
    assert cloud.health is Health.HEALTHY
    assert [m.name.display for m in cloud.models] == ["mistral:7b"]
    assert ("GET", "/api/tags") in world.requests("cloud-1")  # relative to the prefix


async def test_a_url_missing_the_path_prefix_points_at_the_prefix(world) -> None:
    world.instance(
        "cloud-1", models=("mistral:7b",), path_prefix="/ollama", url="http://cloud-1.sim.test"
    )
    cloud = (await world.observe()).instances["cloud-1"]
    assert cloud.health is Health.UNREACHABLE
    assert "does not exist on the server (HTTP 404)" in cloud.message
    assert "check the url, its path prefix" in cloud.message


async def test_a_missing_secret_variable_blocks_only_that_instance(world) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    world.instance(
        "gw-1",
        models=("llama3.2:3b",),
        token=TOKEN,
        spec="auth: {bearerToken: {env: ORC_TEST_UNSET_TOKEN}}",
    )
    observed = await world.observe(env={})
    gw = observed.instances["gw-1"]
    assert (gw.health, gw.reason) == (Health.UNKNOWN, "SecretMissing")
    assert "ORC_TEST_UNSET_TOKEN" in gw.message
    assert gw.message == (
        "environment variable ORC_TEST_UNSET_TOKEN is not set "
        "(export ORC_TEST_UNSET_TOKEN before running orc)"
    )
    assert world.requests("gw-1") == []  # nothing was sent without its credentials
    assert observed.instances["gpu-1"].health is Health.HEALTHY
    made = _plan(world, observed)
    assert [(p.instance, p.blocked.reason) for p in made.blocked if p.blocked] == [
        ("gw-1", "SecretMissing")
    ]


async def test_a_missing_secret_header_file_is_named(world, tmp_path: Path) -> None:
    missing = tmp_path / "manifests" / "no-such-key"
    world.instance(
        "gw-1", models=("llama3.2:3b",), spec="headers: {X-API-Key: {file: no-such-key}}"
    )
    gw = (await world.observe()).instances["gw-1"]
    assert (gw.health, gw.reason) == (Health.UNKNOWN, "SecretMissing")
    assert gw.message == f"secret file {missing} does not exist"


async def test_a_failing_ps_degrades_the_instance_but_keeps_its_inventory(world) -> None:
    server = world.instance("gpu-1", models=("llama3.2:3b",))
    server.faults.fail_next(status=500, path="/api/ps")
    gpu = (await world.observe()).instances["gpu-1"]
    assert (gpu.health, gpu.reason) == (Health.DEGRADED, "Reachable")
    assert gpu.message == "the running-models endpoint (ps) failed"
    assert [m.name.display for m in gpu.models] == ["llama3.2:3b"]


@pytest.mark.parametrize("status", [500, 503])
async def test_a_failing_model_list_is_reported_with_the_server_message(world, status: int) -> None:
    server = world.instance("gpu-1", models=("llama3.2:3b",))
    server.faults.fail_next(status=status, message="out of memory", path="/api/tags")
    gpu = (await world.observe()).instances["gpu-1"]
    assert gpu.health is Health.UNREACHABLE
    assert gpu.reason == ("ServerError" if status == 500 else "ServerBusy")
    assert gpu.message.startswith("list models failed: ")
    assert "server said: out of memory" in gpu.message
