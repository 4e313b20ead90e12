"""The plan as Markdown for a pull-request comment: summary, a table, then a diff per instance.

The per-instance diffs are fenced `diff` blocks (GitHub colours `+` and `-` lines); a long plan
folds them into `<details>` so the comment stays short.
"""

from __future__ import annotations

from reconciler.plan import ActionKind, InstancePlan, Plan
from reconciler.report import markdown
from reconciler.report.plan_text import instance_lines

FOLD_AFTER_LINES = 20  # more diff lines than this, and each instance's diff is collapsed


def render_plan_markdown(plan: Plan) -> str:
    """The whole plan as a Markdown document."""
    parts = [f"### orc plan\n\n**{plan.summary()}**\n"]
    parts += [f"> **Refused ({r.guard})**: {r.message}\n" for r in plan.refusals]
    if plan.instances:
        rows = [_row(inst) for inst in plan.instances]
        headers = ["Instance", "URL", "Pull", "Create", "Load", "Delete", "Status"]
        parts.append(markdown.table(headers, rows, numeric=(2, 3, 4, 5)))
    parts += _diffs(plan)
    return "\n".join(parts)


def _row(inst: InstancePlan) -> list[str]:
    counts = [sum(1 for a in inst.actions if a.kind is kind) for kind in ActionKind]
    if not inst.enabled:
        return [f"`{inst.instance}`", inst.url, *["–"] * 4, "disabled"]
    if inst.blocked is not None:
        status = f"blocked ({inst.blocked.reason}): {inst.blocked.message}"
        return [f"`{inst.instance}`", inst.url, *["–"] * 4, status]
    status = _changes(inst) if inst.actions else "in sync"
    return [f"`{inst.instance}`", inst.url, *map(str, counts), status]


def _diffs(plan: Plan) -> list[str]:
    blocks = [
        (inst, [line for line, _ in instance_lines(inst, plan.created_at)])
        for inst in plan.instances
        if inst.enabled and inst.blocked is None and (inst.actions or inst.skipped)
    ]
    fold = sum(len(lines) for _, lines in blocks) > FOLD_AFTER_LINES
    parts = []
    for inst, lines in blocks:
        fence = "```diff\n" + "".join(f"{line}\n" for line in lines) + "```\n"
        if fold:
            summary = f"<code>{inst.instance}</code>: {_changes(inst)}"
            parts.append(markdown.details(summary, fence))
        else:
            parts.append(f"#### `{inst.instance}`\n\n{fence}")
    return parts


def _changes(inst: InstancePlan) -> str:
    n = len(inst.actions)
    held = sum(1 for a in inst.actions if a.held is not None)
    text = f"{n} change{'s' if n != 1 else ''}"
    return f"{text}, {held} held by sync windows" if held else text
