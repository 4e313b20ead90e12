"""Every probe round is recorded in the history, once, by the observe step of the pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.reconcile import Reconciler
from reconciler.state import FigureFeed, StateDir


async def test_a_probe_round_is_recorded_with_health_latency_version_and_reason(
    world: Any, tmp_path: Path, closed_port: int
) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    world.instance("down", url=f"http://127.0.0.1:{closed_port}", sim=False)
    with StateDir(tmp_path / "state") as state:
        await world.observe(state)
        found, total = state.probe_history(0)
    assert total == 2
    by_name = {p.instance: p for p in found}
    up, down = by_name["gpu-1"], by_name["down"]
    assert (up.up, up.health, up.reason, up.message) == (True, "Healthy", None, None)
    assert up.latency_ms is not None and up.version
    assert (down.up, down.health, down.reason) == (False, "Unreachable", "Unreachable")
    assert down.message and "connection refused" in down.message


async def test_plan_records_its_probes_and_figures_follow(world: Any, tmp_path: Path) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    desired = world.desired()
    with StateDir(tmp_path / "state") as state:
        reconciler = Reconciler(state=state, client_factory=world.client, env={})
        await reconciler.plan(desired)
        await reconciler.observe(desired)
        figures = state.figures(FigureFeed(), datetime.now(UTC))
    assert figures is not None
    assert figures.of("gpu-1").probes == 2 and figures.of("gpu-1").uptime == 1.0


async def test_history_can_be_turned_off(world: Any, tmp_path: Path) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    with StateDir(tmp_path / "state") as state:
        reconciler = Reconciler(state=state, client_factory=world.client, env={}, history=False)
        await reconciler.observe(world.desired())
        assert state.probe_history(0) == ([], 0)
