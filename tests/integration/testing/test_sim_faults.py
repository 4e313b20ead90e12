"""Faults injected into the simulator: failures, garbage, stalls, Host-guard 403, dropped pulls."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from reconciler.testing import SimulatedConnectionDrop


async def test_fail_next_fails_exactly_n_requests(sim):
    server, client = sim
    server.faults.fail_next(
        2, status=503, message="server busy, please try again.  maximum pending requests exceeded"
    )
    first = await client.get("/api/tags")
    second = await client.post("/api/show", json={"model": "llama3.2:3b"})
    third = await client.get("/api/tags")
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json() == {
        "error": "server busy, please try again.  maximum pending requests exceeded"
    }
    assert server.faults.queue == []


async def test_fail_next_can_target_one_path(make_sim):
    server, client = make_sim(models=("tinyllama",), path_prefix="/ollama")
    server.faults.fail_next(1, path="/ollama/api/pull")
    tags = await client.get("/ollama/api/tags")
    pull = await client.post("/ollama/api/pull", json={"model": "tinyllama"})
    again = await client.post("/ollama/api/pull", json={"model": "tinyllama", "stream": False})
    assert tags.status_code == 200
    assert (pull.status_code, pull.json()) == (500, {"error": "boom"})
    assert again.status_code == 200


async def test_malformed_next_answers_200_with_a_non_json_body(sim):
    server, client = sim
    server.faults.malformed_next(1)
    reply = await client.get("/api/tags")
    assert reply.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.text)
    assert (await client.get("/api/tags")).json()["models"]


async def test_empty_403_next_mimics_the_host_guard(sim):
    server, client = sim
    server.faults.empty_403_next(1)
    reply = await client.get("/api/version")
    assert (reply.status_code, reply.content) == (403, b"")
    assert (await client.get("/api/version")).status_code == 200


async def test_stall_next_delays_then_answers(sim):
    server, client = sim
    server.faults.stall_next(1, 0.2)
    began = time.monotonic()
    stalled = await client.get("/api/tags")
    middle = time.monotonic()
    await client.get("/api/tags")
    assert stalled.status_code == 200
    assert middle - began >= 0.2
    assert time.monotonic() - middle < 0.1


async def test_cancelled_client_is_released_from_a_stall(sim):
    server, client = sim
    server.faults.stall_next(1, 30)
    began = time.monotonic()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(client.get("/api/tags"), timeout=0.1)
    assert time.monotonic() - began < 1


async def test_stall_and_failure_combine(sim):
    server, client = sim
    server.faults.stall_next(1, 0.1)
    server.faults.fail_next(1, status=502, message="bad gateway")
    began = time.monotonic()
    reply = await client.get("/api/ps")
    assert reply.status_code == 502
    assert time.monotonic() - began >= 0.1


async def test_drop_pull_applies_to_the_next_pull_only(make_sim, lines):
    server, client = make_sim()
    server.faults.drop_pull_after(0)
    assert (await client.get("/api/tags")).status_code == 200
    with pytest.raises(SimulatedConnectionDrop):
        await client.post("/api/pull", json={"model": "tinyllama"})
    assert lines(await client.post("/api/pull", json={"model": "tinyllama"}))[-1] == {
        "status": "success"
    }


def test_fault_needs_at_least_one_request(sim):
    server, _ = sim
    with pytest.raises(ValueError, match="at least one request"):
        server.faults.fail_next(0)
