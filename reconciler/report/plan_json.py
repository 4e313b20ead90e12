"""The plan as versioned JSON (schemas/plan.v1.schema.json): what `orc plan --out` saves.

Read back with `Plan.from_dict(json.loads(text))`. Holds no secret: a plan never carries one.
"""

from __future__ import annotations

import json

from reconciler.plan import Plan


def render_plan_json(plan: Plan) -> str:
    """The plan as indented JSON text, ending with a newline."""
    return json.dumps(plan.to_dict(), indent=2, ensure_ascii=False) + "\n"
