"""Renderers of plans and status: text, JSON, Markdown and HTML strings, no I/O of their own.

The CLI picks one, decides about colour (terminal, `--no-color`, `NO_COLOR`) and writes the
string; `orc watch` serves the same documents over HTTP.
"""

from __future__ import annotations

from reconciler.report.html import render_status_html
from reconciler.report.plan_json import render_plan_json
from reconciler.report.plan_markdown import render_plan_markdown
from reconciler.report.plan_text import render_plan_text
from reconciler.report.status import InstanceStatus, ModelStatus, Status, build_status
from reconciler.report.status_json import render_status_json
from reconciler.report.status_markdown import render_status_markdown
from reconciler.report.status_table import render_status_table

__all__ = [
    "InstanceStatus",
    "ModelStatus",
    "Status",
    "build_status",
    "render_plan_json",
    "render_plan_markdown",
    "render_plan_text",
    "render_status_html",
    "render_status_json",
    "render_status_markdown",
    "render_status_table",
]
