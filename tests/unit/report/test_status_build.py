"""`build_status`: health, sync, counts and model rows of the realistic fleet, and the verdicts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

from reconciler import desired as desired_module
from reconciler.desired import DesiredFleet
from reconciler.observed import Health, ObservedFleet, Sync
from reconciler.report import build_status, render_status_json


def keep(
    desired: DesiredFleet, observed: ObservedFleet, *names: str
) -> tuple[DesiredFleet, ObservedFleet]:
    """The fleets restricted to some instances."""
    return (
        replace(desired, instances=tuple(i for i in desired.instances if i.name in names)),
        ObservedFleet({n: i for n, i in observed.instances.items() if n in names}),
    )


def test_every_instance_gets_health_sync_and_counts(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    status = build_status(desired, observed, now)
    rows = [
        (
            i.name,
            i.health,
            i.sync,
            i.changes,
            i.models_installed,
            i.models_declared,
            i.models_present,
        )
        for i in status.instances
    ]
    assert rows == [
        ("cloud-1", Health.HEALTHY, Sync.SYNCED, 0, 2, 2, 2),
        ("dev-box", Health.UNREACHABLE, Sync.UNKNOWN, 0, None, 1, None),
        ("gpu-1", Health.HEALTHY, Sync.OUT_OF_SYNC, 6, 6, 4, 3),
        ("workstation", Health.DISABLED, Sync.OUT_OF_SYNC, 1, 1, 2, 1),
    ]
    assert status.health is Health.UNREACHABLE
    assert status.drift
    assert not status.ok
    assert status.generated_at == now


def test_model_rows_say_what_is_declared(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    status = build_status(desired, observed, now)
    rows = {(m.instance, m.model.display): (m.declared, m.embedding) for m in status.models}
    assert rows == {
        ("cloud-1", "llama3.2:3b"): ("present", False),
        ("cloud-1", "nomic-embed-text:latest"): ("present", True),
        ("gpu-1", "coder:latest"): ("present", False),
        ("gpu-1", "llama3.2:3b"): ("present", False),
        ("gpu-1", "llama3:8b"): ("absent", False),
        ("gpu-1", "mistral:7b"): (None, False),
        ("gpu-1", "old-model:7b"): ("absent", False),
        ("gpu-1", "qwen2.5-coder:7b"): ("present", False),
        ("workstation", "llama3.2:3b"): ("present", False),
    }
    assert {len(m.digest) for m in status.models} == {12}


def test_disabled_drift_does_not_count(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    status = build_status(*keep(desired, observed, "cloud-1", "workstation"), now)
    assert [i.sync for i in status.instances] == [Sync.SYNCED, Sync.OUT_OF_SYNC]
    assert not status.drift
    assert status.ok


def test_a_degraded_instance_in_sync_is_not_ok(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime
) -> None:
    small_desired, small_observed = keep(desired, observed, "cloud-1")
    cloud = replace(small_observed.instances["cloud-1"], health=Health.DEGRADED)
    status = build_status(small_desired, ObservedFleet({"cloud-1": cloud}), now)
    assert not status.drift
    assert not status.ok
    assert status.health is Health.DEGRADED


def test_json_without_models(desired: DesiredFleet, observed: ObservedFleet, now: datetime) -> None:
    document = json.loads(render_status_json(build_status(desired, observed, now), models=False))
    assert "models" not in document
    assert document["fleet"] == {
        "name": "prod",
        "health": "Unreachable",
        "drift": True,
        "ok": False,
    }


def test_the_status_of_an_enabled_fleet_plans_it_as_it_is(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, monkeypatch
) -> None:
    """Watch builds a status after every round: a fleet whose instances are all enabled is
    planned as it is, so its digest, known from the round's plan, is not worked out again."""
    enabled, seen = keep(desired, observed, "cloud-1", "gpu-1")
    enabled.digest()
    written: list[object] = []
    original = desired_module._DigestText.text

    def counting(self, value):  # type: ignore[no-untyped-def]
        written.append(value)
        return original(self, value)

    monkeypatch.setattr(desired_module._DigestText, "text", counting)
    status = build_status(enabled, seen, now)
    assert [i.name for i in status.instances] == ["cloud-1", "gpu-1"]
    assert written == []
    with_disabled = build_status(desired, observed, now)  # planned as if every one were enabled
    assert {i.name: i.sync for i in with_disabled.instances}["workstation"] is Sync.OUT_OF_SYNC
