"""A gateway that does not pass /api/ps on: the instance is Degraded, and keepLoaded does not
turn into a load on every plan (whether the model is loaded is unknown, not "no")."""

from __future__ import annotations

from reconciler.observed import Health
from reconciler.plan import plan


async def test_a_failing_ps_degrades_the_instance_and_holds_back_loads(world) -> None:
    server = world.instance("gw", models=["llama3.2:3b"], loaded=("llama3.2:3b",))
    manifest = world.folder / "gw.yaml"
    manifest.write_text(
        manifest.read_text().replace(
            '{"name": "llama3.2:3b"}', "{name: llama3.2:3b, keepLoaded: true}"
        )
    )
    server.faults.fail_next(5, status=404, message="page not found", path="/api/ps")

    observed = await world.observe()

    gw = observed.instances["gw"]
    assert gw.health is Health.DEGRADED
    assert gw.loaded_known is False
    assert "ps" in gw.message
    made = plan(world.desired(), observed)
    assert made.actions == ()
    (skip,) = made.instances[0].skipped
    assert skip.model.display == "llama3.2:3b"
    assert "/api/ps failed" in skip.reason
