"""The status as versioned JSON (schemas/status.v1.schema.json), for dashboards and CI."""

from __future__ import annotations

import json

from reconciler.report.status import Status


def render_status_json(status: Status, *, models: bool = True) -> str:
    """The status as indented JSON text, ending with a newline; `models` adds the model rows."""
    return json.dumps(status.to_dict(models=models), indent=2, ensure_ascii=False) + "\n"
