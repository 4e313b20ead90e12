"""No secret reaches any output: plans (shown or saved) and status, in every format."""

from __future__ import annotations

from datetime import datetime

from reconciler.desired import DesiredFleet, SecretRef
from reconciler.observed import ObservedFleet
from reconciler.plan import plan
from reconciler.report import (
    build_status,
    render_plan_json,
    render_plan_markdown,
    render_plan_text,
    render_status_json,
    render_status_markdown,
    render_status_table,
)


def test_inline_secrets_never_appear_in_any_output(
    desired: DesiredFleet,
    observed: ObservedFleet,
    now: datetime,
    secret_values: tuple[str, ...],
) -> None:
    gpu = desired.instance("gpu-1")
    assert gpu is not None
    header = gpu.headers["X-API-Key"]
    assert isinstance(header, SecretRef)
    assert gpu.bearer_token is not None
    assert {gpu.bearer_token.value, header.value} == set(secret_values)

    result = plan(desired, observed, now=now)
    status = build_status(desired, observed, now)
    outputs = {
        "plan text": render_plan_text(result, color=True),
        "plan json": render_plan_json(result),
        "plan markdown": render_plan_markdown(result),
        "plan repr": repr(result),
        "status table": render_status_table(status, models=True, color=True),
        "status json": render_status_json(status),
        "status markdown": render_status_markdown(status, models=True),
        "status repr": repr(status),
    }
    for name, text in outputs.items():
        for secret in secret_values:
            assert secret not in text, f"{name} leaks a secret"
