"""The check after an apply, against servers that unload asynchronously, keep a deleted model's
runner, and evict runners beyond their limit: in sync when the servers are, and a server that
cannot keep every keepLoaded model loaded reported Degraded instead of "not yet in sync"."""

from __future__ import annotations

from reconciler.observed import Health, ObservedFleet
from reconciler.plan import ActionKind
from reconciler.reconcile import Ending, ReconcileHooks, ReconcileRequest, run_reconcile

FIVE = ("smollm2:135m", "qwen2.5-coder:1.5b", "llama3.2:1b", "gemma2:2b", "llama3.2:3b")


def keep(*models: str) -> list[dict[str, object]]:
    return [{"name": m, "keepLoaded": True} for m in models]


async def run(rig, **hooks):  # type: ignore[no-untyped-def]
    reconciler = rig.reconciler()
    seen: list[ObservedFleet] = []
    request = ReconcileRequest(rig.desired())
    outcome = await run_reconcile(
        reconciler, request, ReconcileHooks(on_observed=seen.append, **hooks)
    )
    return reconciler, outcome, seen


async def test_deleting_a_loaded_model_verifies_in_sync_though_ps_still_lists_it(rig):
    ws = rig.declare(
        "ws",
        ["llama3.2:1b", {"name": "gemma2:2b", "state": "absent"}],
        installed=("llama3.2:1b", "gemma2:2b"),
        loaded=("gemma2:2b",),
    )
    _, outcome, _ = await run(rig)
    assert [a.id for a in outcome.plan.actions] == ["ws/delete/gemma2:2b"]
    assert "gemma2:2b" in ws.state.loaded, "Ollama's delete does not unload"
    assert outcome.verified is not None
    assert not outcome.verified.has_changes
    assert [ip.skipped for ip in outcome.verified.instances] == [()]


async def test_a_model_unloaded_moments_ago_counts_as_unloaded_and_verifies_in_sync(rig):
    ws = rig.declare(
        "ws",
        ["llama3.2:1b", "smollm2:135m"],
        installed=("llama3.2:1b",),
        loaded=("llama3.2:1b",),
        unload_delay=3600,  # ps keeps listing it for the whole test
    )
    model = ws.state.find("llama3.2:1b")
    assert model is not None
    ws.state.unload(model)
    _, outcome, seen = await run(rig)
    assert [a.id for a in outcome.plan.actions] == ["ws/pull/smollm2:135m"]
    assert outcome.verified is not None and not outcome.verified.has_changes
    after = seen[-1].instances["ws"]
    (llama,) = [m for m in after.models if m.name.display == "llama3.2:1b"]
    assert llama.loaded is False, "listed by ps while unloading, but on its way out"
    assert [r.model.name.display for r in ws.state.listed] == ["llama3.2:1b"]


async def test_a_keep_loaded_model_being_unloaded_is_loaded_again(rig):
    ws = rig.declare("ws", keep("llama3.2:1b"), installed=("llama3.2:1b",), loaded=("llama3.2:1b",))
    ws.state.unload(ws.state.find("llama3.2:1b"))  # type: ignore[arg-type]
    _, outcome, _ = await run(rig)
    assert [a.id for a in outcome.plan.actions] == ["ws/load/llama3.2:1b"]
    assert outcome.verified is not None and not outcome.verified.has_changes
    assert "llama3.2:1b" in ws.state.loaded


async def test_more_keep_loaded_models_than_the_server_holds_is_degraded_not_out_of_sync(rig):
    ws = rig.declare("ws", keep(*FIVE), installed=FIVE, max_loaded=3)
    reconciler, outcome, seen = await run(rig)
    assert outcome.ending is Ending.APPLIED
    assert [a.kind for a in outcome.plan.actions] == [ActionKind.LOAD] * 5
    assert len(ws.state.loaded) == 3 and len(ws.state.runners.evicted) == 2
    verified = outcome.verified
    assert verified is not None
    assert not verified.has_changes, "no load that would only evict another"
    (inst,) = verified.instances
    assert sorted(s.model.display for s in inst.skipped) == sorted(ws.state.runners.evicted)
    assert {s.reason for s in inst.skipped} == {
        "keepLoaded, but the server keeps at most 3 of 5 keepLoaded models loaded: "
        "loading it would evict another"
    }
    after = seen[-1].instances["ws"]
    assert (after.health, after.reason, after.message) == (
        Health.DEGRADED,
        "KeepLoadedEvicted",
        "keeps 3 of 5 keepLoaded models loaded",
    )
    assert outcome.exit_code == 0

    _, again = await reconciler.plan(rig.desired())
    assert not again.has_changes, "the next plan does not reload them either"


async def test_a_server_that_holds_every_keep_loaded_model_is_healthy(rig):
    rig.declare("ws", keep(*FIVE[:3]), installed=FIVE[:3], max_loaded=3)
    _, outcome, seen = await run(rig)
    assert outcome.verified is not None and not outcome.verified.has_changes
    assert seen[-1].instances["ws"].health is Health.HEALTHY


async def test_memory_that_holds_fewer_models_is_learned_the_same_way(rig):
    three = FIVE[:3]
    ws = rig.declare("ws", keep(*three), installed=three, max_loaded=10, memory=2_600_000_000)
    _, outcome, seen = await run(rig)
    held = len(ws.state.loaded)
    assert 0 < held < 3
    after = seen[-1].instances["ws"]
    assert after.message == f"keeps {held} of 3 keepLoaded models loaded"
    assert outcome.verified is not None and not outcome.verified.has_changes
