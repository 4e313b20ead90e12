"""A plan asks /api/ps only of instances that keep a model loaded; status always asks.

Skipping it must never invent a loaded state: the instance says its loaded state is unknown, is
not Degraded for it, and plans exactly as when /api/ps was asked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.observed import Health
from reconciler.plan import plan
from reconciler.reconcile import Reconciler

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _keep_loaded(world, name: str, model: str) -> None:
    manifest = world.folder / f"{name}.yaml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace(f'{{"name": "{model}"}}', f"{{name: {model}, keepLoaded: true}}")
    )


def _world(world):
    plain = world.instance("plain", models=["llama3.2:3b"], loaded=("llama3.2:3b",))
    kept = world.instance("kept", models=["llama3.2:3b", "smollm2:135m"], loaded=("smollm2:135m",))
    _keep_loaded(world, "kept", "llama3.2:3b")
    return plain, kept


async def test_a_plan_skips_ps_only_where_no_model_is_kept_loaded(world) -> None:
    plain, kept = _world(world)

    observed = await world.observe(loaded_where_planned=True)

    assert plain.state.count("/api/ps") == 0
    assert kept.state.count("/api/ps") == 1
    assert plain.state.count("/api/version") == plain.state.count("/api/tags") == 1
    unasked, asked = observed.instances["plain"], observed.instances["kept"]
    # not asked: unknown, never "not loaded" taken as a fact, and no failure either
    assert (unasked.health, unasked.message, unasked.loaded_known) == (Health.HEALTHY, "", False)
    assert not any(m.loaded for m in unasked.models)
    assert asked.loaded_known is True
    assert {m.name.display for m in asked.models if m.loaded} == {"smollm2:135m"}


async def test_the_plan_is_the_same_whether_or_not_ps_was_asked(world) -> None:
    _world(world)
    desired = world.desired()

    everything = await world.observe()
    world.forget_requests()
    needed = await world.observe(loaded_where_planned=True)

    full, lean = plan(desired, everything, now=NOW), plan(desired, needed, now=NOW)
    assert lean.to_dict() == full.to_dict()
    assert [a.kind.value for a in lean.actions] == ["load"]  # kept's llama3.2:3b


async def test_reconciler_plans_lean_and_status_observes_everything(world) -> None:
    plain, kept = _world(world)
    reconciler = Reconciler(client_factory=world.client, env={})

    await reconciler.plan(world.desired())
    assert (plain.state.count("/api/ps"), kept.state.count("/api/ps")) == (0, 1)

    observed = await reconciler.observe(world.desired())  # what `orc status` shows
    assert (plain.state.count("/api/ps"), kept.state.count("/api/ps")) == (1, 2)
    assert observed.instances["plain"].loaded_known is True
    assert [m.name.display for m in observed.instances["plain"].models if m.loaded] == [
        "llama3.2:3b"
    ]
