"""`POST /api/pull` on the simulator: status sequence, errors, speed, sharing, resume."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace

import pytest

from reconciler.testing import CATALOG, SimulatedConnectionDrop


def small_model(size: int = 4_000_000, seed: str = "small"):
    """A tiny model, so timed pulls take a fraction of a second."""
    return replace(CATALOG["tinyllama:latest"], weights_seed=seed, weights_size=size)


async def test_pull_streams_the_real_status_sequence(make_sim, lines):
    server, client = make_sim()
    events = lines(await client.post("/api/pull", json={"model": "llama3.2"}))
    statuses = [e["status"] for e in events]
    spec = CATALOG["llama3.2:latest"]
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    pulled = [
        e
        for e in events
        if e["status"].startswith("pulling ") and e["status"] != "pulling manifest"
    ]
    assert {e["digest"] for e in pulled} == {blob.prefixed for blob in spec.blobs}
    for event in pulled:
        assert event["status"] == f"pulling {event['digest'][7:19]}"
        assert event["digest"].startswith("sha256:")
        assert "completed" not in event or event["completed"] > 0
    assert "removing unused layers" not in statuses
    assert server.state.models["llama3.2:latest"].digest == spec.digest


async def test_pull_without_stream_returns_success_object(make_sim):
    server, client = make_sim()
    reply = await client.post("/api/pull", json={"model": "tinyllama", "stream": False})
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json() == {"status": "success"}
    assert "tinyllama:latest" in server.state.models


async def test_pull_of_unknown_model_streams_error_after_manifest_line(make_sim, lines):
    _, client = make_sim()
    reply = await client.post("/api/pull", json={"model": "no-such-model"})
    assert reply.status_code == 200
    assert lines(reply) == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]


async def test_pull_of_unknown_model_without_stream_is_500(make_sim):
    _, client = make_sim()
    reply = await client.post("/api/pull", json={"model": "no-such-model", "stream": False})
    assert (reply.status_code, reply.json()) == (
        500,
        {"error": "pull model manifest: file does not exist"},
    )


@pytest.mark.parametrize("model", ["", "Bad!", "a/b/c/d"])
async def test_pull_of_invalid_name_is_400(make_sim, model):
    _, client = make_sim()
    reply = await client.post("/api/pull", json={"model": model})
    assert (reply.status_code, reply.json()) == (400, {"error": "invalid model name"})


async def test_blob_on_disk_gives_one_complete_line(make_sim, lines):
    _, client = make_sim(models=("llama3.2:3b",))
    events = lines(await client.post("/api/pull", json={"model": "llama3.2:latest"}))
    weights = CATALOG["llama3.2:3b"].layers[0]
    mine = [e for e in events if e.get("digest") == weights.prefixed]
    assert mine == [
        {
            "status": f"pulling {weights.digest[:12]}",
            "digest": weights.prefixed,
            "total": weights.size,
            "completed": weights.size,
        }
    ]


async def test_repull_of_current_model_rewrites_manifest(make_sim, lines):
    server, client = make_sim(models=("tinyllama",))
    before = server.state.models["tinyllama:latest"].modified_ns
    events = lines(await client.post("/api/pull", json={"model": "tinyllama"}))
    assert "removing unused layers" not in [e["status"] for e in events]
    assert server.state.models["tinyllama:latest"].modified_ns > before


async def test_repull_after_registry_update_removes_unused_layers(make_sim, lines):
    server, client = make_sim(models=("tinyllama",))
    old = CATALOG["tinyllama:latest"]
    newer = server.registry.bump("tinyllama")
    events = lines(await client.post("/api/pull", json={"model": "tinyllama"}))
    statuses = [e["status"] for e in events]
    assert statuses[-2:] == ["removing unused layers", "success"]
    assert statuses.index("writing manifest") < statuses.index("removing unused layers")
    assert server.state.models["tinyllama:latest"].digest == newer.digest != old.digest
    assert not server.state.has_blob(old.layers[0])


async def test_pull_speed_sets_duration_and_progress_grows(make_sim, lines):
    server, client = make_sim(pull_speed=20_000_000)
    server.registry.add("small:1", small_model(4_000_000))
    began = time.monotonic()
    events = lines(await client.post("/api/pull", json={"model": "small:1"}))
    elapsed = time.monotonic() - began
    weights = [e for e in events if e.get("total") == 4_000_000]
    done = [e.get("completed", 0) for e in weights]
    assert 0.18 <= elapsed < 0.6
    assert done == sorted(done)
    assert done[-1] == 4_000_000
    assert len(weights) >= 3


async def test_concurrent_pulls_share_one_download(make_sim, lines):
    server, client = make_sim(pull_speed=20_000_000)
    server.registry.add("small:1", small_model(6_000_000))
    first = asyncio.create_task(client.post("/api/pull", json={"model": "small:1"}))
    await asyncio.sleep(0.15)
    began = time.monotonic()
    second = await client.post("/api/pull", json={"model": "small:1"})
    joined_after = time.monotonic() - began
    await first
    weights = [e for e in lines(second) if e.get("total") == 6_000_000]
    assert weights[0].get("completed", 0) > 1_000_000
    assert joined_after < 0.25
    assert server.ctx.downloads.active == {}


async def test_dropped_pull_aborts_stream_and_repull_resumes(make_sim, lines):
    server, client = make_sim(pull_speed=40_000_000)
    server.registry.add("small:1", small_model(8_000_000))
    server.faults.drop_pull_after(3_000_000)
    with pytest.raises(SimulatedConnectionDrop):
        await client.post("/api/pull", json={"model": "small:1"})
    weights = small_model(8_000_000).layers[0]
    partial = server.state.blobs[weights.digest]
    assert 3_000_000 <= partial < 8_000_000
    assert "small:1" not in server.state.models
    events = lines(await client.post("/api/pull", json={"model": "small:1"}))
    first_line = next(e for e in events if e.get("digest") == weights.prefixed)
    assert first_line["completed"] == partial
    assert events[-1] == {"status": "success"}


async def test_dropped_instant_pull_keeps_exactly_the_budget(make_sim):
    server, client = make_sim()
    server.faults.drop_pull_after(1000)
    with pytest.raises(SimulatedConnectionDrop):
        await client.post("/api/pull", json={"model": "tinyllama", "stream": False})
    assert server.state.blobs[CATALOG["tinyllama:latest"].layers[0].digest] == 1000
    assert (
        await client.post("/api/pull", json={"model": "tinyllama", "stream": False})
    ).status_code == 200


async def test_removed_registry_entry_cannot_be_pulled(make_sim):
    server, client = make_sim()
    server.registry.remove("tinyllama")
    reply = await client.post("/api/pull", json={"model": "tinyllama", "stream": False})
    assert reply.status_code == 500
