"""Reconciler.apply in process: outcomes, order, retries, dependencies, history, verification."""

from __future__ import annotations

import asyncio

import pytest

from reconciler.apply import (
    ActionFinished,
    ActionProgress,
    ActionRetry,
    ActionStarted,
    Outcome,
    RetryPolicy,
)
from reconciler.errors import ExitCode, RefusedError
from reconciler.plan import ActionKind

SMALL = "all-minilm:latest"


async def plan_and_apply(rig, **apply_settings):
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    result = await reconciler.apply(made, desired, on_event=rig.record, **apply_settings)
    return reconciler, desired, made, result


async def test_apply_converges_and_verify_finds_nothing_left(rig):
    ws = rig.declare(
        "ws",
        [
            {"name": "llama3.2:3b", "keepLoaded": True},
            {"name": "tinyllama", "state": "absent"},
            {"name": "reviewer", "from": "qwen2.5-coder:1.5b", "parameters": {"num_ctx": 8192}},
        ],
        installed=("llama3.2:3b", "tinyllama"),
    )
    gw = rig.declare("gw", [SMALL, "smollm2:135m"])

    reconciler, desired, made, result = await plan_and_apply(rig)

    assert result.exit_code is ExitCode.OK
    assert [r.outcome for r in result.results] == [Outcome.DONE] * len(made.actions)
    assert result.summary() == "Apply complete: 3 pulled, 1 created, 1 loaded, 1 deleted."
    assert set(ws.state.models) == {"llama3.2:3b", "qwen2.5-coder:1.5b", "reviewer:latest"}
    assert set(ws.state.loaded) == {"llama3.2:3b"}
    assert set(gw.state.models) == {SMALL, "smollm2:135m"}
    again = await reconciler.verify(desired, result)
    assert not again.has_changes
    assert not again.blocked


async def test_each_instance_runs_its_actions_one_at_a_time_in_plan_order(rig):
    rig.declare(
        "ws",
        [
            SMALL,
            "smollm2:135m",
            {"name": "llama3.2:3b", "keepLoaded": True},
            {"name": "tinyllama", "state": "absent"},
        ],
        installed=("llama3.2:3b", "tinyllama"),
        pull_speed=2e9,
    )

    _, _, made, result = await plan_and_apply(rig)

    timeline = [
        (type(e).__name__, e.action.id if not isinstance(e, ActionFinished) else e.result.action.id)
        for e in rig.events
        if isinstance(e, ActionStarted | ActionFinished)
    ]
    expected = []
    for action in made.actions:
        expected += [("ActionStarted", action.id), ("ActionFinished", action.id)]
    assert timeline == expected
    kinds = [r.action.kind for r in result.results]
    assert kinds == [ActionKind.PULL, ActionKind.PULL, ActionKind.LOAD, ActionKind.DELETE]


async def test_instances_are_worked_on_in_parallel_up_to_the_limit(rig):
    for index in range(5):
        rig.declare(f"i{index}", [SMALL], pull_speed=0.5e9)  # about 0.1 s per pull

    assert await _peak_instances(rig, parallelism=2) == 2


async def _peak_instances(rig, parallelism: int | None = None, **settings) -> int:
    """How many instances one apply worked on at once (from its events); `parallelism` is
    given to the apply, `settings` to the Reconciler."""
    active: set[str] = set()
    peak = 0

    def track(event):
        nonlocal peak
        if isinstance(event, ActionStarted):
            active.add(event.action.instance)
            peak = max(peak, len(active))
        elif isinstance(event, ActionFinished):
            active.discard(event.result.action.instance)

    reconciler = rig.reconciler(**settings)
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    result = await reconciler.apply(made, desired, parallelism=parallelism, on_event=track)
    assert result.exit_code is ExitCode.OK
    return peak


async def test_by_default_every_instance_is_worked_on_at_once(rig):
    # pulls run on the servers: more instances than the old default of 10, all at once
    for index in range(12):
        rig.declare(f"i{index}", [SMALL], pull_speed=0.5e9)

    assert await _peak_instances(rig) == 12


