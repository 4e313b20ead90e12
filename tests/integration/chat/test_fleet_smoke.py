"""Smoke tests of a whole fleet in process: each check on its own instance, judged and explained."""

from __future__ import annotations

from reconciler.chat import Fleet, Verdict, plan_checks, run_checks

from .conftest import Sim


async def test_every_check_gets_a_verdict_with_its_reason(fleet: Fleet, sim: Sim) -> None:
    sim.down.add("gpu-a")
    checks = plan_checks(fleet.instances, every_model=True)
    results = await run_checks(fleet, checks, parallelism=2)
    table = [(r.check.instance, r.check.name, r.verdict) for r in results]
    assert table == [
        ("gpu-a", "smoke 1: llama3.2:3b", Verdict.FAIL),
        ("emb", "chat: nomic-embed-text:latest", Verdict.SKIP),
        ("gpu-b", "smoke 1: llama3.2:3b", Verdict.PASS),
        ("gpu-b", "chat: nomic-embed-text:latest", Verdict.SKIP),
        ("off", "smoke 1: llama3.2:3b", Verdict.SKIP),
    ]
    details = [r.detail for r in results]
    assert details[0].startswith("unreachable: ")
    assert "embedding model" in details[1] and "embedding model" in details[3]
    assert details[2] == "'OK'"
    assert details[4] == "the instance is disabled"
    assert sim.chats("off") == 0 and sim.chats("emb") == 0


async def test_a_smoke_check_never_fails_over(fleet: Fleet, sim: Sim) -> None:
    sim.servers["gpu-a"].faults.fail_next(status=503, message="server busy", path="/api/chat")
    checks = [c for c in plan_checks(fleet.instances, every_model=False) if c.instance == "gpu-a"]
    (result,) = await run_checks(fleet, checks, parallelism=1)
    assert result.verdict is Verdict.FAIL
    assert "busy" in result.detail
    assert sim.chats("gpu-b") == 0


async def test_a_model_declared_but_not_installed_fails(fleet: Fleet, sim: Sim) -> None:
    sim.servers["gpu-a"].state.models.clear()
    checks = [c for c in plan_checks(fleet.instances, every_model=False) if c.instance == "gpu-a"]
    (result,) = await run_checks(fleet, checks, parallelism=1)
    assert (result.verdict, result.detail) == (Verdict.FAIL, "does not have llama3.2:3b")
