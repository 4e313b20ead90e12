"""The watch loop driven by a scripted change source and a fake clock: when it reconciles, what
it applies, and what it refuses to do. Nothing waits in real time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from reconciler.errors import RefusedError
from reconciler.plan import ActionKind
from reconciler.watch import Mode, Result

LLAMA, CODER, EMBED = "llama3.2:3b", "qwen2.5-coder:7b", "nomic-embed-text:latest"


async def test_startup_reconciles_once_and_pulls_missing_models(bench):
    b = bench({"a": [LLAMA]}, interval=60)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    assert b.cycles == 1
    assert b.server("a").models == {LLAMA, CODER}
    assert b.record.last.result is Result.APPLIED
    assert b.record.last.trigger == "startup"
    ready = b.record.document["conditions"][0]
    assert (ready["type"], ready["status"], ready["reason"]) == ("Ready", "True", "Reconciled")


async def test_edits_within_the_debounce_are_coalesced_into_one_reconcile(bench):
    b = bench({"a": [LLAMA]}, interval=60, debounce=0.3)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(0.1)
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER, EMBED]))
    await b.clock.advance(0.1)
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER, EMBED, "gemma2:2b"]))
    await b.clock.advance(0.29)
    assert b.cycles == 1, "no reconcile while the files are still being edited"
    await b.clock.advance(0.02)
    assert b.cycles == 2
    assert b.record.last.trigger == "manifest-change"
    [applied] = b.reconciler.applied  # one plan, with the three edits in it
    assert applied.summary() == "Plan: 3 to pull, 0 to create, 0 to load, 0 to delete."
    assert b.server("a").models == {LLAMA, CODER, EMBED, "gemma2:2b"}
    await b.clock.advance(30)
    assert b.cycles == 2


async def test_a_stream_of_edits_postpones_a_reconcile_at_most_ten_debounces(bench):
    b = bench({"a": [LLAMA]}, interval=60, debounce=0.3)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    for _ in range(15):  # an edit every 0.25 s for 3.75 s
        await b.edit("a.yaml", b.manifest("a", [LLAMA]))
        await b.clock.advance(0.25)
    assert b.cycles == 2
    assert b.record.last.trigger == "manifest-change"


async def test_triggers_during_a_reconcile_queue_exactly_one_more(bench):
    b = bench({"a": [LLAMA]}, interval=60, debounce=0.3)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    b.reconciler.hold_plan = asyncio.Event()
    await b.start()
    assert b.record.running == "startup"
    for _ in range(3):
        b.loop.request()
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(1.0)
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER, EMBED]))
    assert b.cycles == 1, "never two reconciles at once"
    b.reconciler.hold_plan.set()
    await b.clock.advance(0.0)
    await b.clock.advance(5.0)
    assert b.cycles == 2
    assert b.record.last.trigger == "manifest-change,manual"
    assert b.server("a").models == {LLAMA, CODER, EMBED}


async def test_the_interval_resyncs_with_a_jitter_that_only_shortens_it(bench):
    b = bench({"a": [LLAMA]}, interval=60, jitter=0.1)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    await b.clock.advance(53.9)
    assert b.cycles == 1
    await b.clock.advance(6.1)
    assert b.cycles == 2
    assert b.record.last.trigger == "interval"


async def test_without_an_interval_flag_the_fleet_manifest_sets_it(bench):
    b = bench({"a": [LLAMA]}, jitter=0, interval_from_manifests=True)
    fleet = "apiVersion: ollama-reconciler/v1\nkind: Fleet\nmetadata: {name: f}\n"
    b.write("fleet.yaml", fleet + "spec: {interval: 20s}\n")
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    await b.clock.advance(19.9)
    assert b.cycles == 1
    await b.clock.advance(0.1)
    assert b.cycles == 2
    assert b.record.last.trigger == "interval"


async def test_drift_made_by_hand_is_healed_at_the_next_interval(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    b.server("a").models.discard(CODER)  # `ollama rm` behind its back
    await b.clock.advance(10)
    assert b.server("a").models == {LLAMA, CODER}
    assert b.record.last.result is Result.APPLIED


async def test_an_unreachable_instance_backs_off_alone_and_is_healed_once_back(bench):
    b = bench({"a": [LLAMA], "b": [LLAMA]}, interval=8, jitter=0, backoff_base=1)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    b.write("b.yaml", b.manifest("b", [LLAMA, CODER]))
    b.server("b").reachable = False
    await b.start()
    assert b.reconciler.plans == [()]
    retries = []
    for delay in (1, 2, 4, 8, 8):  # doubling, capped at the interval
        before = len(b.reconciler.plans)
        await b.clock.advance(delay - 0.01)
        assert len(b.reconciler.plans) == before or b.reconciler.plans[-1] == ("a",)
        await b.clock.advance(0.01)
        retries.append(b.reconciler.plans[-1])
    assert retries == [("b",)] * 5
    # the others are not held up: interval and manual reconciles leave "b" out meanwhile
    b.loop.request()
    await b.clock.advance(0)
    assert b.reconciler.plans[-1] == ("a",)
    assert b.record.observed["b"].health == "Unreachable"
    b.server("b").reachable = True
    await b.clock.advance(8)
    assert CODER in b.server("b").models, "reconciled as soon as it answers again"
    assert b.record.observed["b"].health == "Healthy"
    b.loop.request()
    await b.clock.advance(0)
    assert b.reconciler.plans[-1] == (), "back in every reconcile"


async def test_an_unreachable_instance_makes_the_status_stalled_and_not_ready(bench):
    b = bench({"a": [LLAMA], "b": [LLAMA]}, interval=8)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    b.write("b.yaml", b.manifest("b", [LLAMA]))
    b.server("b").reachable = False
    await b.start()
    conditions = {c["type"]: c for c in b.record.document["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["reason"] == "InstanceUnhealthy"
    assert conditions["Stalled"]["reason"] == "InstanceUnreachable"
    assert "b: Unreachable" in conditions["Stalled"]["message"]


async def test_a_broken_edit_keeps_the_last_valid_state_until_fixed(bench):
    b = bench({"a": [LLAMA]}, interval=60)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    complete = b.manifest("a", [LLAMA, CODER], absent=[LLAMA.replace("3b", "1b")])
    # half-saved: the new model is there, the rest of the file is cut mid-string
    cut = complete.index(CODER) + len(CODER) + 1
    await b.edit("a.yaml", complete[:cut] + '\n    - name: "tiny')
    await b.clock.advance(0.3)
    assert b.cycles == 2
    assert b.reconciler.applied == []
    assert b.server("a").models == {LLAMA}
    manifests = b.record.document["manifests"]
    assert manifests["valid"] is False
    first = manifests["diagnostics"][0]
    assert first["file"].endswith("a.yaml")
    assert first["line"] == 10
    assert first["text"].startswith(f"{first['file']}:10:")
    ready, _, stalled = b.record.document["conditions"]
    assert (ready["status"], ready["reason"]) == ("False", "ManifestsInvalid")
    assert (stalled["status"], stalled["reason"]) == ("True", "ManifestsInvalid")
    assert "last valid manifests stay in force" in stalled["message"]
    # the interval keeps enforcing the last valid state meanwhile
    b.server("a").models.discard(LLAMA)
    await b.clock.advance(60)
    assert b.server("a").models == {LLAMA}
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(0.3)
    assert b.server("a").models == {LLAMA, CODER}
    assert b.record.document["manifests"] == {
        "valid": True,
        "paths": [str(b.folder)],
        "revision": None,
        "diagnostics": [],
    }


async def test_invalid_manifests_at_start_change_nothing(bench):
    b = bench({"a": [LLAMA]}, interval=60)
    b.write(
        "a.yaml", "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: a\n"
    )
    await b.start()
    assert b.record.last.result is Result.INVALID
    assert b.reconciler.plans == []
    await b.edit("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.clock.advance(0.3)
    assert b.server("a").models == {LLAMA, CODER}


async def test_a_plan_refused_by_a_guard_is_reported_and_never_applied(bench):
    b = bench({"a": [LLAMA, CODER]}, interval=60)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    await b.edit("a.yaml", b.manifest("a", absent=[LLAMA, CODER]))  # would empty "a"
    await b.clock.advance(0.3)
    assert b.record.last.result is Result.REFUSED
    assert "would leave a with no models" in b.record.last.message
    assert b.reconciler.applied == []
    assert b.server("a").models == {LLAMA, CODER}
    stalled = b.record.document["conditions"][2]
    assert (stalled["status"], stalled["reason"]) == ("True", "GuardRefused")


async def test_a_fleet_wide_max_deletions_guard_holds(bench):
    b = bench({"a": [LLAMA, CODER, EMBED, "gemma2:2b"]}, interval=60)
    fleet = "apiVersion: ollama-reconciler/v1\nkind: Fleet\nmetadata: {name: f}\nspec:\n"
    fleet += "  safety: {maxDeletions: 2}\n"
    b.write("fleet.yaml", fleet)
    b.write("a.yaml", b.manifest("a", [LLAMA]))
    await b.start()
    await b.edit("a.yaml", b.manifest("a", [LLAMA], absent=[CODER, EMBED, "gemma2:2b"]))
    await b.clock.advance(0.3)
    assert b.record.last.result is Result.REFUSED
    assert "maxDeletions" in b.record.last.message
    assert b.server("a").models == {LLAMA, CODER, EMBED, "gemma2:2b"}


async def test_plan_mode_reports_drift_and_changes_nothing(bench):
    b = bench({"a": [LLAMA]}, interval=60, mode=Mode.PLAN)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    assert b.record.last.result is Result.DRIFT
    assert b.record.last.message == "Plan: 1 to pull, 0 to create, 0 to load, 0 to delete."
    assert b.reconciler.applied == []
    assert b.server("a").models == {LLAMA}
    assert b.record.document["fleet"]["drift"] is True


async def test_apply_is_skipped_while_another_orc_holds_the_lock(bench):
    held = {"now": True}

    @contextlib.contextmanager
    def lock(made: object, desired: object) -> Iterator[None]:
        if held["now"]:
            raise RefusedError("the state directory .orc is locked by pid 42 (orc apply)")
        yield

    b = bench({"a": [LLAMA]}, interval=60, jitter=0, lock=lock)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    await b.start()
    assert b.record.last.result is Result.LOCKED
    assert "locked by pid 42" in b.record.last.message
    assert b.server("a").models == {LLAMA}
    held["now"] = False
    await b.clock.advance(60)
    assert b.record.last.result is Result.APPLIED
    assert b.server("a").models == {LLAMA, CODER}


async def test_stopping_cancels_the_apply_in_flight(bench):
    b = bench({"a": [LLAMA]}, interval=60)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    b.reconciler.hold_apply = asyncio.Event()
    await b.start()
    assert b.record.running == "startup"
    await b.stop()
    assert b.task.done() and b.task.exception() is None
    assert b.record.last.result is Result.INTERRUPTED
    assert b.record.alive is False
    assert b.server("a").models == {LLAMA}


async def test_a_failing_reconciler_does_not_stop_the_loop(bench):
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA, CODER]))
    original = b.reconciler.plan
    calls = {"n": 0}

    async def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return await original(*args, **kwargs)

    b.reconciler.plan = flaky
    await b.start()
    assert b.record.last.result is Result.ERROR
    assert b.record.last.message == "unexpected RuntimeError: boom"
    await b.clock.advance(10)
    assert b.record.last.result is Result.APPLIED


async def test_keep_loaded_models_are_loaded_again_after_a_restart(bench):
    b = bench({"a": [LLAMA]}, interval=10, jitter=0)
    b.write("a.yaml", b.manifest("a", [LLAMA], keep_loaded=[LLAMA]))
    await b.start()
    assert b.server("a").loaded == {LLAMA}
    b.server("a").loaded.clear()  # the server restarted: its runners are gone
    await b.clock.advance(10)
    assert b.server("a").loaded == {LLAMA}
    kinds = [a.kind for p in b.reconciler.applied for a in p.actions]
    assert kinds == [ActionKind.LOAD, ActionKind.LOAD]
