"""`Reconciler.plan` and `check_fresh` against simulated instances: what a selection probes, and
when a saved plan has gone stale."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.errors import RefusedError
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.reconcile import Reconciler, check_fresh
from reconciler.state import StateDir


@pytest.fixture
def fleet_world(world):  # type: ignore[no-untyped-def]
    """Three instances; gpu-1 lacks a declared model, the others are in sync."""
    world.instance(
        "gpu-1",
        models=("llama3.2:3b",),
        declared=("llama3.2:3b", "qwen2.5:7b"),
        labels={"tier": "gpu"},
    )
    world.instance("gpu-2", models=("llama3.2:3b",), labels={"tier": "gpu"})
    world.instance("cpu-1", models=("qwen2.5-coder:1.5b",), labels={"tier": "cpu"})
    return world


async def test_a_target_probes_only_that_instance(fleet_world, tmp_path: Path) -> None:
    with StateDir(tmp_path / "state") as state:
        reconciler = Reconciler(state=state, client_factory=fleet_world.client, env={})
        observed, made = await reconciler.plan(fleet_world.desired(), targets=["gpu-1"])
    assert list(observed.instances) == ["gpu-1"]
    assert [a.id for a in made.actions] == ["gpu-1/pull/qwen2.5:7b"]
    assert fleet_world.requests("gpu-2") == [] and fleet_world.requests("cpu-1") == []


async def test_a_selector_probes_only_matching_instances(fleet_world) -> None:
    reconciler = Reconciler(client_factory=fleet_world.client, env={})
    observed, made = await reconciler.plan(fleet_world.desired(), selector={"tier": "cpu"})
    assert list(observed.instances) == ["cpu-1"]
    assert not made.has_changes
    assert fleet_world.requests("gpu-1") == [] and fleet_world.requests("gpu-2") == []


async def test_a_saved_plan_is_fresh_until_an_inventory_changes(fleet_world) -> None:
    reconciler = Reconciler(client_factory=fleet_world.client, env={})
    desired = fleet_world.desired()
    _, saved = await reconciler.plan(desired)
    check_fresh(saved, desired, await reconciler.observe(desired))  # nothing changed: fine

    server = fleet_world.servers["gpu-1"]
    config = ClientConfig(instance="gpu-1", base_url="http://gpu-1.sim.test:11434")
    transport = httpx.ASGITransport(app=server.app)
    async with OllamaClient(config, transport=transport) as client:
        [p async for p in client.pull("gemma2:2b")]  # someone pulled by hand meanwhile
    with pytest.raises(RefusedError, match="instance gpu-1 has a different set of models now"):
        check_fresh(saved, desired, await reconciler.observe(desired))


async def test_a_saved_plan_is_stale_once_the_manifests_change(fleet_world) -> None:
    reconciler = Reconciler(client_factory=fleet_world.client, env={})
    _, saved = await reconciler.plan(fleet_world.desired())
    fleet_world.instance("gpu-2", models=("llama3.2:3b",), declared=("llama3.2:1b",))
    desired = fleet_world.desired()
    with pytest.raises(RefusedError, match="the manifests changed since it was made"):
        check_fresh(saved, desired, await reconciler.observe(desired))