async def test_by_default_instances_at_once_are_bounded_by_requests_in_flight(rig):
    for index in range(6):
        rig.declare(f"i{index}", [SMALL], pull_speed=0.5e9)

    assert await _peak_instances(rig, max_in_flight=4) == 4


async def test_the_fleets_parallelism_caps_instances_at_once(rig):
    for index in range(6):
        rig.declare(f"i{index}", [SMALL], pull_speed=0.5e9)
    rig.fleet_settings(parallelism=3)

    assert await _peak_instances(rig) == 3


async def test_pull_progress_reports_bytes_of_the_model(rig):
    rig.declare("ws", [SMALL], pull_speed=1e9)

    _, _, _, result = await plan_and_apply(rig)

    progress = [e for e in rig.events if isinstance(e, ActionProgress)]
    assert progress
    assert progress[-1].completed == progress[-1].total > 0
    completed = [p.completed for p in progress if p.total == progress[-1].total]
    assert completed == sorted(completed), "progress never goes backwards within a layer set"
    assert result.results[0].outcome is Outcome.DONE


async def test_transient_errors_are_retried_with_backoff(rig):
    ws = rig.declare("ws", [SMALL])
    ws.faults.fail_next(2, status=500, message="upstream hiccup", path="/api/pull")

    _, _, _, result = await plan_and_apply(rig)

    (only,) = result.results
    assert only.outcome is Outcome.DONE
    assert only.attempts == 3
    retries = [e for e in rig.events if isinstance(e, ActionRetry)]
    assert [r.attempt for r in retries] == [1, 2]
    assert [r.delay for r in retries] == [0.01, 0.02]
    assert "upstream hiccup" in retries[0].error
    assert SMALL in ws.state.models


async def test_retries_are_bounded_in_attempts(rig):
    ws = rig.declare("ws", [SMALL])
    ws.faults.fail_next(10, status=500, message="still broken", path="/api/pull")

    _, _, _, result = await plan_and_apply(rig)

    (only,) = result.results
    assert only.outcome is Outcome.FAILED
    assert only.attempts == 4
    assert only.error is not None
    assert only.error.endswith("(after 4 attempts)")
    assert ws.state.count("/api/pull") == 4
    assert result.exit_code is ExitCode.ERROR, "nothing could be done"


async def test_retries_are_bounded_in_total_time(rig):
    ws = rig.declare("ws", [SMALL])
    ws.faults.fail_next(10, status=503, message="busy", path="/api/pull")
    patient = RetryPolicy(attempts=10, base_delay=0.05, factor=1.0, jitter=0.0, max_total=0.12)
    now = [0.0]  # a fake clock: only the waits between attempts move it, however slow the machine

    async def wait(seconds: float) -> None:
        now[0] += seconds

    reconciler = rig.reconciler(retry=patient, sleep=wait, clock=lambda: now[0])
    desired = rig.desired()
    _, made = await reconciler.plan(desired)

    result = await reconciler.apply(made, desired)

    (only,) = result.results
    assert only.outcome is Outcome.FAILED
    assert only.attempts == 3
    assert ws.state.count("/api/pull") == 3


async def test_a_connection_dropped_mid_pull_is_retried_in_process_too(rig):
    ws = rig.declare("ws", [SMALL], pull_speed=2e9)
    ws.faults.drop_pull_after(10_000_000)

    _, _, _, result = await plan_and_apply(rig)

    (only,) = result.results
    assert only.outcome is Outcome.DONE
    assert only.attempts == 2
    assert SMALL in ws.state.models


async def test_permanent_errors_are_not_retried_and_the_rest_goes_on(rig):
    ws = rig.declare("ws", ["no-such-model:1b", SMALL])
    gw = rig.declare("gw", ["smollm2:135m"])

    _, _, _, result = await plan_and_apply(rig)

    outcomes = {r.action.id: (r.outcome, r.attempts) for r in result.results}
    assert outcomes == {
        "ws/pull/no-such-model:1b": (Outcome.FAILED, 1),
        f"ws/pull/{SMALL}": (Outcome.DONE, 1),
        "gw/pull/smollm2:135m": (Outcome.DONE, 1),
    }
    assert ws.state.endpoint_count("pull") == 2
    assert not [e for e in rig.events if isinstance(e, ActionRetry)]
    assert result.exit_code is ExitCode.PARTIAL
    assert set(gw.state.models) == {"smollm2:135m"}


