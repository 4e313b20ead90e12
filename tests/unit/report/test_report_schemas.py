"""The JSON documents validate against their published schemas beyond the golden fleet.

A refused plan with every kind of action, blocked and disabled instances; a status without models.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

import jsonschema
import pytest

from reconciler.desired import DesiredFleet, Safety
from reconciler.observed import ObservedFleet
from reconciler.plan import ActionKind, Plan, plan
from reconciler.report import build_status, render_plan_json, render_status_json

Validate = Callable[[str, Any], None]


@pytest.fixture
def refused_plan(desired: DesiredFleet, observed: ObservedFleet, now: datetime) -> Plan:
    strict = replace(desired, safety=Safety(max_deletions=1))
    gpu = observed.instances["gpu-1"]
    without_base = replace(gpu, models=tuple(m for m in gpu.models if "qwen" not in m.name.model))
    pulled = next(
        m.name
        for i in strict.instances
        for m in i.models
        if not m.is_custom
        and m.state == "present"
        and any(o.model(m.name) for o in observed.instances.values())
    )
    return plan(
        strict,
        ObservedFleet({**observed.instances, "gpu-1": without_base}),
        now=now,
        upstream={pulled: "0" * 64},  # the registry has a newer build of one installed model
        check_updates=True,
    )


def test_a_refused_plan_with_every_kind_validates(refused_plan: Plan, validate: Validate) -> None:
    assert refused_plan.refused
    assert all(refused_plan.counts[kind] for kind in ActionKind)
    validate("plan.v1.schema.json", json.loads(render_plan_json(refused_plan)))


def test_the_plan_schema_rejects_what_apply_could_not_use(
    refused_plan: Plan, validate: Validate
) -> None:
    document = json.loads(render_plan_json(refused_plan))
    create = next(a for i in document["instances"] for a in i["actions"] if a["kind"] == "create")
    del create["from"]
    with pytest.raises(jsonschema.ValidationError, match="'from' is a required property"):
        validate("plan.v1.schema.json", document)


def test_a_status_without_models_validates(
    desired: DesiredFleet, observed: ObservedFleet, now: datetime, validate: Validate
) -> None:
    status = build_status(desired, observed, now)
    validate("status.v1.schema.json", json.loads(render_status_json(status, models=False)))
