"""The plan as Markdown for a pull-request comment: summary, a table, then a diff per instance.

The per-instance diffs are fenced `diff` blocks (GitHub colours `+` and `-` lines); a long plan
folds them into `<details>` so the comment stays short.
"""

from __future__ import annotations

from reconciler.plan import ActionKind, InstancePlan, Plan
from reconciler.plan.document import BASE_KINDS
from reconciler.report import markdown
from reconciler.report.plan_text import instance_lines

FOLD_AFTER_LINES = 20  # more diff lines than this, and each instance's diff is collapsed


def render_plan_markdown(plan: Plan) -> str:
    """The whole plan as a Markdown document."""
    parts = [f"### orc plan\n\n**{plan.summary()}**\n"]
    parts += [f"> **Refused ({r.guard})**: {r.message}\n" for r in plan.refusals]
    parts += [f"> **Warning**: {warning}\n" for warning in plan.warnings]
    if plan.instances:
        kinds = _kinds(plan)
        rows = [_row(inst, kinds) for inst in plan.instances]
        headers = ["Instance", "URL", *(kind.capitalize() for kind in kinds), "Status"]
        parts.append(markdown.table(headers, rows, numeric=tuple(range(2, 2 + len(kinds)))))
    parts += _diffs(plan)
    return "\n".join(parts)


def _kinds(plan: Plan) -> tuple[ActionKind, ...]:
    """The table's columns: the four base kinds, and `update` when the plan has one."""
    updates = any(a.kind is ActionKind.UPDATE for a in plan.actions)
    return (*BASE_KINDS, ActionKind.UPDATE) if updates else BASE_KINDS


def _row(inst: InstancePlan, kinds: tuple[ActionKind, ...]) -> list[str]:
    counts = [sum(1 for a in inst.actions if a.kind is kind) for kind in kinds]
    if not inst.enabled:
        return [f"`{inst.instance}`", inst.url, *["–"] * len(kinds), "disabled"]
    if inst.blocked is not None:
        status = f"blocked ({inst.blocked.reason}): {inst.blocked.message}"
        return [f"`{inst.instance}`", inst.url, *["–"] * len(kinds), status]
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