async def test_a_failed_pull_skips_what_builds_on_it_and_the_deletions(rig):
    ws = rig.declare(
        "ws",
        [
            "smollm2:135m",
            {"name": "reviewer", "from": "qwen2.5-coder:1.5b", "system": "x"},
            {"name": "tinyllama", "state": "absent"},
        ],
        installed=("tinyllama",),
    )
    ws.registry.remove("qwen2.5-coder:1.5b")

    _, _, _, result = await plan_and_apply(rig)

    outcomes = {r.action.id: r.outcome for r in result.results}
    assert outcomes == {
        "ws/pull/qwen2.5-coder:1.5b": Outcome.FAILED,
        "ws/pull/smollm2:135m": Outcome.DONE,
        "ws/create/reviewer:latest": Outcome.SKIPPED,
        "ws/delete/tinyllama:latest": Outcome.SKIPPED,
    }
    assert "tinyllama:latest" in ws.state.models
    assert ws.state.endpoint_count("create") == ws.state.endpoint_count("delete") == 0
    assert result.summary() == (
        "Apply complete: 1 pulled, 0 created, 0 loaded, 0 deleted, 1 failed, 2 skipped."
    )


async def test_a_pull_slower_than_pull_timeout_fails_without_retry(rig):
    ws = rig.declare("ws", [SMALL], pull_speed=20e6, spec={"pullTimeout": "0.3s"})

    _, _, _, result = await plan_and_apply(rig)

    (only,) = result.results
    assert only.outcome is Outcome.FAILED
    assert only.attempts == 1
    assert "pullTimeout" in (only.error or "")
    assert SMALL not in ws.state.models


async def test_history_holds_each_action_and_outcome(rig):
    rig.declare("ws", ["no-such-model:1b", SMALL])

    reconciler, _, _, _ = await plan_and_apply(rig)

    assert reconciler.state is not None
    rows = {
        (r.instance, r.kind, r.model, r.outcome, r.attempts) for r in reconciler.state.history()
    }
    assert rows == {
        ("ws", "pull", "no-such-model:1b", "failed", 1),
        ("ws", "pull", SMALL, "done", 1),
    }


async def test_a_refused_plan_is_never_applied(rig):
    ws = rig.declare(
        "ws",
        [{"name": "tinyllama", "state": "absent"}, {"name": SMALL, "state": "absent"}],
        installed=("tinyllama", SMALL),
    )
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)

    with pytest.raises(RefusedError, match="allowEmpty"):
        await reconciler.apply(made, desired)

    assert set(ws.state.models) == {"tinyllama:latest", SMALL}
    assert ws.state.endpoint_count("delete") == 0


async def test_cancelling_the_apply_stops_in_flight_pulls_and_reports_them(rig):
    ws = rig.declare("ws", [SMALL, "tinyllama"], pull_speed=0.1e9)
    gw = rig.declare("gw", ["smollm2:135m"], pull_speed=2e9)
    reconciler = rig.reconciler()
    desired = rig.desired()
    _, made = await reconciler.plan(desired)
    started = asyncio.Event()

    def on_event(event):
        rig.record(event)
        if isinstance(event, ActionStarted) and event.action.model.display == "tinyllama:latest":
            started.set()

    task = asyncio.create_task(reconciler.apply(made, desired, on_event=on_event))
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    result = await task

    assert result.interrupted
    assert result.exit_code is ExitCode.INTERRUPTED
    outcomes = {r.action.id: r.outcome for r in result.results}
    assert outcomes == {
        f"ws/pull/{SMALL}": Outcome.DONE,
        "ws/pull/tinyllama:latest": Outcome.CANCELLED,
        "gw/pull/smollm2:135m": Outcome.DONE,
    }
    assert set(ws.state.models) == {SMALL}
    assert set(gw.state.models) == {"smollm2:135m"}
    assert result.summary().startswith("Apply interrupted: 2 pulled")
    assert reconciler.state is not None
    assert {r.outcome for r in reconciler.state.history()} == {"done", "cancelled"}
