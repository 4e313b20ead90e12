"""The plan as a readable diff, grouped by instance, deletions last and red.

gpu-1 (https://gpu-1.example.com)
  + pull llama3.2:3b (declared, not installed)
  ~ create coder:latest from qwen2.5-coder:7b (custom model, not installed)
  * load llama3.2:3b (keepLoaded, not loaded)
  - delete old-model:7b (state: absent) (held by sync window "business-hours" until 18:00 UTC)
Plan: 1 to pull, 1 to create, 1 to load, 1 to delete.
"""

from __future__ import annotations

from datetime import datetime

from reconciler.plan import Action, ActionKind, InstancePlan, Plan
from reconciler.report import style, units


def file_label(action: Action) -> str:
    """`./weights/x.gguf, sha256:720b397267dd…`: the file as written and its short digest."""
    digest = action.file_digest or ""
    short = f"{digest[:19]}…" if len(digest) > 19 else digest
    return f"{action.file_source or action.file}, {short}"


def action_line(action: Action, reference: datetime | None = None) -> str:
    """One action without colour: symbol, verb, model, what it is built from, and why; and
    the sync window that holds it back, if any (its end dated unless on `reference`'s day)."""
    text = f"{style.ACTION_SYMBOLS[action.kind]} {action.kind} {action.model.display}"
    if action.from_ is not None:
        text += f" from {action.from_.display}"
    if action.kind is ActionKind.LOAD and action.embedding:
        text += " via /api/embed"
    details = [units.size(action.size)] if action.size else []
    if action.file is not None:
        details.insert(0, f"from {file_label(action)}")
    text = f"{text} ({'; '.join([*details, action.reason])})"
    if action.held is not None:
        text += f" ({action.held.describe(reference)})"
    return text


def instance_lines(inst: InstancePlan, reference: datetime | None = None) -> list[tuple[str, str]]:
    """The lines under an instance's header, each with its style name ('' for none)."""
    if not inst.enabled:
        return [("disabled: observed and reported, never changed", style.NOTE_STYLE)]
    if inst.blocked is not None:
        message = f"! blocked: {inst.blocked.message} ({inst.blocked.reason})"
        return [(message, style.BLOCKED_STYLE)]
    lines = [
        (action_line(a, reference), style.HELD_STYLE if a.held else style.ACTION_STYLES[a.kind])
        for a in inst.actions
    ]
    lines += [(f"= keep {s.model.display} ({s.reason})", style.NOTE_STYLE) for s in inst.skipped]
    return lines


def render_plan_text(plan: Plan, *, color: bool = False) -> str:
    """The whole plan as text, ending with the summary line; ANSI colours only when asked."""
    pieces: list[tuple[str, str]] = []
    in_sync = []
    for inst in plan.instances:
        lines = instance_lines(inst, plan.created_at)
        if not lines:
            in_sync.append(inst.instance)
            continue
        pieces.append((f"{inst.instance} ({inst.url})\n", style.HEADER_STYLE))
        pieces += [(f"  {line}\n", line_style) for line, line_style in lines]
    if in_sync:
        pieces.append((f"No changes on {', '.join(in_sync)}.\n", style.NOTE_STYLE))
    if plan.instances:
        pieces.append(("\n", ""))
    pieces += [(f"Warning: {warning}\n", style.ERROR_STYLE) for warning in plan.warnings]
    pieces += [
        (f"Error: refused ({r.guard}): {r.message}\n", style.ERROR_STYLE) for r in plan.refusals
    ]
    pieces.append((plan.summary(), style.HEADER_STYLE))
    return style.styled_text(pieces, color=color)
