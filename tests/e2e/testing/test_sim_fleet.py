"""`SimFleet` over real loopback sockets: restarts on one port, TLS, timing, dropped streams."""

from __future__ import annotations

import json
import socket
import ssl
import time
from dataclasses import replace

import httpx
import pytest
import trustme

from reconciler.testing import CATALOG, SimFleet, SimInstanceConfig, SimulatorError


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_stop_and_start_keep_port_and_models_but_not_runners():
    config = SimInstanceConfig("a", models=("tinyllama",), loaded=("tinyllama",))
    async with SimFleet([config]) as fleet, httpx.AsyncClient() as client:
        url = fleet.url("a")
        assert (await client.get(f"{url}/api/ps")).json()["models"]
        await fleet.stop("a")
        assert not fleet.is_running("a")
        with pytest.raises(httpx.ConnectError):
            await client.get(f"{url}/api/tags")
        await fleet.start("a")
        assert fleet.url("a") == url
        assert (await client.get(f"{url}/api/tags")).json()["models"][0][
            "name"
        ] == "tinyllama:latest"
        assert (await client.get(f"{url}/api/ps")).json() == {"models": []}


def free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            try:
                second.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two adjacent free ports")


async def test_base_port_and_busy_port():
    port = free_port_pair()
    configs = [SimInstanceConfig("a"), SimInstanceConfig("b")]
    async with SimFleet(configs, base_port=port) as fleet:
        assert (fleet.port("a"), fleet.port("b")) == (port, port + 1)
        with pytest.raises(SimulatorError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with SimFleet([SimInstanceConfig("c")], base_port=port):
                pass


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="unique"):
        SimFleet([SimInstanceConfig("a"), SimInstanceConfig("a")])


async def test_tls_needs_the_fleet_ca():
    async with SimFleet([SimInstanceConfig("s", tls=True)]) as fleet:
        assert fleet.ca_file is not None
        good = ssl.create_default_context(cafile=str(fleet.ca_file))
        other = ssl.create_default_context()
        trustme.CA().configure_trust(other)
        async with httpx.AsyncClient(verify=good) as client:
            assert (await client.get(fleet.url("s") + "/api/version")).json() == {
                "version": "0.12.6"
            }
        async with httpx.AsyncClient(verify=other) as client:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(fleet.url("s") + "/api/version")


async def test_no_tls_means_no_ca_file():
    async with SimFleet([SimInstanceConfig("p")]) as fleet:
        assert fleet.ca_file is None
        assert fleet.url("p").startswith("http://127.0.0.1:")


async def test_time_to_first_token_and_token_rate_over_a_socket():
    config = SimInstanceConfig(
        "t",
        models=("llama3.2:3b",),
        loaded=("llama3.2:3b",),
        token_rate=100.0,
        first_token_delay=0.3,
    )
    body = {"model": "llama3.2:3b", "messages": [{"role": "user", "content": "Tell me something."}]}
    async with SimFleet([config]) as fleet, httpx.AsyncClient(timeout=10) as client:
        began = time.monotonic()
        stamps: list[float] = []
        final: dict[str, int] = {}
        async with client.stream("POST", fleet.url("t") + "/api/chat", json=body) as reply:
            async for line in reply.aiter_lines():
                stamps.append(time.monotonic())
                final = json.loads(line)
    first_token = stamps[0] - began
    measured_rate = (len(stamps) - 2) / (stamps[-2] - stamps[0])
    assert first_token == pytest.approx(0.3, rel=0.1)
    assert measured_rate == pytest.approx(100.0, rel=0.1)
    assert final["eval_count"] / final["eval_duration"] * 1e9 == pytest.approx(100.0, rel=0.01)


async def test_dropped_pull_breaks_the_connection_and_a_repull_resumes():
    config = SimInstanceConfig("d", pull_speed=50_000_000)
    async with SimFleet([config]) as fleet, httpx.AsyncClient(timeout=10) as client:
        server = fleet["d"]
        server.registry.add(
            "small:1", replace(CATALOG["tinyllama:latest"], weights_seed="s", weights_size=10**7)
        )
        server.faults.drop_pull_after(4_000_000)
        received: list[dict[str, object]] = []

        async def read_pull() -> None:
            pull = {"model": "small:1"}
            async with client.stream("POST", fleet.url("d") + "/api/pull", json=pull) as reply:
                assert reply.status_code == 200
                async for line in reply.aiter_lines():
                    received.append(json.loads(line))

        with pytest.raises(httpx.RemoteProtocolError):
            await read_pull()
        assert received[0] == {"status": "pulling manifest"}
        assert all("error" not in line for line in received)
        resumed = await client.post(fleet.url("d") + "/api/pull", json={"model": "small:1"})
        first = [json.loads(line) for line in resumed.text.splitlines()][1]
        assert first["completed"] >= 4_000_000
        assert resumed.text.endswith('{"status":"success"}\n')


async def test_cancelled_client_is_released_from_a_stall_over_a_socket():
    async with (
        SimFleet([SimInstanceConfig("s")]) as fleet,
        httpx.AsyncClient(timeout=0.2) as client,
    ):
        fleet["s"].faults.stall_next(1, 30)
        began = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            await client.get(fleet.url("s") + "/api/tags")
        assert time.monotonic() - began < 1
        assert (await client.get(fleet.url("s") + "/api/tags")).status_code == 200


async def test_prefix_and_custom_endpoints_over_a_socket():
    config = SimInstanceConfig(
        "c",
        models=("tinyllama",),
        path_prefix="/ollama",
        endpoints={"listModels": "/api/ollama/models"},
    )
    async with SimFleet([config]) as fleet, httpx.AsyncClient() as client:
        assert fleet.url("c").endswith("/ollama")
        listed = await client.get(fleet.url("c") + "/api/ollama/models")
        assert listed.json()["models"][0]["name"] == "tinyllama:latest"
